// Model::Compile, TrainOnBatch and TestOnBatch: the whole training step
// (forward in training mode, loss + regularization, gradients, optimizer
// update, constraints) built as graph and compiled once per label type,
// updating the weights and the optimizer state in place.
#include <utility>

#include "absl/strings/str_cat.h"
#include "autodiff/grad.h"
#include "graph/status_macros.h"
#include "layers/model.h"
#include "layers/model_training_internal.h"
#include "ops/ops.h"

namespace kiln {
namespace {

// The labels' type with the batch axis symbolic.
TensorType LabelType(const Buffer& y) {
  std::vector<int64_t> dims = y.shape().dims();
  dims[0] = Shape::kBatch;
  return TensorType{y.dtype(), Shape(std::move(dims))};
}

}  // namespace

Model::~Model() = default;

void Model::ResetCompiled() {
  compiled_.clear();
  if (training_ != nullptr) {
    training_->train.clear();
    training_->test.clear();
  }
}

bool Model::compiled() const { return training_ != nullptr; }

const std::shared_ptr<Optimizer>& Model::optimizer() const {
  static const std::shared_ptr<Optimizer>* const kNone = new std::shared_ptr<Optimizer>();
  return training_ != nullptr ? training_->optimizer : *kNone;
}

absl::Status Model::Compile(std::shared_ptr<Optimizer> optimizer, Loss loss,
                            std::vector<Metric> metrics, CompileOptions options) {
  KILN_RETURN_IF_ERROR(status_);
  if (optimizer == nullptr) return absl::InvalidArgumentError("Compile: no optimizer");
  KILN_RETURN_IF_ERROR(optimizer->status());
  KILN_RETURN_IF_ERROR(loss.status());
  if (!loss.defined()) return absl::InvalidArgumentError("Compile: no loss");
  for (const Metric& m : metrics) KILN_RETURN_IF_ERROR(m.status());
  if (outputs_.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("Compile: model '", name_, "' has ",
                                                   outputs_.size(),
                                                   " outputs; training supports one"));
  }
  auto setup = std::make_unique<TrainingSetup>();
  setup->optimizer = std::move(optimizer);
  setup->loss = std::move(loss);
  setup->metrics = std::move(metrics);
  setup->options.num_threads = options.num_threads;
  if (options.backend.has_value()) {
    setup->options.backend = options.backend;
  } else {
    KILN_ASSIGN_OR_RETURN(setup->options.backend, BackendFromEnvironment());
  }
  training_ = std::move(setup);
  return absl::OkStatus();
}

absl::StatusOr<Logs> Model::TrainOnBatch(absl::Span<const Buffer* const> x, const Buffer& y) {
  return RunBatch(/*training=*/true, x, y);
}
absl::StatusOr<Logs> Model::TrainOnBatch(const Buffer& x, const Buffer& y) {
  const Buffer* inputs[] = {&x};
  return RunBatch(/*training=*/true, inputs, y);
}
absl::StatusOr<Logs> Model::TestOnBatch(absl::Span<const Buffer* const> x, const Buffer& y) {
  return RunBatch(/*training=*/false, x, y);
}
absl::StatusOr<Logs> Model::TestOnBatch(const Buffer& x, const Buffer& y) {
  const Buffer* inputs[] = {&x};
  return RunBatch(/*training=*/false, inputs, y);
}

absl::StatusOr<Logs> Model::RunBatch(bool training, absl::Span<const Buffer* const> x,
                                     const Buffer& y) {
  const char* what = training ? "TrainOnBatch" : "TestOnBatch";
  KILN_RETURN_IF_ERROR(status_);
  if (training_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": model '", name_, "' is not compiled: call Compile(optimizer, loss) first"));
  }
  if (x.size() != inputs_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": model '", name_, "' has ",
                                                   inputs_.size(), " inputs, got ", x.size(),
                                                   " arrays"));
  }
  KILN_ASSIGN_OR_RETURN(int64_t rows, CheckInputArrays(x, what));
  if (y.shape().rank() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": y needs a batch axis, got ", DTypeName(y.dtype()), "[]"));
  }
  if (rows >= 0 && y.shape().dim(0) != rows) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": y has ", y.shape().dim(0),
                                                   " rows but x has ", rows));
  }
  TrainingSetup& setup = *training_;
  Optimizer& optimizer = *setup.optimizer;
  const TensorType label_type = LabelType(y);
  if (absl::Status s = setup.loss.CheckLabels(label_type, outputs_[0].node().type); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
  }
  TrainingSetup::Program& program =
      (training ? setup.train : setup.test)[label_type.ToString()];
  if (program.program == nullptr ||
      (training && program.optimizer_version != optimizer.program_version())) {
    Tensor labels = Input(graph_, kLabelsName, label_type.dtype, label_type.shape);
    Tensor loss = setup.loss(labels, outputs_[0]);
    if (loss.ok() && loss.rank() > 0) {  // Reduction::kNone: Keras still reports the mean
      IntList all;
      for (int i = 0; i < loss.rank(); ++i) all.push_back(i);
      loss = Mean(loss, all);
    }
    if (HasRegularization()) loss = loss + RegularizationLoss();
    std::vector<Tensor> results = {loss};
    for (const Metric& m : setup.metrics) results.push_back(m(labels, outputs_[0]));
    KILN_RETURN_IF_ERROR(graph_->status());
    std::vector<VariableUpdate> updates;
    const std::vector<Weight*> trainable = trainable_weights();
    if (training && !trainable.empty()) {
      std::vector<Tensor> variables;
      for (const Weight* w : trainable) variables.push_back(WeightVariable(*w));
      KILN_ASSIGN_OR_RETURN(std::vector<Tensor> gradients, Grad(loss, variables));
      KILN_ASSIGN_OR_RETURN(updates, optimizer.BuildUpdates(variables, gradients));
      for (size_t i = 0; i < trainable.size(); ++i) {  // constraints after the update
        if (trainable[i]->constraint) updates[i].value = trainable[i]->constraint(updates[i].value);
      }
      KILN_RETURN_IF_ERROR(graph_->status());
    }
    KILN_ASSIGN_OR_RETURN(program.program, Executable::Compile(results, setup.options, updates));
    program.optimizer_version = optimizer.program_version();
  }
  Feeds feeds = LayerFeeds(graph_, training, training ? optimizer.iterations() : 0);
  for (size_t i = 0; i < x.size(); ++i) {
    feeds[inputs_[i].node().attrs.GetOr<std::string>("name", "")] = x[i];
  }
  feeds[kLabelsName] = &y;
  MutableFeeds variables;
  if (training) {
    optimizer.AddFeeds(feeds);
    optimizer.AddVariables(variables);
    for (Weight* w : trainable_weights()) variables[w->name] = &w->value;
  }
  KILN_RETURN_IF_ERROR(program.program->RunInto(feeds, variables, setup.results));
  Logs logs = {{"loss", setup.results[0].GetAsDouble(0)}};
  for (size_t i = 0; i < setup.metrics.size(); ++i) {
    logs.emplace_back(setup.metrics[i].name(), setup.results[i + 1].GetAsDouble(0));
  }
  return logs;
}

}  // namespace kiln
