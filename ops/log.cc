// log: the natural logarithm, elementwise on f32 (log 0 = -inf, log of a
// negative number is NaN). Gradient: grad / x.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/log.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct LogFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    // Highway's Log is defined only above 0 and below inf.
    const V lo = hn::Zero(d);
    V r = hn::IfThenElse(hn::Eq(x, lo), hn::Neg(hn::Inf(d)), hn::Log(d, x));
    r = hn::IfThenElse(hn::Eq(x, hn::Inf(d)), x, r);
    return hn::IfThenElse(hn::Not(hn::Ge(x, lo)), hn::NaN(d), r);  // below lo, NaN
  }
};
void LogF32(const float* x, float* y, size_t n) { UnaryLoop(LogFn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(LogF32);

const OpDef kLogOp = {
    .name = "log",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      return {Div(g.output_grad, g.inputs[0])};
    },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(LogF32));
    },
    .lower = LowerElement<+[](LoweringContext& c) { return c.math.Log(c.operands[0]); }>,
    .reference = UnaryReference<+[](double x) { return std::log(x); }>,
    .tests = [] { return UnaryFloatTests(0.1, 4); },
};

Tensor Log(const Tensor& x, SourceLoc loc) { return Apply(kLogOp, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
