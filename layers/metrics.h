// Metrics with tf.keras 2.x semantics: each yields a per-batch graph scalar,
// the mean of its per-sample values (epoch averages, weighted by the number
// of samples in each batch, are the caller's).
//
//   Metric accuracy = "accuracy";        // picks its variant from the shapes
//   Tensor batch_accuracy = accuracy(labels, probabilities);
//   Metric::Weighted weighted = accuracy.WithSampleWeight(labels, probabilities, w);
//   model.Compile(std::make_shared<Adam>(), "sparse_categorical_crossentropy", {"accuracy", "mse"});
//
// Names resolve as in Keras' compile: "accuracy"/"acc" become binary
// accuracy when y_pred's last axis is 1, sparse categorical accuracy when
// y_true has a lower rank (or a last axis of 1 against several classes),
// else categorical accuracy; "crossentropy"/"ce" likewise pick a
// crossentropy; any loss name ("mse", "kl_divergence") is that loss as a
// metric. The metric keeps the name it was given ("acc" reports as "acc").
// Argmax ties pick the first index; top-k counts a class as in the top k
// when fewer than k classes score strictly higher (tf.math.in_top_k).
#ifndef KILN_LAYERS_METRICS_H_
#define KILN_LAYERS_METRICS_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/build_context.h"
#include "graph/tensor.h"
#include "layers/losses.h"

namespace kiln {

class Metric {
 public:
  // Builds the per-sample values from (y_true, y_pred) as given.
  using PerSampleFn = std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)>;

  Metric(std::string name, PerSampleFn per_sample);
  // By Keras name; an unknown name is kept as status().
  Metric(const char* name);         // NOLINT: implicit, like metrics=["accuracy"]
  Metric(const std::string& name);  // NOLINT
  // A loss as a metric: the mean of its per-sample values, named like it.
  Metric(const Loss& loss);  // NOLINT

  // The batch's value: an f32 scalar.
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred,
                    SourceLoc loc = SourceLoc::current()) const;

  // As a weighted metric (Keras' compile(weighted_metrics=...), a Mean
  // with sample_weight): `value` is sum(w * v) / sum(w) over the per-sample
  // values v, the weights aligned as a loss aligns them (layers/losses.h)
  // and broadcast to v, 0 when they sum to 0 (divide_no_nan); `weight_sum`
  // is that sum(w), the batch's weight in an epoch mean. Undefined weights:
  // the plain value and the number of per-sample values.
  struct Weighted {
    Tensor value;
    Tensor weight_sum;
  };
  Weighted WithSampleWeight(const Tensor& y_true, const Tensor& y_pred,
                            const Tensor& sample_weight,
                            SourceLoc loc = SourceLoc::current()) const;

  const std::string& name() const { return name_; }
  const absl::Status& status() const { return status_; }

 private:
  std::string name_;
  PerSampleFn per_sample_;
  absl::Status status_;
};

absl::StatusOr<Metric> MetricFromName(absl::string_view name);

// 1 where (y_pred > threshold) equals y_true, averaged over the last axis.
Metric BinaryAccuracy(double threshold = 0.5);
// 1 where argmax(y_true) == argmax(y_pred).
Metric CategoricalAccuracy();
// 1 where the class index y_true == argmax(y_pred).
Metric SparseCategoricalAccuracy();
// 1 where the true class is among the k highest scores.
Metric TopKCategoricalAccuracy(int k = 5);
Metric SparseTopKCategoricalAccuracy(int k = 5);

// The index of the largest value along the last axis (the first on ties),
// as f32.
Tensor ArgMaxLastAxis(const Tensor& x);

}  // namespace kiln

#endif  // KILN_LAYERS_METRICS_H_
