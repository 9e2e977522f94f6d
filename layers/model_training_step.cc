// The parts of a training or test step that do not depend on the Model
// object: the per-sample weights of a batch (Keras' sample_weight times
// class_weight, computed on the host as Keras' data adapter does), and the
// step's scalar results (the total loss, the per-output losses and the
// metrics) as graph, in Keras' log order and with Keras' names.
#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/model_training_internal.h"
#include "ops/ops.h"

namespace kiln {
namespace {

// The class index of each of `rows` rows of labels: the labels themselves
// ([N] or [N,1]) or the argmax of one-hot rows ([N,K], first on ties).
absl::StatusOr<std::vector<int64_t>> ClassIndices(const Buffer& labels, int64_t rows,
                                                  absl::string_view what) {
  const Shape& shape = labels.shape();
  if (shape.rank() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": class_weight is not supported for targets of rank 3 or more, got ",
                     shape.ToString()));
  }
  const int64_t width = shape.rank() == 2 ? shape.dim(1) : 1;
  std::vector<int64_t> out(rows);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = 0;
    for (int64_t c = 1; c < width; ++c) {
      if (labels.GetAsDouble(r * width + c) > labels.GetAsDouble(r * width + best)) best = c;
    }
    out[r] = width > 1 ? best : static_cast<int64_t>(std::floor(labels.GetAsDouble(r)));
  }
  return out;
}

}  // namespace

std::string LabelsInputName(size_t output) { return absl::StrCat("kiln.labels.", output); }
std::string SampleWeightInputName(size_t output) {
  return absl::StrCat("kiln.sample_weight.", output);
}

absl::StatusOr<std::optional<Buffer>> BatchSampleWeights(const BatchWeights& weights,
                                                         const Buffer* labels, int64_t rows,
                                                         absl::string_view what) {
  if (weights.sample_weight == nullptr && weights.class_weight.empty()) return std::nullopt;
  Buffer out;
  if (const Buffer* sw = weights.sample_weight; sw != nullptr) {
    if (sw->shape().rank() == 0 || sw->shape().dim(0) != rows || sw->dtype() == DType::kBool) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": expected numeric sample_weight with ",
                                                     rows, " rows, got ", DTypeName(sw->dtype()),
                                                     sw->shape().ToString()));
    }
    out = Buffer(DType::kF32, sw->shape());
    for (int64_t i = 0; i < sw->num_elements(); ++i) out.SetFromDouble(i, sw->GetAsDouble(i));
  } else {
    out = Buffer(DType::kF32, Shape{rows});
    for (int64_t i = 0; i < rows; ++i) out.SetFromDouble(i, 1.0);
  }
  if (weights.class_weight.empty()) return out;
  const int64_t classes = static_cast<int64_t>(weights.class_weight.size());
  if (weights.class_weight.begin()->first != 0 ||
      weights.class_weight.rbegin()->first != classes - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": expected class_weight keys from 0 to one less than the number of classes, got ",
        classes, " keys from ", weights.class_weight.begin()->first, " to ",
        weights.class_weight.rbegin()->first));
  }
  if (labels == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": class_weight needs labels"));
  }
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> ids, ClassIndices(*labels, rows, what));
  const int64_t per_row = out.num_elements() / rows;
  for (int64_t r = 0; r < rows; ++r) {
    if (ids[r] < 0 || ids[r] >= classes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the label of row ", r, " is class ", ids[r],
                       ", which has no class_weight (keys 0 to ", classes - 1, ")"));
    }
    const double w = weights.class_weight.at(ids[r]);
    for (int64_t k = 0; k < per_row; ++k) {
      out.SetFromDouble(r * per_row + k, out.GetAsDouble(r * per_row + k) * w);
    }
  }
  return out;
}

absl::Status NameMetrics(std::vector<CompiledOutput>& outputs) {
  const bool several = outputs.size() > 1;
  std::set<std::string> taken;
  auto take = [&](const std::string& name) -> absl::Status {
    if (!taken.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Compile: found two metrics with the same name: '", name,
          "'; every metric of the model needs its own name"));
    }
    return absl::OkStatus();
  };
  for (CompiledOutput& out : outputs) {
    const std::string prefix = several ? absl::StrCat(out.name, "_") : "";
    out.metric_names.clear();
    out.weighted_metric_names.clear();
    for (const Metric& m : out.metrics) {
      out.metric_names.push_back(prefix + m.name());
      KILN_RETURN_IF_ERROR(take(out.metric_names.back()));
    }
    for (const Metric& m : out.weighted_metrics) {
      std::string name = prefix + m.name();
      if (taken.contains(name)) name = absl::StrCat(prefix, "weighted_", m.name());
      KILN_RETURN_IF_ERROR(take(name));
      out.weighted_metric_names.push_back(std::move(name));
    }
  }
  return absl::OkStatus();
}

StepResults BuildStepResults(absl::Span<const CompiledOutput> outputs,
                             absl::Span<const Tensor> model_outputs,
                             absl::Span<const Tensor> labels,
                             absl::Span<const Tensor> sample_weights,
                             const Tensor& regularization) {
  StepResults per_output, metrics;
  std::vector<Tensor> weight_sums;
  std::vector<int> weight_of;  // per metric: index into weight_sums, or -1
  Tensor total;
  const bool several = outputs.size() > 1;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const CompiledOutput& out = outputs[i];
    if (!out.loss.defined()) continue;
    Tensor loss = out.loss(labels[i], model_outputs[i], sample_weights[i]);
    if (loss.ok() && loss.rank() > 0) {  // Reduction::kNone: Keras still reports the mean
      IntList all;
      for (int d = 0; d < loss.rank(); ++d) all.push_back(d);
      loss = Mean(loss, all);
    }
    Tensor weighted = out.loss_weight == 1.0 ? loss : loss * out.loss_weight;
    total = total.defined() ? total + weighted : weighted;
    if (several) {
      per_output.names.push_back(absl::StrCat(out.name, "_loss"));
      per_output.values.push_back(loss);
    }
    for (size_t k = 0; k < out.metrics.size(); ++k) {
      metrics.names.push_back(out.metric_names[k]);
      metrics.values.push_back(out.metrics[k](labels[i], model_outputs[i]));
      weight_of.push_back(-1);
    }
    for (size_t k = 0; k < out.weighted_metrics.size(); ++k) {
      Metric::Weighted weighted =
          out.weighted_metrics[k].WithSampleWeight(labels[i], model_outputs[i], sample_weights[i]);
      metrics.names.push_back(out.weighted_metric_names[k]);
      metrics.values.push_back(weighted.value);
      weight_of.push_back(static_cast<int>(weight_sums.size()));
      weight_sums.push_back(weighted.weight_sum);
    }
  }
  if (regularization.defined()) total = total + regularization;
  StepResults results{{"loss"}, {total}, {}};
  for (StepResults* part : {&per_output, &metrics}) {
    results.names.insert(results.names.end(), part->names.begin(), part->names.end());
    results.values.insert(results.values.end(), part->values.begin(), part->values.end());
  }
  const int first_sum = static_cast<int>(results.values.size());
  results.weight_results.assign(1 + per_output.names.size(), -1);
  for (int w : weight_of) results.weight_results.push_back(w < 0 ? -1 : first_sum + w);
  results.values.insert(results.values.end(), weight_sums.begin(), weight_sums.end());
  return results;
}

}  // namespace kiln
