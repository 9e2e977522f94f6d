#include "layers/model_checkpoint.h"

#include <cmath>
#include <iostream>
#include <limits>

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
  const double inf = std::numeric_limits<double>::infinity();
  best_ = options_.initial_value_threshold.value_or(maximize_ ? -inf : inf);
  return absl::OkStatus();
}

absl::Status ModelCheckpoint::Save(const std::string& path, int epoch) {
  if (options_.save_weights_only) return model()->SaveWeights(path);
  std::vector<std::pair<std::string, Buffer*>> state;
  if (run().optimizer_variables) state = run().optimizer_variables();
  return SaveCheckpoint(path, *model(), state, epoch + 1);
}

absl::Status ModelCheckpoint::OnEpochEnd(int epoch, Logs& logs) {
  absl::StatusOr<std::string> path = FormatPath(filepath_, epoch + 1, logs);
  if (!path.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ModelCheckpoint: failed to format the file path: ", path.status().message()));
  }
  std::ostream& out = *run().out;
  if (!options_.save_best_only) {
    if (options_.verbose > 0)
      out << "\nEpoch " << epoch + 1 << ": saving model to " << *path << "\n";
    return Save(*path, epoch);
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
  return Save(*path, epoch);
}

}  // namespace kiln
