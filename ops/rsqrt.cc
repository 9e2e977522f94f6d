// rsqrt: 1 / sqrt(x), elementwise on f32 (a division of a correctly rounded
// square root, within 1 ulp; inf at 0, NaN below 0).
// Gradient: -0.5 * grad * y / x, reusing the output y.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/rsqrt.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct RsqrtFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const { return hn::Div(hn::Set(d, 1.0f), hn::Sqrt(x)); }
};
void RsqrtF32(const float* x, float* y, size_t n) { UnaryLoop(RsqrtFn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(RsqrtF32);

const OpDef kRsqrtOp = {
    .name = "rsqrt",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Tensor& y = g.output;  // -0.5 * grad * y / x (= -0.5 * grad * y^3)
      return {Mul(Mul(g.output_grad, y), Div(ScalarLike(y, -0.5), g.inputs[0]))};
    },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(RsqrtF32));
    },
    // A division, not the approximate reciprocal square root instruction.
    .lower = LowerElement<+[](LoweringContext& c) {
      llvm::Value* root = c.builder.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, c.operands[0]);
      return c.builder.CreateFDiv(SplatLike(c, c.result_type, 1.0), root);
    }>,
    .reference = UnaryReference<+[](double x) { return 1.0 / std::sqrt(x); }>,
    .tests = [] { return UnaryFloatTests(0.1, 4); },
};

Tensor Rsqrt(const Tensor& x, SourceLoc loc) { return Apply(kRsqrtOp, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
