// ProgressBar: the tf.keras 2.x `Progbar` (keras.utils.Progbar) for C++, the
// line Fit and Evaluate print while they run:
//
//   600/600 [==============================] - 25s 41ms/step - loss: 0.4321 - accuracy: 0.8456
//
//   ProgressBar bar(/*target=*/600, std::cout, {.verbose = 1, .dynamic = true});
//   for (int step = 1; step <= 600; ++step) bar.Update(step, {{"loss", loss}});
//
// What it prints follows Keras's rules exactly:
// - `current/target [bar]`: `current` right-aligned to the digits of target,
//   a bar of `width` characters: `=` for done, `>` as the head while running,
//   `.` for the rest; without a target `   current/Unknown`.
// - while running ` - ETA: 12s` (`m:ss` past a minute, `h:mm:ss` past an
//   hour); when done ` - 25s 41ms/step`: elapsed whole seconds, then the time
//   per step (s, ms or us, whichever keeps it ≥ 1); the first step (which
//   compiles) is left out of the per-step estimate once there are others.
// - ` - name: value` for each value in first-seen order, `%.4f`, or `%.4e`
//   when |value| ≤ 1e-3. Names in `stateful_metrics` are shown as given (Fit
//   passes running epoch averages); others are averaged over steps.
// - verbose 1 on a terminal (`dynamic`): the line is redrawn in place
//   (backspaces over the previous line, then `\r`, padded with spaces when it
//   got shorter) at most every `interval_seconds`, and ends with `\n` when
//   finalized. verbose 1 elsewhere (a log file): only the final line, once.
// - verbose 2: one line when finalized, Keras's semi-verbose form
//   `600/600 - 25s - loss: 0.4321 - 25s/epoch - 41ms/step`.
// - verbose 0: nothing.
// The clock is injectable so tests can compare exact strings.
#ifndef KILN_LAYERS_PROGRESS_BAR_H_
#define KILN_LAYERS_PROGRESS_BAR_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "layers/logs.h"

namespace kiln {

struct ProgressBarOptions {
  int verbose = 1;                 // 0 silent, 1 bar, 2 one line when done
  bool dynamic = false;            // a terminal: redraw the line in place
  int width = 30;                  // characters between [ and ]
  double interval_seconds = 0.05;  // minimum time between redraws
  std::string unit_name = "step";
  std::vector<std::string> stateful_metrics;  // shown as given, not averaged
  std::function<double()> clock;              // seconds; default: a steady clock
};

class ProgressBar {
 public:
  // `target`: the number of steps, or nullopt when unknown.
  ProgressBar(std::optional<int64_t> target, std::ostream& out, ProgressBarOptions options = {});

  // Step `current` (1-based) is done; `values` are this step's numbers.
  // `finalize` defaults to current >= target.
  void Update(int64_t current, const Logs& values, std::optional<bool> finalize = std::nullopt);
  // Update(steps seen so far + n, values).
  void Add(int64_t n, const Logs& values) { Update(seen_ + n, values); }

  // Names shown as given; callers may add to it between updates.
  std::vector<std::string>& stateful_metrics() { return options_.stateful_metrics; }

  // Keras's duration text: " 41ms/step", " 2s/epoch", " 850us/step".
  static std::string FormatTime(double seconds_per_unit, const std::string& unit_name);
  // Keras's value text: "0.4321", or "1.2346e-04" when |value| <= 1e-3
  // (verbose 2 compares the signed value, as Keras does).
  static std::string FormatValue(double value, bool signed_compare = false);

 private:
  double Now() const;
  double EstimateStepSeconds(int64_t current, double now);
  std::string Bar(int64_t current) const;
  std::string ValuesText(bool signed_compare) const;

  std::optional<int64_t> target_;
  std::ostream& out_;
  ProgressBarOptions options_;
  // Per name: (weighted sum, weight); stateful names hold (value, 1).
  std::vector<std::pair<std::string, std::pair<double, double>>> values_;
  int64_t seen_ = 0;
  size_t total_width_ = 0;
  double start_ = 0;
  std::optional<double> last_update_;
  std::optional<double> time_after_first_step_;
  double epoch_start_ = 0;
  std::optional<double> epoch_end_;
};

}  // namespace kiln

#endif  // KILN_LAYERS_PROGRESS_BAR_H_
