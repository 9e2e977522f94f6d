// Metrics: accuracies, top-k, losses as metrics, and Keras name resolution.
#include "layers/metrics.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "layers/losses_internal.h"
#include "ops/ops.h"

namespace kiln {
namespace {

Tensor AsFloat(const Tensor& x) { return Cast(x, DType::kF32); }

// A per-sample function that checks labels first; failures name `metric`.
Tensor Failed(absl::string_view metric, const Tensor& like, const absl::Status& error) {
  return like.graph()->Fail(metric, error);
}

// Keras' compile-time choice for "accuracy" and "crossentropy".
enum class LabelForm { kBinary, kSparse, kCategorical };
LabelForm FormOf(const Tensor& t, const Tensor& p) {
  const int64_t classes = p.rank() == 0 ? 1 : p.shape().dim(p.rank() - 1);
  if (classes == 1) return LabelForm::kBinary;
  const bool sparse = t.rank() < p.rank() || (t.rank() > 0 && t.shape().dim(t.rank() - 1) == 1);
  return sparse ? LabelForm::kSparse : LabelForm::kCategorical;
}

// 1 where the true class scores among the k highest.
Tensor InTopK(const Tensor& p, const Tensor& labels, int k) {
  const int64_t last = p.rank() - 1;
  std::vector<int64_t> dims = labels.shape().dims();
  dims.push_back(1);
  Tensor target = Reshape(Gather(p, labels, last), Shape(dims));
  Tensor higher = ReduceSum(AsFloat(Greater(p, target)), {last});
  return AsFloat(Less(higher, ScalarLike(higher, k)));
}

}  // namespace

Tensor ArgMaxLastAxis(const Tensor& x) {
  if (!x.ok()) return x;
  const int64_t last = x.rank() - 1;
  const int64_t classes = x.shape().dim(last);
  std::vector<float> index(classes);
  for (int64_t i = 0; i < classes; ++i) index[i] = static_cast<float>(i);
  Tensor positions = BroadcastTo(Constant(x.graph(), Buffer::FromVector(Shape{classes}, index)),
                                 x.shape());
  Tensor is_max = Equal(x, ReduceMax(x, {last}, /*keepdims=*/true));
  Tensor candidates = Select(is_max, positions, FullLike(positions, static_cast<double>(classes)));
  return ReduceMin(candidates, {last});
}

Metric::Metric(std::string name, PerSampleFn per_sample)
    : name_(std::move(name)), per_sample_(std::move(per_sample)) {}

Metric::Metric(const char* name) : Metric(std::string(name)) {}

Metric::Metric(const std::string& name) {
  absl::StatusOr<Metric> metric = MetricFromName(name);
  if (metric.ok()) {
    *this = *std::move(metric);
  } else {
    name_ = name;
    status_ = metric.status();
  }
}

Metric::Metric(const Loss& loss) : name_(loss.name()), status_(loss.status()) {
  per_sample_ = [loss](const Tensor& t, const Tensor& p) { return loss.PerSample(t, p); };
}

Tensor Metric::operator()(const Tensor& y_true, const Tensor& y_pred, SourceLoc loc) const {
  if (!y_pred.ok()) return y_pred;
  if (!y_true.ok()) return y_true;
  if (!status_.ok()) return y_pred.graph()->Fail(name_, status_, loc);
  Tensor values = per_sample_(y_true, y_pred);
  if (!values.ok() || values.rank() == 0) return values.ok() ? AsFloat(values) : values;
  IntList all;
  for (int i = 0; i < values.rank(); ++i) all.push_back(i);
  return Mean(AsFloat(values), all);
}

Metric::Weighted Metric::WithSampleWeight(const Tensor& y_true, const Tensor& y_pred,
                                          const Tensor& sample_weight, SourceLoc loc) const {
  if (!y_pred.ok()) return {y_pred, y_pred};
  if (!y_true.ok()) return {y_true, y_true};
  if (!status_.ok()) {
    Tensor failed = y_pred.graph()->Fail(name_, status_, loc);
    return {failed, failed};
  }
  Tensor values = per_sample_(y_true, y_pred);
  if (!values.ok()) return {values, values};
  values = AsFloat(values);
  IntList all;
  for (int i = 0; i < values.rank(); ++i) all.push_back(i);
  Tensor weights;
  if (sample_weight.defined()) {
    if (!sample_weight.ok()) return {sample_weight, sample_weight};
    absl::StatusOr<Tensor> aligned = AlignSampleWeight(sample_weight, values);
    if (!aligned.ok()) {
      Tensor failed = y_pred.graph()->Fail(name_, aligned.status(), loc);
      return {failed, failed};
    }
    weights = BroadcastTo(*aligned, values.shape());
  } else {
    weights = FullLike(values, 1.0);
  }
  Tensor total = values.rank() == 0 ? values * weights : ReduceSum(values * weights, all);
  Tensor count = values.rank() == 0 ? weights : ReduceSum(weights, all);
  Tensor zero = ScalarLike(count, 0.0);
  Tensor empty = Equal(count, zero);
  return {Select(empty, zero, total / Select(empty, ScalarLike(count, 1.0), count)), count};
}

namespace {

Tensor BinaryAccuracyValues(const Tensor& t_in, const Tensor& p_in, double threshold) {
  auto matched = MatchLabels(t_in, p_in);
  if (!matched.ok()) return Failed("binary_accuracy", p_in, matched.status());
  const auto& [t, p] = *matched;
  Tensor predicted = AsFloat(Greater(p, ScalarLike(p, threshold)));
  return MeanLastAxis(AsFloat(Equal(t, predicted)));
}

Tensor CategoricalAccuracyValues(const Tensor& t_in, const Tensor& p_in) {
  auto matched = MatchLabels(t_in, p_in);
  if (!matched.ok()) return Failed("categorical_accuracy", p_in, matched.status());
  return AsFloat(Equal(ArgMaxLastAxis(matched->first), ArgMaxLastAxis(matched->second)));
}

Tensor SparseCategoricalAccuracyValues(const Tensor& t, const Tensor& p) {
  absl::StatusOr<Tensor> labels = SparseLabels(t, p);
  if (!labels.ok()) return Failed("sparse_categorical_accuracy", p, labels.status());
  return AsFloat(Equal(AsFloat(*labels), ArgMaxLastAxis(p)));
}

}  // namespace

Metric BinaryAccuracy(double threshold) {
  return Metric("binary_accuracy", [threshold](const Tensor& t, const Tensor& p) {
    return BinaryAccuracyValues(t, p, threshold);
  });
}

Metric CategoricalAccuracy() { return Metric("categorical_accuracy", CategoricalAccuracyValues); }

Metric SparseCategoricalAccuracy() {
  return Metric("sparse_categorical_accuracy", SparseCategoricalAccuracyValues);
}

Metric TopKCategoricalAccuracy(int k) {
  return Metric("top_k_categorical_accuracy", [k](const Tensor& t_in, const Tensor& p_in) {
    auto matched = MatchLabels(t_in, p_in);
    if (!matched.ok()) return Failed("top_k_categorical_accuracy", p_in, matched.status());
    return InTopK(matched->second, Cast(ArgMaxLastAxis(matched->first), DType::kI32), k);
  });
}

Metric SparseTopKCategoricalAccuracy(int k) {
  return Metric("sparse_top_k_categorical_accuracy", [k](const Tensor& t, const Tensor& p) {
    absl::StatusOr<Tensor> labels = SparseLabels(t, p);
    if (!labels.ok()) return Failed("sparse_top_k_categorical_accuracy", p, labels.status());
    return InTopK(p, *labels, k);
  });
}

absl::StatusOr<Metric> MetricFromName(absl::string_view name) {
  const std::string given(name);
  if (name == "accuracy" || name == "acc") {
    return Metric(given, [](const Tensor& t, const Tensor& p) {
      switch (FormOf(t, p)) {
        case LabelForm::kBinary: return BinaryAccuracyValues(t, p, 0.5);
        case LabelForm::kSparse: return SparseCategoricalAccuracyValues(t, p);
        case LabelForm::kCategorical: return CategoricalAccuracyValues(t, p);
      }
      return Tensor();
    });
  }
  if (name == "crossentropy" || name == "ce") {
    return Metric(given, [](const Tensor& t, const Tensor& p) {
      switch (FormOf(t, p)) {
        case LabelForm::kBinary: return BinaryCrossentropy().PerSample(t, p);
        case LabelForm::kSparse: return SparseCategoricalCrossentropy().PerSample(t, p);
        case LabelForm::kCategorical: return CategoricalCrossentropy().PerSample(t, p);
      }
      return Tensor();
    });
  }
  if (name == "binary_accuracy") return BinaryAccuracy();
  if (name == "categorical_accuracy") return CategoricalAccuracy();
  if (name == "sparse_categorical_accuracy") return SparseCategoricalAccuracy();
  if (name == "top_k_categorical_accuracy") return TopKCategoricalAccuracy();
  if (name == "sparse_top_k_categorical_accuracy") return SparseTopKCategoricalAccuracy();
  absl::StatusOr<Loss> loss = LossFromName(name);
  if (!loss.ok()) return absl::InvalidArgumentError(absl::StrCat("unknown metric '", name, "'"));
  return Metric(given, [l = *loss](const Tensor& t, const Tensor& p) { return l.PerSample(t, p); });
}

}  // namespace kiln
