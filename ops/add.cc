// add: a + b with numpy broadcasting, on f32, i32 and i64.
// Gradient: the output gradient, summed back to each input's shape.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/add.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct AddFn : StoreSame {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const { return hn::Add(a, b); }
};
template <typename T>
void AddLoop(const T* a, const T* b, T* out, size_t n, int mode) {
  BinaryLoop(AddFn(), a, b, out, n, mode);
}
void AddF32(const float* a, const float* b, float* o, size_t n, int m) { AddLoop(a, b, o, n, m); }
void AddI32(const int32_t* a, const int32_t* b, int32_t* o, size_t n, int m) { AddLoop(a, b, o, n, m); }
void AddI64(const int64_t* a, const int64_t* b, int64_t* o, size_t n, int m) { AddLoop(a, b, o, n, m); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(AddF32);
HWY_EXPORT(AddI32);
HWY_EXPORT(AddI64);

const OpDef kAddOp = {
    .name = "add",
    .arity = 2,
    .fusion = FusionKind::kElementwise,
    .infer = InferBinaryNumeric,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      std::vector<Tensor> grads(2);
      for (int i = 0; i < 2; ++i) {
        if (g.needs_grad[i]) grads[i] = ReduceToShape(g.output_grad, g.inputs[i].shape());
      }
      return grads;
    },
    .interp = [](const KernelContext& ctx) {
      return RunBinary(ctx, {HWY_DYNAMIC_DISPATCH(AddF32), HWY_DYNAMIC_DISPATCH(AddI32),
                             HWY_DYNAMIC_DISPATCH(AddI64)});
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return BinaryArith(c, llvm::Instruction::FAdd, llvm::Instruction::Add);
    }, kContract>,
    .reference = BinaryReference<+[](double a, double b) { return a + b; }>,
    .tests = [] { return BinaryTests(-3, 3, {DType::kI32, DType::kI64}); },
};

Tensor Add(const Tensor& a, const Tensor& b, SourceLoc loc) {
  return Apply(kAddOp, {a, b}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
