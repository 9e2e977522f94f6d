// Callbacks: hooks Fit calls as training runs, as tf.keras 2.x
// `keras.callbacks`: the Callback interface, History (what Fit returns),
// LambdaCallback, and ProgressBarLogger (the `Epoch 1/5` line and the bar).
// EarlyStopping, LearningRateScheduler and ReduceLROnPlateau are in
// layers/monitor_callbacks.h, ModelCheckpoint in layers/model_checkpoint.h.
//
//   auto history = std::make_shared<History>();
//   auto stop = std::make_shared<LambdaCallback>();
//   stop->on_epoch_end = [](Callback& self, int epoch, Logs& logs) {
//     if (FindLog(logs, "loss").value_or(1) < 0.1) self.run().stop_training = true;
//     return absl::OkStatus();
//   };
//   FitOptions{.callbacks = {stop}} ...; history->Values("loss")
//
// Order of calls (Fit): OnTrainBegin; per epoch OnEpochBegin, per batch
// OnTrainBatchBegin/End (logs: running epoch averages so far), OnEpochEnd
// (logs: the epoch's averages then "val_..." values; callbacks may add
// entries, e.g. "lr", which later callbacks and History see); OnTrainEnd.
// Callbacks run in the order given, then History, then the progress bar (as
// Keras appends its defaults). Setting run().stop_training ends training
// after the current epoch. A hook that returns an error stops Fit with it.
#ifndef KILN_LAYERS_CALLBACKS_H_
#define KILN_LAYERS_CALLBACKS_H_

#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "graph/buffer.h"
#include "layers/logs.h"
#include "layers/progress_bar.h"

namespace kiln {

class Model;

// What the callbacks of one Fit see and may change (Keras: self.model,
// self.params, model.stop_training, model.optimizer).
struct TrainingRun {
  Model* model = nullptr;
  int epochs = 1;
  std::optional<int64_t> steps;  // per epoch; nullopt when unknown
  int verbose = 1;
  bool stop_training = false;
  // The compiled optimizer, when there is one (Fit sets these).
  std::function<double()> learning_rate;
  std::function<void(double)> set_learning_rate;
  std::function<std::vector<std::pair<std::string, Buffer*>>()> optimizer_variables;
  // Where callbacks print (ProgressBarLogger, verbose messages).
  std::ostream* out = &std::cout;
};

class Callback {
 public:
  virtual ~Callback() = default;

  virtual absl::Status OnTrainBegin(const Logs& logs) { return absl::OkStatus(); }
  virtual absl::Status OnTrainEnd(const Logs& logs) { return absl::OkStatus(); }
  virtual absl::Status OnEpochBegin(int epoch, const Logs& logs) { return absl::OkStatus(); }
  virtual absl::Status OnEpochEnd(int epoch, Logs& logs) { return absl::OkStatus(); }
  virtual absl::Status OnTrainBatchBegin(int64_t batch, const Logs& logs) {
    return absl::OkStatus();
  }
  virtual absl::Status OnTrainBatchEnd(int64_t batch, const Logs& logs) { return absl::OkStatus(); }

  // Valid from OnTrainBegin on.
  TrainingRun& run() const { return *run_; }
  Model* model() const { return run_->model; }
  void set_run(TrainingRun* run) { run_ = run; }

 private:
  TrainingRun* run_ = nullptr;
};

// Calls each callback's hook in order; the first error stops the round.
class CallbackList {
 public:
  CallbackList(std::vector<std::shared_ptr<Callback>> callbacks, TrainingRun* run);
  absl::Status TrainBegin(const Logs& logs);
  absl::Status TrainEnd(const Logs& logs);
  absl::Status EpochBegin(int epoch, const Logs& logs);
  absl::Status EpochEnd(int epoch, Logs& logs);
  absl::Status TrainBatchBegin(int64_t batch, const Logs& logs);
  absl::Status TrainBatchEnd(int64_t batch, const Logs& logs);

 private:
  std::vector<std::shared_ptr<Callback>> callbacks_;
};

// Every epoch's logs by name (Keras history.history), and the epochs run.
class History : public Callback {
 public:
  absl::Status OnTrainBegin(const Logs& logs) override;
  absl::Status OnEpochEnd(int epoch, Logs& logs) override;

  // The values of `name`, one per epoch; empty when never logged.
  const std::vector<double>& Values(absl::string_view name) const;
  // Names in first-logged order.
  std::vector<std::string> Names() const;
  const std::vector<int>& epochs() const { return epochs_; }

 private:
  std::vector<int> epochs_;
  std::vector<std::pair<std::string, std::vector<double>>> values_;
};

// A callback from lambdas (Keras LambdaCallback); unset hooks do nothing.
class LambdaCallback : public Callback {
 public:
  std::function<absl::Status(Callback&, const Logs&)> on_train_begin, on_train_end;
  std::function<absl::Status(Callback&, int, const Logs&)> on_epoch_begin;
  std::function<absl::Status(Callback&, int, Logs&)> on_epoch_end;
  std::function<absl::Status(Callback&, int64_t, const Logs&)> on_batch_begin, on_batch_end;

  absl::Status OnTrainBegin(const Logs& logs) override;
  absl::Status OnTrainEnd(const Logs& logs) override;
  absl::Status OnEpochBegin(int epoch, const Logs& logs) override;
  absl::Status OnEpochEnd(int epoch, Logs& logs) override;
  absl::Status OnTrainBatchBegin(int64_t batch, const Logs& logs) override;
  absl::Status OnTrainBatchEnd(int64_t batch, const Logs& logs) override;
};

// Keras ProgbarLogger: "Epoch 3/5" when there is more than one epoch, then
// a ProgressBar per epoch over the steps, finalized with the epoch's logs
// (validation values included) at run().steps when known, as Keras
// finalizes at params["steps"] even for an epoch that ran out of data.
// Values are shown as given (Fit passes running averages).
// `bar_options.verbose` comes from run().verbose.
class ProgressBarLogger : public Callback {
 public:
  explicit ProgressBarLogger(ProgressBarOptions bar_options) : options_(std::move(bar_options)) {}
  absl::Status OnEpochBegin(int epoch, const Logs& logs) override;
  absl::Status OnTrainBatchEnd(int64_t batch, const Logs& logs) override;
  absl::Status OnEpochEnd(int epoch, Logs& logs) override;

 private:
  ProgressBarOptions options_;
  std::unique_ptr<ProgressBar> bar_;
  int64_t seen_ = 0;
};

// True when `out` is std::cout and stdout is a terminal.
bool IsTerminal(const std::ostream& out);

}  // namespace kiln

#endif  // KILN_LAYERS_CALLBACKS_H_
