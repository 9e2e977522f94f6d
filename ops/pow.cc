// pow: a^b with numpy broadcasting, on f32, computed as exp(b * log|a|);
// relative error about 3e-7 * |b * log a| (1e-6 at a^b = e^3) from Highway's
// f32 log and exp. Special values follow C's pow: x^0 = 1 and 1^y = 1 (also
// for NaN), 0^b is 0 (b > 0) or inf (b < 0), a negative base gives
// ±|a|^b for an integer b and NaN otherwise, infinities as in C.
// Gradient: grad * b * a^(b-1) for a, grad * y * log(a) for b (NaN where
// a <= 0), summed back to each input's shape.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/pow.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct PowFn : StoreSame {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V a, V b) const {
    const V zero = hn::Zero(d), one = hn::Set(d, 1.0f), inf = hn::Inf(d);
    const V mag = hn::Abs(a);
    // log|a|; Highway's Log is defined for finite positive inputs only, so
    // 0, inf and NaN are mapped here.
    V lg = hn::IfThenElse(hn::Lt(mag, inf), hn::Log(d, mag), mag);
    lg = hn::IfThenElse(hn::Eq(mag, zero), hn::Neg(inf), lg);
    const V t = hn::Mul(b, lg);
    // Highway's Exp is valid up to 104: overflow to +inf above ln(FLT_MAX).
    V r = hn::IfThenElse(hn::Gt(t, hn::Set(d, 88.75f)), inf, hn::Exp(d, t));
    r = hn::IfThenElse(hn::IsNaN(t), t, r);
    // Negative bases: an odd integer b keeps a's sign, a non-integer b is NaN.
    const auto b_int = hn::Eq(hn::Floor(b), b);
    const V half = hn::Mul(b, hn::Set(d, 0.5f));
    const auto b_odd = hn::AndNot(hn::Eq(hn::Floor(half), half), b_int);
    r = hn::IfThenElse(b_odd, hn::CopySign(r, a), r);
    const auto no_real_root =
        hn::And(hn::AndNot(b_int, hn::Lt(a, zero)), hn::Ne(a, hn::Neg(inf)));
    r = hn::IfThenElse(no_real_root, hn::NaN(d), r);
    // x^0 = 1, 1^y = 1, (-1)^±inf = 1.
    const auto unit = hn::Or(
        hn::Or(hn::Eq(b, zero), hn::Eq(a, one)),
        hn::And(hn::Eq(a, hn::Neg(one)), hn::Eq(hn::Abs(b), inf)));
    return hn::IfThenElse(unit, one, r);
  }
};
void PowF32(const float* a, const float* b, float* o, size_t n, int m) {
  BinaryLoop(PowFn(), a, b, o, n, m);
}
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(PowF32);

const OpDef kPowOp = {
    .name = "pow",
    .arity = 2,
    .fusion = FusionKind::kElementwise,
    .infer = InferBinaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Tensor& a = g.inputs[0];
      const Tensor& b = g.inputs[1];
      std::vector<Tensor> grads(2);
      if (g.needs_grad[0]) {
        const Tensor a_pow = Pow(a, Sub(b, ScalarLike(b, 1.0)));
        grads[0] = ReduceToShape(Mul(g.output_grad, Mul(b, a_pow)), a.shape());
      }
      if (g.needs_grad[1]) {
        grads[1] = ReduceToShape(Mul(g.output_grad, Mul(g.output, Log(a))), b.shape());
      }
      return grads;
    },
    .interp = [](const KernelContext& ctx) {
      return RunBinary(ctx, {.f32 = HWY_DYNAMIC_DISPATCH(PowF32)});
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return c.math.Pow(c.operands[0], c.operands[1]);
    }>,
    .reference = BinaryReference<+[](double a, double b) { return std::pow(a, b); }>,
    .tests = [] {
      // Bases in [0.5, 2] (log defined), exponents in [-3, 3].
      OpTests t = BinaryTests(0.5, 2, {});
      for (TestCase& c : t.cases) {
        c.inputs[1].lo = -3;
        c.inputs[1].hi = 3;
      }
      t.bad.push_back({"integer inputs", {{DType::kI32, Shape{3}}, {DType::kI32, Shape{3}}},
                       {}, "expected f32 inputs"});
      return t;
    },
};

Tensor Pow(const Tensor& a, const Tensor& b, SourceLoc loc) {
  return Apply(kPowOp, {a, b}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
