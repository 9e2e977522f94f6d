// The parts of a training or test step that do not depend on the Model
// object: the per-sample weights of a batch (Keras' sample_weight times
// class_weight, computed on the host as Keras' data adapter does), and the
// step's scalar results (the total loss, the per-output losses and the
// metrics) as graph, in Keras' log order and with Keras' names.
#include <algorithm>
#include <cmath>
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

StepResults BuildStepResults(absl::Span<const CompiledOutput> outputs,
                             absl::Span<const Tensor> model_outputs,
                             absl::Span<const Tensor> labels,
                             absl::Span<const Tensor> sample_weights,
                             const Tensor& regularization) {
  StepResults per_output, metrics;
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
    for (const Metric& m : out.metrics) {
      metrics.names.push_back(several ? absl::StrCat(out.name, "_", m.name()) : m.name());
      metrics.values.push_back(m(labels[i], model_outputs[i]));
    }
  }
  if (regularization.defined()) total = total + regularization;
  StepResults results{{"loss"}, {total}};
  for (StepResults* part : {&per_output, &metrics}) {
    results.names.insert(results.names.end(), part->names.begin(), part->names.end());
    results.values.insert(results.values.end(), part->values.begin(), part->values.end());
  }
  return results;
}

}  // namespace kiln
