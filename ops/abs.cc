// abs: |x|, elementwise on f32.
// Gradient: grad * sign(x) (0 at x == 0, the subgradient numpy and TF use).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/abs.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct AbsFn {
  template <class D, class V>
  HWY_INLINE V operator()(D, V x) const { return hn::Abs(x); }
};
void AbsF32(const float* x, float* y, size_t n) { UnaryLoop(AbsFn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(AbsF32);

const OpDef kAbsOp = {
    .name = "abs",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      return {Mul(g.output_grad, Sign(g.inputs[0]))};
    },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(AbsF32));
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return c.builder.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, c.operands[0]);
    }>,
    .reference = UnaryReference<+[](double x) { return std::fabs(x); }>,
    // Away from the kink at 0.
    .tests = [] { return UnaryFloatTests(-3, 3, /*avoid_integers=*/true); },
};

Tensor Abs(const Tensor& x, SourceLoc loc) { return Apply(kAbsOp, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
