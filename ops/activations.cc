// Activation functions as composites (tf.keras 2.x definitions, spec section
// 6): relu, sigmoid, softplus, softsign, elu, selu, gelu (exact erf form and
// tanh approximation), swish and hard_sigmoid. Each is written to be stable
// in f32 over the whole range: sigmoid and softplus only ever exponentiate
// -|x|, elu/selu clamp the argument of expm1 so the branch select() discards
// never overflows (which would turn its zero gradient into 0 * inf = NaN).
// Where a formula has a kink or a branch at 0, -|x| is built with select()
// rather than abs() so that autodiff sees a consistent one-sided slope and the
// gradient at exactly 0 is still the true derivative.
#include "ops/ops.h"

namespace kiln {
namespace {

// The two halves of the real line, split so that x == 0 goes to the
// non-negative side, and -|x| with slope -1 at 0.
struct Halves {
  Tensor nonneg;   // x >= 0 (bool)
  Tensor neg_abs;  // -|x|, always <= 0
};
Halves SplitAtZero(const Tensor& x) {
  Tensor nonneg = GreaterEqual(x, ScalarLike(x, 0.0));
  return {nonneg, Select(nonneg, Neg(x), x)};
}

// min(x, 0) with slope 1 at 0, and the mask x > 0.
struct NegativePart {
  Tensor positive;  // x > 0 (bool)
  Tensor clamped;   // min(x, 0)
};
NegativePart ClampNegative(const Tensor& x) {
  Tensor positive = Greater(x, ScalarLike(x, 0.0));
  return {positive, Select(positive, ScalarLike(x, 0.0), x)};
}

// Exact to double precision, rounded once to the tensor's dtype.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSqrtHalf = 0.70710678118654752440;       // 1/sqrt(2)
constexpr double kSqrtTwoOverPi = 0.79788456080286535588;  // sqrt(2/pi)

}  // namespace

// max(0, x), zero first: on the tie at x == 0 the left operand takes the
// gradient (TF's rule for maximum), so relu'(0) = 0 as in tf.nn.relu.
Tensor Relu(const Tensor& x) { return Maximum(ScalarLike(x, 0.0), x); }

// e = exp(-|x|) is in (0, 1]: 1/(1+e) for x >= 0, e/(1+e) below.
Tensor Sigmoid(const Tensor& x) {
  if (!x.ok()) return x;
  const Halves h = SplitAtZero(x);
  Tensor e = Exp(h.neg_abs);
  Tensor r = Reciprocal(e + 1.0);
  return Select(h.nonneg, r, e * r);
}

// log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}).
Tensor Softplus(const Tensor& x) {
  if (!x.ok()) return x;
  const Halves h = SplitAtZero(x);
  Tensor relu = Select(h.nonneg, x, ScalarLike(x, 0.0));
  return relu + Log1p(Exp(h.neg_abs));
}

Tensor Softsign(const Tensor& x) { return x / (Abs(x) + 1.0); }

Tensor Elu(const Tensor& x, double alpha) {
  if (!x.ok()) return x;
  const NegativePart n = ClampNegative(x);
  return Select(n.positive, x, Expm1(n.clamped) * alpha);
}

Tensor Selu(const Tensor& x) {
  if (!x.ok()) return x;
  const NegativePart n = ClampNegative(x);
  return Select(n.positive, x * kSeluScale,
                Expm1(n.clamped) * (kSeluScale * kSeluAlpha));
}

// Exact: 0.5 x (1 + erf(x / sqrt 2)). Approximate (tanh form):
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
Tensor Gelu(const Tensor& x, bool approximate) {
  if (!x.ok()) return x;
  Tensor half_x = x * 0.5;
  if (!approximate) return half_x * (Erf(x * kSqrtHalf) + 1.0);
  Tensor cube = x * Square(x);
  Tensor inner = (x + cube * 0.044715) * kSqrtTwoOverPi;
  return half_x * (Tanh(inner) + 1.0);
}

Tensor Swish(const Tensor& x) { return x * Sigmoid(x); }

// tf.keras 2.x: clip(0.2 x + 0.5, 0, 1) (Keras 3 uses relu6(x + 3) / 6).
Tensor HardSigmoid(const Tensor& x) { return Clip(x * 0.2 + 0.5, 0.0, 1.0); }

}  // namespace kiln
