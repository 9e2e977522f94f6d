// Model::Fit and Model::Evaluate: the Keras training and evaluation loops
// over arrays, on top of Model::TrainOnBatch and Model::TestOnBatch.
#include "layers/fit.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "layers/callbacks.h"
#include "layers/fit_data.h"
#include "layers/model.h"

namespace kiln {
namespace {

// Keras's stateful means over an epoch: each batch's value weighted by its
// number of samples, or for a weighted metric by its sum of sample weights
// (0 while those sum to 0, as Keras's divide_no_nan).
class RunningMeans {
 public:
  // `weights`: one per entry of `batch` (Model::RunBatch's log_weights).
  void Add(const Logs& batch, absl::Span<const double> weights) {
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& [name, value] = batch[i];
      auto it = std::find_if(sums_.begin(), sums_.end(),
                             [&](const Sum& entry) { return entry.name == name; });
      if (it == sums_.end()) it = sums_.insert(sums_.end(), Sum{name, 0, 0});
      it->total += value * weights[i];
      it->weight += weights[i];
    }
  }
  Logs Means() const {
    Logs means;
    for (const Sum& s : sums_) means.emplace_back(s.name, s.weight == 0 ? 0 : s.total / s.weight);
    return means;
  }

 private:
  struct Sum {
    std::string name;
    double total, weight;
  };
  std::vector<Sum> sums_;
};

std::vector<const Buffer*> Pointers(const std::vector<Buffer>& buffers) {
  std::vector<const Buffer*> out;
  for (const Buffer& b : buffers) out.push_back(&b);
  return out;
}

// Pointers to a batch's targets; null for an output without targets.
std::vector<const Buffer*> TargetPointers(const std::vector<Buffer>& targets) {
  std::vector<const Buffer*> out;
  for (const Buffer& b : targets) out.push_back(b.empty() ? nullptr : &b);
  return out;
}

// A batch's weights for TrainOnBatch. On a single-output model the one
// per-output array is the sample_weight (so class_weight applies to it).
BatchWeights BatchWeightsOf(const Batch& batch, const std::map<int64_t, double>& class_weight) {
  BatchWeights weights{.class_weight = class_weight};
  if (batch.sample_weight.has_value()) weights.sample_weight = &*batch.sample_weight;
  for (const Buffer& b : batch.output_sample_weights) {
    weights.output_sample_weights.push_back(b.empty() ? nullptr : &b);
  }
  if (weights.output_sample_weights.size() == 1) {
    weights.sample_weight = weights.output_sample_weights[0];
    weights.output_sample_weights.clear();
  }
  return weights;
}

absl::Status CheckFitOptions(const FitOptions& o) {
  auto bad = [](auto... parts) {
    return absl::InvalidArgumentError(absl::StrCat("Fit: ", parts...));
  };
  if (o.epochs < 0) return bad("epochs must be >= 0, got ", o.epochs);
  if (o.batch_size <= 0) return bad("batch_size must be > 0, got ", o.batch_size);
  if (o.validation_batch_size < 0) {
    return bad("validation_batch_size must be >= 0, got ", o.validation_batch_size);
  }
  if (o.steps_per_epoch < 0) return bad("steps_per_epoch must be >= 0, got ", o.steps_per_epoch);
  if (o.initial_epoch < 0 || o.initial_epoch > o.epochs) {
    return bad("initial_epoch must be in [0, epochs=", o.epochs, "], got ", o.initial_epoch);
  }
  if (o.verbose < 0 || o.verbose > 2) return bad("verbose must be 0, 1 or 2, got ", o.verbose);
  const bool validation_targets = o.validation_y != nullptr || !o.validation_ys.empty();
  if (o.validation_y != nullptr && !o.validation_ys.empty()) {
    return bad("give validation_y or validation_ys, not both");
  }
  if (!validation_targets && !o.validation_x.empty()) {
    return bad("validation_x is set but validation_y is not");
  }
  if (!validation_targets && o.validation_sample_weight != nullptr) {
    return bad("validation_sample_weight is set but validation_y is not");
  }
  if (!validation_targets && !o.validation_output_sample_weights.empty()) {
    return bad("validation_output_sample_weights is set but validation_ys is not");
  }
  if (o.out == nullptr) return bad("out is null");
  return absl::OkStatus();
}

ProgressBarOptions BarOptions(std::ostream& out, std::optional<bool> terminal,
                              std::function<double()> clock) {
  ProgressBarOptions bar;
  bar.dynamic = terminal.value_or(IsTerminal(out));
  bar.clock = std::move(clock);
  return bar;
}

}  // namespace

absl::StatusOr<ArrayData> Model::MakeArrayData(
    absl::string_view what, absl::Span<const Buffer* const> x, absl::Span<const Buffer* const> y,
    const Buffer* sample_weight, absl::Span<const Buffer* const> output_sample_weights) const {
  if (y.size() != outputs_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": model '", name_, "' has ",
                                                   outputs_.size(), " outputs, got ", y.size(),
                                                   " target arrays (y); give one per output"));
  }
  const std::vector<std::string> names = output_names();
  if (!output_sample_weights.empty()) {
    if (sample_weight != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": give sample_weight (one array for every output) or output_sample_weights (one "
                "array per output), not both"));
    }
    if (output_sample_weights.size() != outputs_.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": model '", name_, "' has ", outputs_.size(), " outputs ('",
          absl::StrJoin(names, "', '"), "'), got ", output_sample_weights.size(),
          " output_sample_weights arrays; give one per output (null for weights of 1)"));
    }
  }
  absl::StatusOr<ArrayData> data =
      ArrayData::Make(x, y, sample_weight, names, output_sample_weights);
  if (!data.ok()) {
    return absl::Status(data.status().code(), absl::StrCat(what, ": ", data.status().message()));
  }
  return data;
}

absl::StatusOr<Logs> Model::EvaluateArrays(const ArrayData& data, const EvaluateOptions& options,
                                           absl::string_view what) {
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Evaluate: batch_size must be > 0, got ", options.batch_size));
  }
  if (data.rows == 0) return absl::InvalidArgumentError("Evaluate: the data has no rows");
  const int64_t steps = BatchesPerPass(data.rows, options.batch_size);
  std::unique_ptr<ProgressBar> bar;
  if (options.verbose > 0 && options.out != nullptr) {
    ProgressBarOptions bar_options = BarOptions(*options.out, options.terminal, options.clock);
    bar_options.verbose = options.verbose;
    bar = std::make_unique<ProgressBar>(steps, *options.out, std::move(bar_options));
  }
  BatchStream batches(data.Slice(0, data.rows), options.batch_size, /*shuffle=*/false, 0);
  RunningMeans means;
  std::vector<double> log_weights;
  for (int64_t step = 0; step < steps; ++step) {
    Batch batch = batches.Next();
    KILN_ASSIGN_OR_RETURN(Logs logs, RunBatch(/*training=*/false, Pointers(batch.x),
                                              TargetPointers(batch.y), BatchWeightsOf(batch, {}),
                                              &log_weights, what));
    means.Add(logs, log_weights);
    if (bar) {
      Logs shown = means.Means();
      if (step == 0) {
        for (const auto& entry : shown) bar->stateful_metrics().push_back(entry.first);
      }
      bar->Update(step + 1, shown);
    }
  }
  return means.Means();
}

absl::StatusOr<Logs> Model::Evaluate(absl::Span<const Buffer* const> x,
                                     absl::Span<const Buffer* const> y,
                                     const EvaluateOptions& options) {
  KILN_RETURN_IF_ERROR(status_);
  KILN_ASSIGN_OR_RETURN(ArrayData data, MakeArrayData("Evaluate", x, y, options.sample_weight,
                                                       options.output_sample_weights));
  return EvaluateArrays(data, options, "Evaluate");
}

absl::StatusOr<Logs> Model::Evaluate(absl::Span<const Buffer* const> x, const Buffer& y,
                                     const EvaluateOptions& options) {
  const Buffer* targets[] = {&y};
  return Evaluate(x, targets, options);
}

absl::StatusOr<Logs> Model::Evaluate(const Buffer& x, const Buffer& y,
                                     const EvaluateOptions& options) {
  const Buffer* inputs[] = {&x};
  return Evaluate(inputs, y, options);
}

absl::StatusOr<History> Model::Fit(const Buffer& x, const Buffer& y, const FitOptions& options) {
  const Buffer* inputs[] = {&x};
  return Fit(inputs, y, options);
}

absl::StatusOr<History> Model::Fit(absl::Span<const Buffer* const> x, const Buffer& y,
                                   const FitOptions& options) {
  const Buffer* targets[] = {&y};
  return Fit(x, targets, options);
}

absl::StatusOr<History> Model::Fit(absl::Span<const Buffer* const> x,
                                   absl::Span<const Buffer* const> y, const FitOptions& options) {
  KILN_RETURN_IF_ERROR(status_);
  KILN_RETURN_IF_ERROR(CheckFitOptions(options));
  if (!compiled()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Fit: model '", name_, "' is not compiled; call Compile(optimizer, loss) first"));
  }
  if (!options.class_weight.empty() && outputs_.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Fit: class_weight is only supported for models with a single output; model '", name_,
        "' has ", outputs_.size(), " (give sample_weight instead)"));
  }
  KILN_ASSIGN_OR_RETURN(ArrayData data, MakeArrayData("Fit", x, y, options.sample_weight,
                                                       options.output_sample_weights));
  ArrayData train, validation;
  bool validate = false;
  if (options.validation_y != nullptr || !options.validation_ys.empty()) {
    std::vector<const Buffer*> targets = options.validation_ys;
    if (targets.empty()) targets.push_back(options.validation_y);
    KILN_ASSIGN_OR_RETURN(validation,
                          MakeArrayData("Fit: validation", options.validation_x, targets,
                                        options.validation_sample_weight,
                                        options.validation_output_sample_weights));
    train = std::move(data);
    validate = true;
  } else if (options.validation_split != 0) {
    KILN_ASSIGN_OR_RETURN(auto split, data.SplitForValidation(options.validation_split));
    train = std::move(split.first);
    validation = std::move(split.second);
    validate = true;
  } else {
    train = std::move(data);
  }
  if (train.rows == 0) return absl::InvalidArgumentError("Fit: the training data has no rows");

  const bool fixed_steps = options.steps_per_epoch > 0;
  const int64_t steps =
      fixed_steps ? options.steps_per_epoch : BatchesPerPass(train.rows, options.batch_size);
  TrainingRun run;
  run.model = this;
  run.epochs = options.epochs;
  run.steps = steps;
  run.verbose = options.verbose;
  run.out = options.out;
  Optimizer* optimizer = this->optimizer().get();
  run.learning_rate = [optimizer] { return optimizer->learning_rate(); };
  run.set_learning_rate = [optimizer](double lr) { optimizer->SetLearningRate(lr); };
  run.optimizer_variables = [optimizer] { return optimizer->Variables(); };

  auto history = std::make_shared<History>();
  std::vector<std::shared_ptr<Callback>> callbacks = options.callbacks;
  callbacks.push_back(history);
  const ProgressBarOptions bar_options = BarOptions(*options.out, options.terminal, options.clock);
  if (options.verbose > 0) callbacks.push_back(std::make_shared<ProgressBarLogger>(bar_options));
  CallbackList list(std::move(callbacks), &run);
  EvaluateOptions validation_options{.batch_size = options.validation_batch_size > 0
                                                       ? options.validation_batch_size
                                                       : options.batch_size,
                                     .verbose = 0};

  // Keras builds epochs - initial_epoch passes over arrays; with
  // steps_per_epoch they may run out before the last epoch.
  const int64_t passes = options.epochs - options.initial_epoch;
  BatchStream batches(train.Slice(0, train.rows), options.batch_size, options.shuffle,
                      options.seed, fixed_steps ? passes : -1);
  int64_t batches_run = 0;
  auto warn_ran_out = [&] {  // Keras logs a warning and interrupts training
    *options.out << (options.verbose == 1 && bar_options.dynamic ? "\n" : "")
                 << "WARNING: Fit: the input ran out of data after " << batches_run
                 << " batches; interrupting training. The arrays make epochs - initial_epoch = "
                 << passes << " passes of " << BatchesPerPass(train.rows, options.batch_size)
                 << " batches, fewer than steps_per_epoch * (epochs - initial_epoch) = "
                 << passes * steps
                 << " batches; lower steps_per_epoch, or leave it 0 for one pass per epoch.\n";
  };
  std::vector<double> log_weights;
  KILN_RETURN_IF_ERROR(list.TrainBegin({}));
  Logs epoch_logs;
  bool ran_out = false;  // Keras' _insufficient_data
  for (int epoch = options.initial_epoch;
       epoch < options.epochs && !run.stop_training && !ran_out; ++epoch) {
    if (batches.exhausted()) {
      warn_ran_out();
      break;
    }
    KILN_RETURN_IF_ERROR(list.EpochBegin(epoch, {}));
    if (!fixed_steps) batches.StartPass(epoch);  // epoch e: pass e
    RunningMeans means;
    for (int64_t step = 0; step < steps; ++step) {
      if (batches.exhausted()) {
        warn_ran_out();
        ran_out = true;
        break;
      }
      KILN_RETURN_IF_ERROR(list.TrainBatchBegin(step, {}));
      Batch batch = batches.Next();
      KILN_ASSIGN_OR_RETURN(
          Logs logs, RunBatch(/*training=*/true, Pointers(batch.x), TargetPointers(batch.y),
                              BatchWeightsOf(batch, options.class_weight), &log_weights, "Fit"));
      means.Add(logs, log_weights);
      ++batches_run;
      KILN_RETURN_IF_ERROR(list.TrainBatchEnd(step, means.Means()));
      if (run.stop_training) break;
    }
    epoch_logs = means.Means();
    if (validate) {
      KILN_ASSIGN_OR_RETURN(Logs val_logs, EvaluateArrays(validation, validation_options, "Fit: validation"));
      for (const auto& [name, value] : val_logs) epoch_logs.emplace_back("val_" + name, value);
    }
    KILN_RETURN_IF_ERROR(list.EpochEnd(epoch, epoch_logs));
  }
  KILN_RETURN_IF_ERROR(list.TrainEnd(epoch_logs));
  return *history;
}

}  // namespace kiln
