// ValueAndGrad: a user loss over a model, differentiated and compiled.
#include "layers/value_and_grad.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "autodiff/grad.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {

std::vector<const Buffer*> LossAndGradients::GradientPointers() const {
  std::vector<const Buffer*> out;
  for (const Buffer& g : gradients) out.push_back(&g);
  return out;
}

ValueAndGrad::ValueAndGrad(Model& model, LossFunction loss_fn, ValueAndGradOptions options)
    : model_(model),
      loss_fn_(std::move(loss_fn)),
      options_(options),
      weights_(model.trainable_weights()) {}

ValueAndGrad::~ValueAndGrad() = default;

absl::StatusOr<LossAndGradients> ValueAndGrad::operator()(const Buffer& x, const Buffer& labels,
                                                          int64_t step) {
  const Buffer* xs[] = {&x};
  const Buffer* ys[] = {&labels};
  return (*this)(xs, ys, step);
}

absl::StatusOr<LossAndGradients> ValueAndGrad::operator()(absl::Span<const Buffer* const> x,
                                                          absl::Span<const Buffer* const> labels,
                                                          int64_t step) {
  KILN_RETURN_IF_ERROR(model_.status());
  const std::vector<Tensor>& inputs = model_.inputs();
  if (x.size() != inputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ValueAndGrad: model '", model_.name(),
                                                   "' has ", inputs.size(), " inputs, got ",
                                                   x.size(), " arrays"));
  }
  if (weights_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("ValueAndGrad: model '", model_.name(), "' has no trainable weights"));
  }
  std::string key;
  std::vector<TensorType> label_types;
  for (const Buffer* y : labels) {
    if (y == nullptr) return absl::InvalidArgumentError("ValueAndGrad: a label array is null");
    std::vector<int64_t> dims = y->shape().dims();
    if (!dims.empty()) dims[0] = Shape::kBatch;
    label_types.push_back({y->dtype(), Shape(std::move(dims))});
    absl::StrAppend(&key, label_types.back().ToString(), ";");
  }
  std::unique_ptr<Executable>& program = programs_[key];
  if (program == nullptr) {
    const std::shared_ptr<Graph>& graph = model_.graph();
    std::vector<Tensor> label_inputs;
    for (size_t i = 0; i < label_types.size(); ++i) {
      label_inputs.push_back(Input(graph, absl::StrCat("kiln.labels.", i), label_types[i].dtype,
                                   label_types[i].shape));
    }
    Tensor loss = loss_fn_(model_.outputs(), label_inputs);
    KILN_RETURN_IF_ERROR(graph->status());
    if (!loss.ok() || loss.rank() != 0 || loss.dtype() != DType::kF32) {
      programs_.erase(key);
      return absl::InvalidArgumentError(absl::StrCat(
          "ValueAndGrad: the loss function must return an f32 scalar, got ",
          loss.ok() ? loss.node().type.ToString() : "no tensor"));
    }
    if (options_.add_regularization && model_.HasRegularization()) {
      loss = loss + model_.RegularizationLoss();
    }
    std::vector<Tensor> variables;
    for (const Weight* w : weights_) variables.push_back(model_.WeightVariable(*w));
    KILN_ASSIGN_OR_RETURN(std::vector<Tensor> gradients, Grad(loss, variables));
    std::vector<Tensor> results = {loss};
    results.insert(results.end(), gradients.begin(), gradients.end());
    absl::StatusOr<std::unique_ptr<Executable>> compiled = Executable::Compile(
        results, {.backend = options_.backend, .num_threads = options_.num_threads});
    if (!compiled.ok()) {
      programs_.erase(key);
      return compiled.status();
    }
    program = *std::move(compiled);
  }
  Feeds feeds = LayerFeeds(model_.graph(), options_.training, step);
  for (size_t i = 0; i < x.size(); ++i) {
    feeds[inputs[i].node().attrs.GetOr<std::string>("name", "")] = x[i];
  }
  for (size_t i = 0; i < labels.size(); ++i) feeds[absl::StrCat("kiln.labels.", i)] = labels[i];
  KILN_ASSIGN_OR_RETURN(std::vector<Buffer> out, program->Run(feeds));
  LossAndGradients result;
  result.loss = out[0].GetAsDouble(0);
  for (size_t i = 1; i < out.size(); ++i) result.gradients.push_back(std::move(out[i]));
  return result;
}

}  // namespace kiln
