#include "layers/model_checkpoint.h"

#include <cmath>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/status_macros.h"
#include "layers/checkpoint.h"
#include "layers/model.h"
#include "layers/python_format.h"

namespace kiln {

ModelCheckpoint::ModelCheckpoint(std::string filepath, ModelCheckpointOptions options)
    : filepath_(std::move(filepath)), options_(std::move(options)) {}

absl::Status ModelCheckpoint::OnTrainBegin(const Logs& logs) {
  const std::string& mode = options_.mode;
  if (mode == "min" || mode == "max") {
    maximize_ = mode == "max";
  } else if (mode == "auto") {
    maximize_ = absl::StrContains(options_.monitor, "acc") ||
                absl::StartsWith(options_.monitor, "fmeasure");
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("ModelCheckpoint: mode '", mode, "' is not one of auto, min, max"));
  }
  const auto* batches = std::get_if<int64_t>(&options_.save_freq);
  const auto* name = std::get_if<std::string>(&options_.save_freq);
  if ((batches != nullptr && *batches <= 0) || (name != nullptr && *name != "epoch")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ModelCheckpoint: save_freq must be \"epoch\" or a number of batches > 0, got ",
        batches != nullptr ? absl::StrCat(*batches) : absl::StrCat("\"", *name, "\"")));
  }
  const double inf = std::numeric_limits<double>::infinity();
  best_ = options_.initial_value_threshold.value_or(maximize_ ? -inf : inf);
  return absl::OkStatus();
}

absl::Status ModelCheckpoint::Save(const std::string& path, int epochs_done) {
  if (options_.save_weights_only) return model()->SaveWeights(path);
  std::vector<std::pair<std::string, Buffer*>> state;
  if (run().optimizer_variables) state = run().optimizer_variables();
  return SaveCheckpoint(path, *model(), state, epochs_done);
}

absl::Status ModelCheckpoint::OnEpochBegin(int epoch, const Logs& logs) {
  current_epoch_ = epoch;
  return absl::OkStatus();
}

absl::Status ModelCheckpoint::OnEpochEnd(int epoch, Logs& logs) {
  if (!std::holds_alternative<std::string>(options_.save_freq)) return absl::OkStatus();
  return SaveModel(epoch, std::nullopt, logs);
}

absl::Status ModelCheckpoint::OnTrainBatchEnd(int64_t batch, const Logs& logs) {
  if (!ShouldSaveOnBatch(batch)) return absl::OkStatus();
  return SaveModel(current_epoch_, batch, logs);
}

bool ModelCheckpoint::ShouldSaveOnBatch(int64_t batch) {
  const auto* every = std::get_if<int64_t>(&options_.save_freq);
  if (every == nullptr) return false;
  // A batch number not above the last one starts a new epoch.
  batches_since_save_ += batch <= last_batch_seen_ ? batch + 1 : batch - last_batch_seen_;
  last_batch_seen_ = batch;
  if (batches_since_save_ < *every) return false;
  batches_since_save_ = 0;
  return true;
}

absl::Status ModelCheckpoint::SaveModel(int epoch, std::optional<int64_t> batch,
                                        const Logs& logs) {
  std::optional<int64_t> shown_batch;
  if (batch.has_value()) shown_batch = *batch + 1;
  absl::StatusOr<std::string> path = FormatPath(filepath_, epoch + 1, logs, shown_batch);
  if (!path.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ModelCheckpoint: failed to format the file path: ", path.status().message()));
  }
  // After a batch, the current epoch is not done yet.
  const int epochs_done = batch.has_value() ? epoch : epoch + 1;
  std::ostream& out = *run().out;
  if (!options_.save_best_only) {
    if (options_.verbose > 0)
      out << "\nEpoch " << epoch + 1 << ": saving model to " << *path << "\n";
    return Save(*path, epochs_done);
  }
  std::optional<double> current = FindLog(logs, options_.monitor);
  if (!current) {
    std::cerr << "WARNING: Can save best model only with " << options_.monitor
              << " available, skipping.\n";
    return absl::OkStatus();
  }
  const bool improved = maximize_ ? *current > best_ : *current < best_;
  if (!improved) {
    if (options_.verbose > 0) {
      out << absl::StrFormat("\nEpoch %d: %s did not improve from %.5f\n", epoch + 1,
                             options_.monitor, best_);
    }
    return absl::OkStatus();
  }
  if (options_.verbose > 0) {
    out << absl::StrFormat("\nEpoch %d: %s improved from %.5f to %.5f, saving model to %s\n",
                           epoch + 1, options_.monitor, best_, *current, *path);
  }
  best_ = *current;
  return Save(*path, epochs_done);
}

}  // namespace kiln
