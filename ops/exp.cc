// exp: e^x, elementwise on f32. Gradient: grad * exp(x), reusing the output.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/exp.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
// Highway's Exp is valid up to x = 104 and maps NaN to 0: overflow to +inf
// above ln(FLT_MAX) and keep NaN.
struct ExpFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    const V y = hn::IfThenElse(hn::Gt(x, hn::Set(d, 88.75f)), hn::Inf(d), hn::Exp(d, x));
    return hn::IfThenElse(hn::IsNaN(x), x, y);
  }
};
void ExpF32(const float* x, float* y, size_t n) { UnaryLoop(ExpFn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(ExpF32);

const OpDef kExpOp = {
    .name = "exp",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      return {Mul(g.output_grad, g.output)};
    },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(ExpF32));
    },
    .lower = LowerElement<+[](LoweringContext& c) { return c.math.Exp(c.operands[0]); }>,
    .reference = UnaryReference<+[](double x) { return std::exp(x); }>,
    .tests = [] {
      OpTests t = UnaryFloatTests(-5, 5);
      t.cases.push_back({"overflow", {{{DType::kF32, Shape{40}}, 80, 120}}, {}, false});
      return t;
    },
};

Tensor Exp(const Tensor& x, SourceLoc loc) { return Apply(kExpOp, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
