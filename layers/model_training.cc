// Model::Compile, TrainOnBatch and TestOnBatch: the whole training step
// (forward in training mode, the outputs' losses (sample-weighted) +
// regularization, gradients, optimizer update, constraints) built as graph
// and compiled once per kind of batch, updating the weights and the
// optimizer state in place. The step's results are built in
// model_training_step.cc.
#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "autodiff/grad.h"
#include "graph/build_context.h"
#include "graph/status_macros.h"
#include "layers/model.h"
#include "layers/layer.h"
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

// Keras' match_dtype_and_rank: labels of rank 1 for predictions of rank 2
// get a trailing axis ([N] -> [N,1]), so a [N,1] output keeps one loss
// value per sample.
TensorType MatchedLabelType(const TensorType& labels, const TensorType& prediction) {
  if (labels.shape.rank() != 1 || prediction.shape.rank() != 2) return labels;
  return TensorType{labels.dtype, Shape{labels.shape.dim(0), 1}};
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

std::vector<std::string> Model::output_names() const {
  std::vector<std::string> names;
  if (graph_ == nullptr) return names;
  const LayerGraphState& state = graph_->Attachment<LayerGraphState>();
  for (size_t i = 0; i < outputs_.size(); ++i) {
    std::string name = absl::StrCat("output_", i);
    for (const LayerCall& call : state.calls) {
      if (call.output == outputs_[i].id()) {
        name = call.layer->name();
        break;
      }
    }
    names.push_back(std::move(name));
  }
  return names;
}

absl::Status Model::Compile(std::shared_ptr<Optimizer> optimizer, Loss loss,
                            std::vector<Metric> metrics, CompileOptions options) {
  KILN_RETURN_IF_ERROR(loss.status());
  if (!loss.defined()) return absl::InvalidArgumentError("Compile: no loss");
  std::vector<OutputTraining> outputs(outputs_.size(), OutputTraining{loss, 1.0, metrics});
  return CompileOutputs(std::move(optimizer), std::move(outputs), options);
}

absl::Status Model::Compile(std::shared_ptr<Optimizer> optimizer,
                            std::vector<OutputTraining> outputs, CompileOptions options) {
  if (outputs.size() != outputs_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Compile: model '", name_, "' has ",
                                                   outputs_.size(), " outputs, got ",
                                                   outputs.size(), " output settings"));
  }
  return CompileOutputs(std::move(optimizer), std::move(outputs), options);
}

absl::Status Model::Compile(std::shared_ptr<Optimizer> optimizer,
                            std::vector<std::pair<std::string, OutputTraining>> outputs,
                            CompileOptions options) {
  KILN_RETURN_IF_ERROR(status_);
  const std::vector<std::string> names = output_names();
  std::vector<OutputTraining> by_position(names.size());
  std::set<std::string> seen;
  for (auto& [name, settings] : outputs) {
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("Compile: output '", name, "' is given twice"));
    }
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      return absl::InvalidArgumentError(absl::StrCat("Compile: model '", name_,
                                                     "' has no output named '", name,
                                                     "' (outputs: ", absl::StrJoin(names, ", "),
                                                     ")"));
    }
    by_position[it - names.begin()] = std::move(settings);
  }
  return CompileOutputs(std::move(optimizer), std::move(by_position), options);
}

absl::Status Model::CompileOutputs(std::shared_ptr<Optimizer> optimizer,
                                   std::vector<OutputTraining> outputs, CompileOptions options) {
  KILN_RETURN_IF_ERROR(status_);
  if (optimizer == nullptr) return absl::InvalidArgumentError("Compile: no optimizer");
  KILN_RETURN_IF_ERROR(optimizer->status());
  auto setup = std::make_unique<TrainingSetup>();
  const std::vector<std::string> names = output_names();
  if (std::set<std::string>(names.begin(), names.end()).size() != names.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Compile: model '", name_,
                                                   "' has outputs with one name (",
                                                   absl::StrJoin(names, ", "),
                                                   "); each output needs its own layer"));
  }
  bool any_loss = false;
  for (size_t i = 0; i < outputs.size(); ++i) {
    OutputTraining& o = outputs[i];
    KILN_RETURN_IF_ERROR(o.loss.status());
    o.weighted_metrics.insert(o.weighted_metrics.end(), options.weighted_metrics.begin(),
                              options.weighted_metrics.end());
    for (const Metric& m : o.metrics) KILN_RETURN_IF_ERROR(m.status());
    for (const Metric& m : o.weighted_metrics) KILN_RETURN_IF_ERROR(m.status());
    if (!std::isfinite(o.loss_weight)) {
      return absl::InvalidArgumentError(absl::StrCat("Compile: the loss weight of output '",
                                                     names[i], "' is ", o.loss_weight));
    }
    any_loss = any_loss || o.loss.defined();
    setup->outputs.push_back({names[i], std::move(o.loss), o.loss_weight, std::move(o.metrics),
                              std::move(o.weighted_metrics)});
  }
  if (!any_loss) return absl::InvalidArgumentError("Compile: no loss");
  KILN_RETURN_IF_ERROR(NameMetrics(setup->outputs));
  setup->optimizer = std::move(optimizer);
  setup->options.num_threads = options.num_threads;
  if (options.backend.has_value()) {
    setup->options.backend = options.backend;
  } else {
    KILN_ASSIGN_OR_RETURN(setup->options.backend, BackendFromEnvironment());
  }
  setup->optimizer->Build(trainable_weights());
  training_ = std::move(setup);
  return absl::OkStatus();
}

absl::StatusOr<Logs> Model::TrainOnBatch(absl::Span<const Buffer* const> x, const Buffer& y,
                                         const BatchWeights& weights) {
  const Buffer* labels[] = {&y};
  return RunBatch(/*training=*/true, x, labels, weights);
}
absl::StatusOr<Logs> Model::TrainOnBatch(const Buffer& x, const Buffer& y,
                                         const BatchWeights& weights) {
  const Buffer* inputs[] = {&x};
  const Buffer* labels[] = {&y};
  return RunBatch(/*training=*/true, inputs, labels, weights);
}
absl::StatusOr<Logs> Model::TrainOnBatch(absl::Span<const Buffer* const> x,
                                         absl::Span<const Buffer* const> y,
                                         const BatchWeights& weights) {
  return RunBatch(/*training=*/true, x, y, weights);
}
absl::StatusOr<Logs> Model::TestOnBatch(absl::Span<const Buffer* const> x, const Buffer& y,
                                        const BatchWeights& weights) {
  const Buffer* labels[] = {&y};
  return RunBatch(/*training=*/false, x, labels, weights);
}
absl::StatusOr<Logs> Model::TestOnBatch(const Buffer& x, const Buffer& y,
                                        const BatchWeights& weights) {
  const Buffer* inputs[] = {&x};
  const Buffer* labels[] = {&y};
  return RunBatch(/*training=*/false, inputs, labels, weights);
}
absl::StatusOr<Logs> Model::TestOnBatch(absl::Span<const Buffer* const> x,
                                        absl::Span<const Buffer* const> y,
                                        const BatchWeights& weights) {
  return RunBatch(/*training=*/false, x, y, weights);
}

absl::StatusOr<Logs> Model::RunBatch(bool training, absl::Span<const Buffer* const> x,
                                     absl::Span<const Buffer* const> y, const BatchWeights& weights,
                                     std::vector<double>* log_weights, absl::string_view caller) {
  const std::string what(!caller.empty() ? caller : training ? "TrainOnBatch" : "TestOnBatch");
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
  TrainingSetup& setup = *training_;
  if (y.size() != outputs_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": model '", name_, "' has ",
                                                   outputs_.size(), " outputs, got ", y.size(),
                                                   " label arrays"));
  }
  if (!weights.class_weight.empty() && outputs_.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": class_weight is only supported for models with a single output"));
  }
  // Checks every label array on types, so bad labels never reach the graph.
  std::vector<TensorType> label_types(y.size());
  std::string key;
  for (size_t i = 0; i < y.size(); ++i) {
    const CompiledOutput& out = setup.outputs[i];
    if (!out.loss.defined()) continue;
    const std::string label_what =
        y.size() > 1 ? absl::StrCat(what, ": labels of output '", out.name, "'") : what;
    if (y[i] == nullptr || y[i]->shape().rank() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          label_what, ": y needs a batch axis, got ",
          y[i] == nullptr ? "no array" : absl::StrCat(DTypeName(y[i]->dtype()), "[]")));
    }
    if (rows < 0) rows = y[i]->shape().dim(0);
    if (y[i]->shape().dim(0) != rows) {
      return absl::InvalidArgumentError(absl::StrCat(label_what, ": y has ",
                                                     y[i]->shape().dim(0), " rows but x has ",
                                                     rows));
    }
    label_types[i] = LabelType(*y[i]);
    const TensorType matched = MatchedLabelType(label_types[i], outputs_[i].node().type);
    if (absl::Status s = out.loss.CheckLabels(matched, outputs_[i].node().type); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(label_what, ": ", s.message()));
    }
    absl::StrAppend(&key, i, ":", label_types[i].ToString(), "|");
  }
  // One weight buffer (or none) per output: shared, or given per output.
  auto weight_what = [&](size_t i) {
    return y.size() > 1 ? absl::StrCat(what, ": sample weights of output '",
                                       setup.outputs[i].name, "'")
                        : what;
  };
  std::vector<std::optional<Buffer>> weight_buffers;
  std::vector<const Buffer*> sample_weights(y.size(), nullptr);
  if (!weights.output_sample_weights.empty()) {
    if (weights.sample_weight != nullptr || !weights.class_weight.empty() ||
        weights.output_sample_weights.size() != y.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": output_sample_weights needs one entry per output (", y.size(),
          "), without sample_weight or class_weight; got ", weights.output_sample_weights.size()));
    }
    weight_buffers.resize(y.size());
    for (size_t i = 0; i < y.size(); ++i) {
      KILN_ASSIGN_OR_RETURN(
          weight_buffers[i],
          BatchSampleWeights({.sample_weight = weights.output_sample_weights[i]}, nullptr, rows,
                             weight_what(i)));
      if (weight_buffers[i].has_value()) sample_weights[i] = &*weight_buffers[i];
    }
  } else {
    weight_buffers.resize(1);
    KILN_ASSIGN_OR_RETURN(weight_buffers[0], BatchSampleWeights(weights, y[0], rows, what));
    if (weight_buffers[0].has_value()) sample_weights.assign(y.size(), &*weight_buffers[0]);
  }
  std::vector<TensorType> weight_types(y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    if (sample_weights[i] == nullptr || !setup.outputs[i].loss.defined()) continue;
    weight_types[i] = LabelType(*sample_weights[i]);
    absl::Status s =
        setup.outputs[i].loss.CheckSampleWeight(weight_types[i], outputs_[i].node().type);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(weight_what(i), ": ", s.message()));
    absl::StrAppend(&key, "w", i, ":", weight_types[i].ToString(), "|");
  }
  Optimizer& optimizer = *setup.optimizer;
  TrainingSetup::Program& program = (training ? setup.train : setup.test)[key];
  if (program.program == nullptr ||
      (training && program.optimizer_version != optimizer.program_version())) {
    std::vector<Tensor> labels(y.size());
    for (size_t i = 0; i < y.size(); ++i) {
      if (!setup.outputs[i].loss.defined()) continue;
      labels[i] = Input(graph_, LabelsInputName(i), label_types[i].dtype, label_types[i].shape);
      const TensorType matched = MatchedLabelType(label_types[i], outputs_[i].node().type);
      if (!(matched == label_types[i])) labels[i] = Reshape(labels[i], matched.shape);
    }
    std::vector<Tensor> weight_inputs(y.size());
    for (size_t i = 0; i < y.size(); ++i) {
      if (sample_weights[i] == nullptr || !setup.outputs[i].loss.defined()) continue;
      weight_inputs[i] = Input(graph_, SampleWeightInputName(i), weight_types[i].dtype,
                               weight_types[i].shape);
    }
    const Tensor regularization = HasRegularization() ? RegularizationLoss() : Tensor();
    // The loss and metric nodes (and below, the optimizer's) are labelled
    // like layers, so profiles and errors say where they came from (the
    // location given here: a default one would name std::optional's code).
    std::optional<LayerScope> scope(std::in_place, "loss", SourceLoc::current());
    StepResults results =
        BuildStepResults(setup.outputs, outputs_, labels, weight_inputs, regularization);
    scope.reset();
    KILN_RETURN_IF_ERROR(graph_->status());
    const Tensor& loss = results.values[0];
    std::vector<VariableUpdate> updates;
    const std::vector<Weight*> trainable = trainable_weights();
    if (training && !trainable.empty()) {
      std::vector<Tensor> variables;
      for (const Weight* w : trainable) variables.push_back(WeightVariable(*w));
      KILN_ASSIGN_OR_RETURN(std::vector<Tensor> gradients, Grad(loss, variables));
      scope.emplace("optimizer", SourceLoc::current());
      KILN_ASSIGN_OR_RETURN(updates, optimizer.BuildUpdates(variables, gradients));
      scope.reset();
      for (size_t i = 0; i < trainable.size(); ++i) {  // constraints after the update
        if (trainable[i]->constraint) updates[i].value = trainable[i]->constraint(updates[i].value);
      }
      KILN_RETURN_IF_ERROR(graph_->status());
    }
    KILN_ASSIGN_OR_RETURN(program.program,
                          Executable::Compile(results.values, setup.options, updates));
    program.names = std::move(results.names);
    program.weight_results = std::move(results.weight_results);
    program.optimizer_version = optimizer.program_version();
  }
  Feeds feeds = LayerFeeds(graph_, training, training ? optimizer.iterations() : 0);
  for (size_t i = 0; i < x.size(); ++i) {
    feeds[inputs_[i].node().attrs.GetOr<std::string>("name", "")] = x[i];
  }
  for (size_t i = 0; i < y.size(); ++i) {
    if (setup.outputs[i].loss.defined()) feeds[LabelsInputName(i)] = y[i];
  }
  for (size_t i = 0; i < y.size(); ++i) {
    if (sample_weights[i] != nullptr && setup.outputs[i].loss.defined()) {
      feeds[SampleWeightInputName(i)] = sample_weights[i];
    }
  }
  MutableFeeds variables;
  if (training) {
    optimizer.AddFeeds(feeds);
    optimizer.AddVariables(variables);
    for (Weight* w : trainable_weights()) variables[w->name] = &w->value;
  }
  KILN_RETURN_IF_ERROR(program.program->RunInto(feeds, variables, setup.results));
  Logs logs;
  for (size_t i = 0; i < program.names.size(); ++i) {
    logs.emplace_back(program.names[i], setup.results[i].GetAsDouble(0));
  }
  if (log_weights != nullptr) {
    log_weights->clear();
    for (int w : program.weight_results) {
      log_weights->push_back(w < 0 ? static_cast<double>(rows) : setup.results[w].GetAsDouble(0));
    }
  }
  return logs;
}

}  // namespace kiln
