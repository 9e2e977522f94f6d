// Elementwise helper composites: the comparisons that mirror a primitive
// (greater = less with swapped operands, greater_equal = less_equal swapped),
// square, reciprocal and clip. They exist so that model and loss code reads
// like the math; each expands to one or two primitive nodes and takes its
// gradient from them. Clip checks its bounds (lo <= hi, neither NaN) and
// poisons the graph with a "[clip]" error otherwise.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "ops/ops.h"

namespace kiln {

Tensor Greater(const Tensor& a, const Tensor& b) { return Less(b, a); }

Tensor GreaterEqual(const Tensor& a, const Tensor& b) {
  return LessEqual(b, a);
}

// x * x: autodiff sums the two uses, giving 2 x.
Tensor Square(const Tensor& x) { return Mul(x, x); }

Tensor Reciprocal(const Tensor& x) { return Div(ScalarLike(x, 1.0), x); }

Tensor Clip(const Tensor& x, double lo, double hi) {
  if (!x.ok()) return x;
  if (std::isnan(lo) || std::isnan(hi) || lo > hi) {
    return x.graph()->Fail(
        "clip", absl::InvalidArgumentError(absl::StrCat(
                    "the lower bound must not exceed the upper bound, got [",
                    lo, ", ", hi, "]")));
  }
  return Minimum(Maximum(x, ScalarLike(x, lo)), ScalarLike(x, hi));
}

}  // namespace kiln
