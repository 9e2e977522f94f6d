// mul: a * b with numpy broadcasting, on f32, i32 and i64.
// Gradient: grad * other input, summed back to each input's shape.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/mul.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct MulFn : StoreSame {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const { return hn::Mul(a, b); }
};
template <typename T>
void MulLoop(const T* a, const T* b, T* out, size_t n, int mode) {
  BinaryLoop(MulFn(), a, b, out, n, mode);
}
void MulF32(const float* a, const float* b, float* o, size_t n, int m) { MulLoop(a, b, o, n, m); }
void MulI32(const int32_t* a, const int32_t* b, int32_t* o, size_t n, int m) { MulLoop(a, b, o, n, m); }
void MulI64(const int64_t* a, const int64_t* b, int64_t* o, size_t n, int m) { MulLoop(a, b, o, n, m); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(MulF32);
HWY_EXPORT(MulI32);
HWY_EXPORT(MulI64);

const OpDef kMulOp = {
    .name = "mul",
    .arity = 2,
    .fusion = FusionKind::kElementwise,
    .infer = InferBinaryNumeric,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      std::vector<Tensor> grads(2);
      for (int i = 0; i < 2; ++i) {
        if (g.needs_grad[i]) {
          grads[i] = ReduceToShape(Mul(g.output_grad, g.inputs[1 - i]), g.inputs[i].shape());
        }
      }
      return grads;
    },
    .interp = [](const KernelContext& ctx) {
      return RunBinary(ctx, {HWY_DYNAMIC_DISPATCH(MulF32), HWY_DYNAMIC_DISPATCH(MulI32),
                             HWY_DYNAMIC_DISPATCH(MulI64)});
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return BinaryArith(c, llvm::Instruction::FMul, llvm::Instruction::Mul);
    }, kContract>,
    .reference = BinaryReference<+[](double a, double b) { return a * b; }>,
    .tests = [] { return BinaryTests(-3, 3, {DType::kI32, DType::kI64}); },
};

Tensor Mul(const Tensor& a, const Tensor& b, SourceLoc loc) {
  return Apply(kMulOp, {a, b}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
