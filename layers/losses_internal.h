// Helpers shared by the loss files (layers/losses*.cc); not public API.
//
//   KILN_ASSIGN_OR_RETURN(auto labels_and_predictions, MatchLabels(y_true, y_pred));
//   Tensor per_sample = MeanLastAxis(Square(p - t));
#ifndef KILN_LAYERS_LOSSES_INTERNAL_H_
#define KILN_LAYERS_LOSSES_INTERNAL_H_

#include <utility>

#include "absl/status/statusor.h"
#include "graph/op_def.h"
#include "graph/tensor.h"

namespace kiln {

// Keras' label preparation for dense losses: squeezes a trailing axis of
// size 1 when the ranks differ by one, checks the shapes agree and casts
// y_true to y_pred's dtype. Returns (y_true, y_pred).
absl::StatusOr<std::pair<Tensor, Tensor>> MatchLabels(Tensor y_true, Tensor y_pred);

// Integer class indices for sparse losses and metrics: y_true of y_pred's
// shape without the class axis (or with it of size 1), any dtype (floats
// are truncated like Keras' cast), as i32.
absl::StatusOr<Tensor> SparseLabels(Tensor y_true, const Tensor& y_pred);

// The same checks on types only (nothing is built).
absl::Status CheckDenseLabels(const TensorType& y_true, const TensorType& y_pred);
absl::Status CheckSparseLabels(const TensorType& y_true, const TensorType& y_pred);

// Keras' squeeze_or_expand_dimensions of sample weights against per-sample
// values (losses and weighted metrics): a trailing axis of 1 goes when the
// weights have one more axis, their dims must lead per_sample's, then axes
// of 1 are appended so they broadcast; cast to per_sample's dtype.
absl::StatusOr<Tensor> AlignSampleWeight(const Tensor& sample_weight, const Tensor& per_sample);

Tensor MeanLastAxis(const Tensor& x);
Tensor SumLastAxis(const Tensor& x, bool keepdims = false);

}  // namespace kiln

#endif  // KILN_LAYERS_LOSSES_INTERNAL_H_
