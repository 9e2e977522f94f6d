// Softmax, log-softmax and log-sum-exp as composites. All three subtract the
// maximum along the reduced axes before exponentiating, so exp() never
// overflows and the largest term is exactly exp(0) = 1. The maximum is an
// ordinary (differentiable) node: its gradient contributions cancel
// mathematically (d/dm of each result is 0), so autodiff still gives the
// exact gradient without a stop-gradient op. Bad axes poison the graph with
// an error named after the composite ("[softmax] ...: axis 2 is out of
// range for a rank-2 tensor").
#include <cstdint>
#include <limits>
#include <vector>

#include "ops/ops.h"
#include "ops/reduction.h"

namespace kiln {
namespace {

// Drops the (size-1) `axes` of a keepdims-shaped tensor: a reshape when the
// result is a legal reshape target, else a sum over the size-1 axes.
Tensor DropAxes(const Tensor& t, const IntList& axes) {
  if (!t.ok()) return t;
  std::vector<int64_t> dims;
  for (int i = 0; i < t.rank(); ++i) {
    bool dropped = false;
    for (int64_t a : axes) dropped = dropped || a == i;
    if (!dropped) dims.push_back(t.shape().dim(i));
  }
  bool batch_inside = false;
  for (size_t i = 1; i < dims.size(); ++i) {
    batch_inside = batch_inside || dims[i] == Shape::kBatch;
  }
  if (batch_inside) return ReduceSum(t, axes, /*keepdims=*/false);
  return Reshape(t, Shape(std::move(dims)));
}

}  // namespace

// exp(x - max) / sum(exp(x - max)).
Tensor Softmax(const Tensor& x, int64_t axis) {
  if (!x.ok()) return x;
  absl::StatusOr<int> a = NormalizeAxis(axis, x.rank());
  if (!a.ok()) return x.graph()->Fail("softmax", a.status());
  Tensor e = Exp(x - ReduceMax(x, {*a}, /*keepdims=*/true));
  return e / ReduceSum(e, {*a}, /*keepdims=*/true);
}

// (x - max) - log(sum(exp(x - max))).
Tensor LogSoftmax(const Tensor& x, int64_t axis) {
  if (!x.ok()) return x;
  absl::StatusOr<int> a = NormalizeAxis(axis, x.rank());
  if (!a.ok()) return x.graph()->Fail("log_softmax", a.status());
  Tensor shifted = x - ReduceMax(x, {*a}, /*keepdims=*/true);
  return shifted - Log(ReduceSum(Exp(shifted), {*a}, /*keepdims=*/true));
}

// max + log(sum(exp(x - max))), like tf.math.reduce_logsumexp: a non-finite
// max (all -inf, or +inf present) is replaced by 0 so that the result is
// -inf or +inf rather than NaN.
Tensor LogSumExp(const Tensor& x, const IntList& axes, bool keepdims) {
  if (!x.ok()) return x;
  absl::StatusOr<IntList> a = ReducedAxes(Attrs{{"axes", axes}}, x.rank());
  if (!a.ok()) return x.graph()->Fail("logsumexp", a.status());
  Tensor m = ReduceMax(x, *a, /*keepdims=*/true);
  Tensor finite =
      Less(Abs(m), ScalarLike(m, std::numeric_limits<double>::infinity()));
  m = Select(finite, m, ScalarLike(m, 0.0));
  Tensor sum = ReduceSum(Exp(x - m), *a, keepdims);
  return Log(sum) + (keepdims ? m : DropAxes(m, *a));
}

}  // namespace kiln
