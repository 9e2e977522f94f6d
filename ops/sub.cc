// sub: a - b with numpy broadcasting, on f32, i32 and i64.
// Gradient: grad for a and -grad for b, summed back to their shapes.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/sub.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct SubFn : StoreSame {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const { return hn::Sub(a, b); }
};
template <typename T>
void SubLoop(const T* a, const T* b, T* out, size_t n, int mode) {
  BinaryLoop(SubFn(), a, b, out, n, mode);
}
void SubF32(const float* a, const float* b, float* o, size_t n, int m) { SubLoop(a, b, o, n, m); }
void SubI32(const int32_t* a, const int32_t* b, int32_t* o, size_t n, int m) { SubLoop(a, b, o, n, m); }
void SubI64(const int64_t* a, const int64_t* b, int64_t* o, size_t n, int m) { SubLoop(a, b, o, n, m); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(SubF32);
HWY_EXPORT(SubI32);
HWY_EXPORT(SubI64);

const OpDef kSubOp = {
    .name = "sub",
    .arity = 2,
    .fusion = FusionKind::kElementwise,
    .infer = InferBinaryNumeric,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      std::vector<Tensor> grads(2);
      for (int i = 0; i < 2; ++i) {
        if (g.needs_grad[i]) {
          grads[i] = ReduceToShape(i == 0 ? g.output_grad : Neg(g.output_grad),
                                   g.inputs[i].shape());
        }
      }
      return grads;
    },
    .interp = [](const KernelContext& ctx) {
      return RunBinary(ctx, {HWY_DYNAMIC_DISPATCH(SubF32), HWY_DYNAMIC_DISPATCH(SubI32),
                             HWY_DYNAMIC_DISPATCH(SubI64)});
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return BinaryArith(c, llvm::Instruction::FSub, llvm::Instruction::Sub);
    }, kContract>,
    .reference = BinaryReference<+[](double a, double b) { return a - b; }>,
    .tests = [] { return BinaryTests(-3, 3, {DType::kI32, DType::kI64}); },
};

Tensor Sub(const Tensor& a, const Tensor& b, SourceLoc loc) {
  return Apply(kSubOp, {a, b}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
