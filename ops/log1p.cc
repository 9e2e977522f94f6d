// log1p: log(1 + x), elementwise on f32, accurate near 0 (x = -1 gives
// -inf, x < -1 NaN). Gradient: grad / (1 + x).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/log1p.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct Log1pFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    // Highway's Log1p is defined only above -1 and below inf.
    const V lo = hn::Set(d, -1.0f);
    V r = hn::IfThenElse(hn::Eq(x, lo), hn::Neg(hn::Inf(d)), hn::Log1p(d, x));
    r = hn::IfThenElse(hn::Eq(x, hn::Inf(d)), x, r);
    return hn::IfThenElse(hn::Not(hn::Ge(x, lo)), hn::NaN(d), r);  // below lo, NaN
  }
};
void Log1pF32(const float* x, float* y, size_t n) { UnaryLoop(Log1pFn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(Log1pF32);

const OpDef kLog1pOp = {
    .name = "log1p",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Tensor& x = g.inputs[0];  // grad / (1 + x)
      return {Div(g.output_grad, Add(x, ScalarLike(x, 1.0)))};
    },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(Log1pF32));
    },
    .lower = LowerElement<+[](LoweringContext& c) { return c.math.Log1p(c.operands[0]); }>,
    .reference = UnaryReference<+[](double x) { return std::log1p(x); }>,
    .tests = [] { return UnaryFloatTests(-0.8, 4); },
};

Tensor Log1p(const Tensor& x, SourceLoc loc) { return Apply(kLog1pOp, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
