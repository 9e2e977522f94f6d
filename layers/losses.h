// Losses with tf.keras 2.x semantics: each builds graph nodes from
// (y_true, y_pred): a per-sample loss (the mean or sum over the last axis,
// as Keras computes it), then a reduction over the samples:
// sum_over_batch_size (the default: the sum divided by the number of
// per-sample values), sum, or none (the per-sample tensor).
//
//   Loss loss = CategoricalCrossentropy({.from_logits = true});
//   Tensor objective = loss(labels, logits);      // f32 scalar
//   Tensor weighted = loss(labels, logits, sample_weight);  // Keras' sample_weight
//   KILN_ASSIGN_OR_RETURN(Loss mse, LossFromName("mse"));
//   model.Compile(std::make_shared<Adam>(), "sparse_categorical_crossentropy");  // by name
//
// As in Keras, y_true is cast to y_pred's dtype and a trailing axis of size
// 1 on either side is squeezed when the ranks differ by one; otherwise the
// shapes must match ("[mean_squared_error] expected y_true like y_pred
// f32[N,3], got f32[N,4]", recorded in the graph like an op error).
// Probabilities are clipped to [1e-7, 1 - 1e-7] (Keras epsilon) where Keras
// clips them; losses on logits use log-softmax and |x|-based forms, which do
// not overflow. As in tf.keras 2.x, a crossentropy on probabilities that a
// "softmax"/"sigmoid" activation (or a Softmax layer over the last axis)
// produced computes from that activation's logits instead (LogitsOf in
// layers/activations.h): a confidently wrong prediction keeps its gradient. Sparse categorical crossentropy takes integer class labels
// (y_pred's shape without the class axis, or with it of size 1).
#ifndef KILN_LAYERS_LOSSES_H_
#define KILN_LAYERS_LOSSES_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/build_context.h"
#include "graph/op_def.h"
#include "graph/tensor.h"

namespace kiln {

// Keras' fuzz factor: backend.epsilon().
inline constexpr double kKerasEpsilon = 1e-7;

enum class Reduction { kSumOverBatchSize, kSum, kNone };
// "sum_over_batch_size" (also "auto"), "sum", "none".
absl::StatusOr<Reduction> ReductionFromName(absl::string_view name);

class Loss {
 public:
  // Builds the per-sample loss from y_true and y_pred after the shared
  // checks (dtype cast, squeeze, shapes).
  using PerSampleFn = std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)>;

  // An empty loss (defined() is false).
  Loss() = default;
  // A custom loss: `per_sample` sees y_true already cast to y_pred's dtype
  // and of y_pred's shape; `sparse_labels` skips that (integer labels).
  Loss(std::string name, PerSampleFn per_sample,
       Reduction reduction = Reduction::kSumOverBatchSize, bool sparse_labels = false);
  // By Keras name, e.g. "mse" or "categorical_crossentropy"; an unknown name
  // is kept as status() (Model::Compile returns it).
  Loss(const char* name);  // NOLINT: implicit, like Keras' compile(loss="mse")
  Loss(const std::string& name);  // NOLINT

  // The reduced loss (a scalar, or per sample for Reduction::kNone).
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred,
                    SourceLoc loc = SourceLoc::current()) const;
  // The reduced loss with each per-sample value multiplied by its weight
  // (Keras' sample_weight): `sample_weight` is [N] or [N,1] or the
  // per-sample shape (a prefix of it broadcasts over the rest), cast to the
  // loss's dtype; sum_over_batch_size divides the weighted sum by the
  // number of per-sample values, not by the sum of the weights.
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight,
                    SourceLoc loc = SourceLoc::current()) const;
  // The loss of each sample: y_pred's shape without its last axis.
  Tensor PerSample(const Tensor& y_true, const Tensor& y_pred,
                   SourceLoc loc = SourceLoc::current()) const;

  // Whether labels of type `y_true` fit predictions of type `y_pred`
  // (checked on types, nothing is built): the error of PerSample, if any.
  absl::Status CheckLabels(const TensorType& y_true, const TensorType& y_pred) const;
  // Whether sample weights of type `sample_weight` fit the per-sample
  // losses of predictions `y_pred` (y_pred's shape without its last axis).
  absl::Status CheckSampleWeight(const TensorType& sample_weight, const TensorType& y_pred) const;

  bool defined() const { return per_sample_ != nullptr; }
  const absl::Status& status() const { return status_; }
  // The Keras name ("mean_squared_error").
  const std::string& name() const { return name_; }
  Reduction reduction() const { return reduction_; }
  // True when y_true holds class indices rather than y_pred's shape.
  bool sparse_labels() const { return sparse_labels_; }

 private:
  Tensor Reduce(const Tensor& per_sample) const;

  std::string name_;
  PerSampleFn per_sample_;
  Reduction reduction_ = Reduction::kSumOverBatchSize;
  bool sparse_labels_ = false;
  absl::Status status_;
};

// A Keras loss name (function, alias or class name, e.g. "mse",
// "mean_squared_error", "MeanSquaredError", "kld", "huber_loss") with its
// default arguments.
absl::StatusOr<Loss> LossFromName(absl::string_view name);

Loss MeanSquaredError(Reduction reduction = Reduction::kSumOverBatchSize);
Loss MeanAbsoluteError(Reduction reduction = Reduction::kSumOverBatchSize);
Loss MeanAbsolutePercentageError(Reduction reduction = Reduction::kSumOverBatchSize);
Loss MeanSquaredLogarithmicError(Reduction reduction = Reduction::kSumOverBatchSize);

struct CrossentropyOptions {
  bool from_logits = false;
  double label_smoothing = 0;  // in [0, 1]
  Reduction reduction = Reduction::kSumOverBatchSize;
};
Loss BinaryCrossentropy(CrossentropyOptions options = {});
Loss CategoricalCrossentropy(CrossentropyOptions options = {});
Loss SparseCategoricalCrossentropy(bool from_logits = false, Reduction reduction = Reduction::kSumOverBatchSize);

Loss Huber(double delta = 1.0, Reduction reduction = Reduction::kSumOverBatchSize);
Loss KLDivergence(Reduction reduction = Reduction::kSumOverBatchSize);
Loss Poisson(Reduction reduction = Reduction::kSumOverBatchSize);
Loss LogCosh(Reduction reduction = Reduction::kSumOverBatchSize);
// Hinge losses convert 0/1 labels to -1/1 when every label is 0 or 1.
Loss Hinge(Reduction reduction = Reduction::kSumOverBatchSize);
Loss SquaredHinge(Reduction reduction = Reduction::kSumOverBatchSize);
Loss CategoricalHinge(Reduction reduction = Reduction::kSumOverBatchSize);
// -cos(y_true, y_pred) along the last axis (Keras 2: negative similarity).
Loss CosineSimilarity(Reduction reduction = Reduction::kSumOverBatchSize);

}  // namespace kiln

#endif  // KILN_LAYERS_LOSSES_H_
