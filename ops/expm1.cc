// expm1: e^x - 1, elementwise on f32, accurate near 0.
// Gradient: grad * (y + 1), reusing the output y.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/expm1.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
// Highway's Expm1 is valid up to x = 104: overflow to +inf above
// ln(FLT_MAX), and keep NaN.
struct Expm1Fn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    const V y = hn::IfThenElse(hn::Gt(x, hn::Set(d, 88.75f)), hn::Inf(d), hn::Expm1(d, x));
    return hn::IfThenElse(hn::IsNaN(x), x, y);
  }
};
void Expm1F32(const float* x, float* y, size_t n) { UnaryLoop(Expm1Fn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(Expm1F32);

const OpDef kExpm1Op = {
    .name = "expm1",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Tensor& y = g.output;  // grad * (y + 1)
      return {Mul(g.output_grad, Add(y, ScalarLike(y, 1.0)))};
    },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(Expm1F32));
    },
    .lower = LowerElement<+[](LoweringContext& c) { return c.math.Expm1(c.operands[0]); }>,
    .reference = UnaryReference<+[](double x) { return std::expm1(x); }>,
    .tests = [] {
      OpTests t = UnaryFloatTests(-4, 4);
      t.cases.push_back({"overflow", {{{DType::kF32, Shape{40}}, 80, 120}}, {}, false});
      return t;
    },
};

Tensor Expm1(const Tensor& x, SourceLoc loc) { return Apply(kExpm1Op, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
