#include "layers/monitor_callbacks.h"

#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "layers/model.h"
#include "layers/python_format.h"

namespace kiln {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Whether `mode` means "larger is better" for `monitor`; auto decides by
// `says_accuracy`.
absl::StatusOr<bool> Maximize(absl::string_view callback, const std::string& mode,
                              bool says_accuracy) {
  if (mode == "min") return false;
  if (mode == "max") return true;
  if (mode == "auto") return says_accuracy;
  return absl::InvalidArgumentError(
      absl::StrCat(callback, ": mode '", mode, "' is not one of auto, min, max"));
}

// The monitored value, or nullopt after Keras's warning.
std::optional<double> Monitored(absl::string_view callback, const std::string& monitor,
                                const Logs& logs) {
  std::optional<double> value = FindLog(logs, monitor);
  if (!value) {
    std::vector<std::string> names;
    for (const auto& entry : logs) names.push_back(entry.first);
    std::cerr << "WARNING: " << callback << " conditioned on metric `" << monitor
              << "` which is not available. Available metrics are: " << absl::StrJoin(names, ",")
              << "\n";
  }
  return value;
}

absl::Status NeedsOptimizer(const TrainingRun& run, absl::string_view callback) {
  if (run.learning_rate && run.set_learning_rate) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(callback, " needs a model compiled with an optimizer"));
}

}  // namespace

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
  options_.min_delta = std::abs(options_.min_delta);
}

absl::Status EarlyStopping::OnTrainBegin(const Logs& logs) {
  const std::string& m = options_.monitor;
  absl::StatusOr<bool> maximize = Maximize(
      "EarlyStopping", options_.mode,
      absl::EndsWith(m, "acc") || absl::EndsWith(m, "accuracy") || absl::EndsWith(m, "auc"));
  if (!maximize.ok()) return maximize.status();
  maximize_ = *maximize;
  wait_ = 0;
  stopped_epoch_ = 0;
  best_ = maximize_ ? -kInf : kInf;
  best_weights_.clear();
  best_epoch_ = 0;
  return absl::OkStatus();
}

bool EarlyStopping::Improves(double value, double reference) const {
  return maximize_ ? value - options_.min_delta > reference
                   : value + options_.min_delta < reference;
}

void EarlyStopping::SaveBestWeights() {
  best_weights_.clear();
  for (Weight* w : model()->weights()) best_weights_.push_back(w->value.Clone());
}

absl::Status EarlyStopping::OnEpochEnd(int epoch, Logs& logs) {
  std::optional<double> current = Monitored("Early stopping", options_.monitor, logs);
  if (!current || epoch < options_.start_from_epoch) return absl::OkStatus();
  if (options_.restore_best_weights && best_weights_.empty()) {
    SaveBestWeights();  // the current weights are the best seen so far
    best_epoch_ = epoch;
  }
  ++wait_;
  if (Improves(*current, best_)) {
    best_ = *current;
    best_epoch_ = epoch;
    if (options_.restore_best_weights) SaveBestWeights();
    // Only a value that also beats the baseline restarts the wait.
    if (!options_.baseline || Improves(*current, *options_.baseline)) wait_ = 0;
    return absl::OkStatus();
  }
  if (wait_ >= options_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    run().stop_training = true;
    if (options_.restore_best_weights && !best_weights_.empty()) {
      if (options_.verbose > 0) {
        *run().out << "Restoring model weights from the end of the best epoch: " << best_epoch_ + 1
                   << ".\n";
      }
      std::vector<Weight*> weights = model()->weights();
      for (size_t i = 0; i < weights.size() && i < best_weights_.size(); ++i) {
        std::memcpy(weights[i]->value.raw(), best_weights_[i].raw(), best_weights_[i].size_bytes());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status EarlyStopping::OnTrainEnd(const Logs& logs) {
  if (stopped_epoch_ > 0 && options_.verbose > 0) {
    *run().out << "Epoch " << stopped_epoch_ + 1 << ": early stopping\n";
  }
  return absl::OkStatus();
}

LearningRateScheduler::LearningRateScheduler(std::function<double(int, double)> schedule,
                                             int verbose)
    : schedule_(std::move(schedule)), verbose_(verbose) {}

absl::Status LearningRateScheduler::OnEpochBegin(int epoch, const Logs& logs) {
  if (absl::Status s = NeedsOptimizer(run(), "LearningRateScheduler"); !s.ok()) return s;
  if (!schedule_) return absl::InvalidArgumentError("LearningRateScheduler: no schedule function");
  const double lr = schedule_(epoch, run().learning_rate());
  if (!std::isfinite(lr) || lr < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("LearningRateScheduler: the schedule gave learning rate ", PythonFloatText(lr),
                     " for epoch ", epoch, "; expected a finite number >= 0"));
  }
  run().set_learning_rate(lr);
  if (verbose_ > 0) {
    *run().out << "\nEpoch " << epoch + 1 << ": LearningRateScheduler setting learning rate to "
               << PythonFloatText(lr) << ".\n";
  }
  return absl::OkStatus();
}

absl::Status LearningRateScheduler::OnEpochEnd(int epoch, Logs& logs) {
  if (run().learning_rate) SetLog(logs, "lr", run().learning_rate());
  return absl::OkStatus();
}

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options)
    : options_(std::move(options)) {}

absl::Status ReduceLROnPlateau::OnTrainBegin(const Logs& logs) {
  if (options_.factor >= 1.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ReduceLROnPlateau does not support a factor >= 1.0. Got ",
                     PythonFloatText(options_.factor)));
  }
  if (absl::Status s = NeedsOptimizer(run(), "ReduceLROnPlateau"); !s.ok()) return s;
  absl::StatusOr<bool> maximize =
      Maximize("ReduceLROnPlateau", options_.mode, absl::StrContains(options_.monitor, "acc"));
  if (!maximize.ok()) return maximize.status();
  maximize_ = *maximize;
  best_ = maximize_ ? -kInf : kInf;
  wait_ = 0;
  cooldown_counter_ = 0;
  return absl::OkStatus();
}

absl::Status ReduceLROnPlateau::OnEpochEnd(int epoch, Logs& logs) {
  SetLog(logs, "lr", run().learning_rate());
  std::optional<double> current = Monitored("Learning rate reduction", options_.monitor, logs);
  if (!current) return absl::OkStatus();
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  const bool improved =
      maximize_ ? *current > best_ + options_.min_delta : *current < best_ - options_.min_delta;
  if (improved) {
    best_ = *current;
    wait_ = 0;
  } else if (cooldown_counter_ == 0 && ++wait_ >= options_.patience) {
    const double old_lr = run().learning_rate();
    // Keras compares against the float32 of min_lr.
    if (old_lr > static_cast<float>(options_.min_lr)) {
      const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
      run().set_learning_rate(new_lr);
      if (options_.verbose > 0) {
        *run().out << "\nEpoch " << epoch + 1 << ": ReduceLROnPlateau reducing learning rate to "
                   << PythonFloatText(new_lr) << ".\n";
      }
      cooldown_counter_ = options_.cooldown;
      wait_ = 0;
    }
  }
  return absl::OkStatus();
}

}  // namespace kiln
