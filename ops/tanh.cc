// tanh: the hyperbolic tangent, elementwise on f32.
// Gradient: grad * (1 - y^2), reusing the output y.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/tanh.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct TanhFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const { return hn::Tanh(d, x); }
};
void TanhF32(const float* x, float* y, size_t n) { UnaryLoop(TanhFn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(TanhF32);

const OpDef kTanhOp = {
    .name = "tanh",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Tensor& y = g.output;  // grad * (1 - y^2)
      return {Mul(g.output_grad, Sub(ScalarLike(y, 1.0), Mul(y, y)))};
    },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(TanhF32));
    },
    .lower = LowerElement<+[](LoweringContext& c) { return c.math.Tanh(c.operands[0]); }>,
    .reference = UnaryReference<+[](double x) { return std::tanh(x); }>,
    .tests = [] { return UnaryFloatTests(-4, 4); },
};

Tensor Tanh(const Tensor& x, SourceLoc loc) { return Apply(kTanhOp, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
