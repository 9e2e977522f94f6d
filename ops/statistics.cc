// Reductions built from primitives: mean, population variance (like
// tf.math.reduce_variance, computed in two passes for accuracy),
// l2_normalize (x / sqrt(max(sum(x^2), eps)), like tf.math.l2_normalize) and
// reduce_min (-reduce_max(-x)). Axes may be negative; an empty list reduces
// nothing. A mean over the symbolic batch dimension divides by a count that
// the graph computes (N is unknown until compile time); otherwise the count
// is a constant. Bad axes poison the graph with an error named after the
// composite ("[mean] ...: axis 3 is out of range for a rank-2 tensor").
#include "ops/ops.h"
#include "ops/reduction.h"

namespace kiln {
namespace {

// The normalized axes, or the error recorded in x's graph under `op`.
absl::StatusOr<IntList> CheckAxes(absl::string_view op, const Tensor& x,
                                  const IntList& axes) {
  absl::StatusOr<IntList> a = ReducedAxes(Attrs{{"axes", axes}}, x.rank());
  if (!a.ok()) x.graph()->Fail(op, a.status());
  return a;
}

// The number of elements a reduction over `axes` (normalized) combines, as a
// scalar of x's dtype.
Tensor ReducedCount(const Tensor& x, const IntList& axes) {
  double count = 1;
  int batch_dims = 0;
  for (int64_t a : axes) {
    const int64_t d = x.shape().dim(static_cast<int>(a));
    if (d == Shape::kBatch) {
      ++batch_dims;
    } else {
      count *= static_cast<double>(d);
    }
  }
  Tensor result = ScalarLike(x, count);
  if (batch_dims > 0) {
    // N, as the sum of N ones (folded to a constant once N is known).
    Tensor n = ReduceSum(BroadcastTo(ScalarLike(x, 1.0), Shape{Shape::kBatch}),
                         {0});
    for (int i = 0; i < batch_dims; ++i) result = result * n;
  }
  return result;
}

Tensor MeanOfChecked(const Tensor& x, const IntList& axes, bool keepdims) {
  return ReduceSum(x, axes, keepdims) / ReducedCount(x, axes);
}

}  // namespace

Tensor Mean(const Tensor& x, const IntList& axes, bool keepdims) {
  if (!x.ok()) return x;
  absl::StatusOr<IntList> a = CheckAxes("mean", x, axes);
  if (!a.ok()) return Tensor(x.graph(), kNoNode);
  return MeanOfChecked(x, *a, keepdims);
}

// mean((x - mean(x))^2): two passes, so large offsets do not cancel.
Tensor Variance(const Tensor& x, const IntList& axes, bool keepdims) {
  if (!x.ok()) return x;
  absl::StatusOr<IntList> a = CheckAxes("variance", x, axes);
  if (!a.ok()) return Tensor(x.graph(), kNoNode);
  Tensor centered = x - MeanOfChecked(x, *a, /*keepdims=*/true);
  return MeanOfChecked(Square(centered), *a, keepdims);
}

Tensor L2Normalize(const Tensor& x, const IntList& axes, double epsilon) {
  if (!x.ok()) return x;
  absl::StatusOr<IntList> a = CheckAxes("l2_normalize", x, axes);
  if (!a.ok()) return Tensor(x.graph(), kNoNode);
  Tensor square_sum = ReduceSum(Square(x), *a, /*keepdims=*/true);
  return x * Rsqrt(Maximum(square_sum, ScalarLike(x, epsilon)));
}

Tensor ReduceMin(const Tensor& x, const IntList& axes, bool keepdims) {
  if (!x.ok()) return x;
  absl::StatusOr<IntList> a = CheckAxes("reduce_min", x, axes);
  if (!a.ok()) return Tensor(x.graph(), kNoNode);
  return Neg(ReduceMax(Neg(x), *a, keepdims));
}

}  // namespace kiln
