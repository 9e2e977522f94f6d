// Logs: the named numbers a training step, an epoch or an evaluation
// reports, in Keras order ("loss" first, then the metrics, then "val_..."),
// as Fit, Evaluate, callbacks and the progress bar pass them around.
//
//   Logs logs = {{"loss", 0.43}, {"accuracy", 0.85}};
//   std::optional<double> acc = FindLog(logs, "accuracy");   // 0.85
//   SetLog(logs, "lr", 1e-3);                                 // appended
#ifndef KILN_LAYERS_LOGS_H_
#define KILN_LAYERS_LOGS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace kiln {

using Logs = std::vector<std::pair<std::string, double>>;

// The value named `name`, or nullopt.
inline std::optional<double> FindLog(const Logs& logs, absl::string_view name) {
  for (const auto& [key, value] : logs) {
    if (key == name) return value;
  }
  return std::nullopt;
}

// Replaces the value named `name`, or appends it (Keras: logs[name] = v).
inline void SetLog(Logs& logs, absl::string_view name, double value) {
  for (auto& [key, old] : logs) {
    if (key == name) {
      old = value;
      return;
    }
  }
  logs.emplace_back(std::string(name), value);
}

}  // namespace kiln

#endif  // KILN_LAYERS_LOGS_H_
