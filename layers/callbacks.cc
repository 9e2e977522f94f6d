#include "layers/callbacks.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "graph/status_macros.h"

namespace kiln {

CallbackList::CallbackList(std::vector<std::shared_ptr<Callback>> callbacks, TrainingRun* run)
    : callbacks_(std::move(callbacks)) {
  callbacks_.erase(std::remove(callbacks_.begin(), callbacks_.end(), nullptr), callbacks_.end());
  for (auto& c : callbacks_) c->set_run(run);
}

absl::Status CallbackList::TrainBegin(const Logs& logs) {
  for (auto& c : callbacks_) KILN_RETURN_IF_ERROR(c->OnTrainBegin(logs));
  return absl::OkStatus();
}
absl::Status CallbackList::TrainEnd(const Logs& logs) {
  for (auto& c : callbacks_) KILN_RETURN_IF_ERROR(c->OnTrainEnd(logs));
  return absl::OkStatus();
}
absl::Status CallbackList::EpochBegin(int epoch, const Logs& logs) {
  for (auto& c : callbacks_) KILN_RETURN_IF_ERROR(c->OnEpochBegin(epoch, logs));
  return absl::OkStatus();
}
absl::Status CallbackList::EpochEnd(int epoch, Logs& logs) {
  for (auto& c : callbacks_) KILN_RETURN_IF_ERROR(c->OnEpochEnd(epoch, logs));
  return absl::OkStatus();
}
absl::Status CallbackList::TrainBatchBegin(int64_t batch, const Logs& logs) {
  for (auto& c : callbacks_) KILN_RETURN_IF_ERROR(c->OnTrainBatchBegin(batch, logs));
  return absl::OkStatus();
}
absl::Status CallbackList::TrainBatchEnd(int64_t batch, const Logs& logs) {
  for (auto& c : callbacks_) KILN_RETURN_IF_ERROR(c->OnTrainBatchEnd(batch, logs));
  return absl::OkStatus();
}

absl::Status History::OnTrainBegin(const Logs& logs) {
  epochs_.clear();
  return absl::OkStatus();
}

absl::Status History::OnEpochEnd(int epoch, Logs& logs) {
  epochs_.push_back(epoch);
  for (const auto& [name, value] : logs) {
    auto it = std::find_if(values_.begin(), values_.end(),
                           [&](const auto& entry) { return entry.first == name; });
    if (it == values_.end()) {
      values_.push_back({name, {value}});
    } else {
      it->second.push_back(value);
    }
  }
  return absl::OkStatus();
}

const std::vector<double>& History::Values(absl::string_view name) const {
  static const std::vector<double>* const kNone = new std::vector<double>();
  for (const auto& [key, values] : values_) {
    if (key == name) return values;
  }
  return *kNone;
}

std::vector<std::string> History::Names() const {
  std::vector<std::string> names;
  for (const auto& entry : values_) names.push_back(entry.first);
  return names;
}

absl::Status LambdaCallback::OnTrainBegin(const Logs& logs) {
  return on_train_begin ? on_train_begin(*this, logs) : absl::OkStatus();
}
absl::Status LambdaCallback::OnTrainEnd(const Logs& logs) {
  return on_train_end ? on_train_end(*this, logs) : absl::OkStatus();
}
absl::Status LambdaCallback::OnEpochBegin(int epoch, const Logs& logs) {
  return on_epoch_begin ? on_epoch_begin(*this, epoch, logs) : absl::OkStatus();
}
absl::Status LambdaCallback::OnEpochEnd(int epoch, Logs& logs) {
  return on_epoch_end ? on_epoch_end(*this, epoch, logs) : absl::OkStatus();
}
absl::Status LambdaCallback::OnTrainBatchBegin(int64_t batch, const Logs& logs) {
  return on_batch_begin ? on_batch_begin(*this, batch, logs) : absl::OkStatus();
}
absl::Status LambdaCallback::OnTrainBatchEnd(int64_t batch, const Logs& logs) {
  return on_batch_end ? on_batch_end(*this, batch, logs) : absl::OkStatus();
}

absl::Status ProgressBarLogger::OnEpochBegin(int epoch, const Logs& logs) {
  if (run().verbose && run().epochs > 1) {
    *run().out << absl::StrFormat("Epoch %d/%d\n", epoch + 1, run().epochs) << std::flush;
  }
  ProgressBarOptions options = options_;
  options.verbose = run().verbose;
  bar_ = std::make_unique<ProgressBar>(run().steps, *run().out, std::move(options));
  seen_ = 0;
  return absl::OkStatus();
}

namespace {
// Every name in `logs` is shown as given.
void MarkStateful(const Logs& logs, std::vector<std::string>& stateful) {
  for (const auto& entry : logs) {
    if (std::find(stateful.begin(), stateful.end(), entry.first) == stateful.end()) {
      stateful.push_back(entry.first);
    }
  }
}
}  // namespace

absl::Status ProgressBarLogger::OnTrainBatchEnd(int64_t batch, const Logs& logs) {
  seen_ = batch + 1;
  // Keras draws per batch only at verbose 1.
  if (bar_ && run().verbose == 1) {
    MarkStateful(logs, bar_->stateful_metrics());
    bar_->Update(seen_, logs, /*finalize=*/false);
  }
  return absl::OkStatus();
}

absl::Status ProgressBarLogger::OnEpochEnd(int epoch, Logs& logs) {
  if (!bar_) return absl::OkStatus();
  MarkStateful(logs, bar_->stateful_metrics());
  bar_->Update(run().steps.value_or(seen_), logs, /*finalize=*/true);
  bar_.reset();
  return absl::OkStatus();
}

bool IsTerminal(const std::ostream& out) { return &out == &std::cout && ::isatty(STDOUT_FILENO); }

}  // namespace kiln
