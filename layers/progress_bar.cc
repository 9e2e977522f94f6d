#include "layers/progress_bar.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kiln {
namespace {

// Digits of a positive count (Keras: int(log10(target)) + 1).
int DecimalDigits(int64_t n) {
  int digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

// Python's "%.<p>f"/"%.<p>e" print nan and inf without a sign for nan.
std::string NonFinite(double value) {
  if (std::isnan(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}

// Keras's ETA text: "%ds", "%d:%02d" past a minute, "%d:%02d:%02d" past an
// hour, each field truncated as Python's %d truncates a float.
std::string EtaText(double eta) {
  auto whole = [](double v) { return static_cast<int64_t>(v); };
  if (eta > 3600) {
    return absl::StrFormat("%d:%02d:%02d", whole(std::floor(eta / 3600)),
                           whole(std::floor(std::fmod(eta, 3600) / 60)), whole(std::fmod(eta, 60)));
  }
  if (eta > 60) {
    return absl::StrFormat("%d:%02d", whole(std::floor(eta / 60)), whole(std::fmod(eta, 60)));
  }
  return absl::StrFormat("%ds", whole(eta));
}

}  // namespace

ProgressBar::ProgressBar(std::optional<int64_t> target, std::ostream& out,
                         ProgressBarOptions options)
    : target_(target), out_(out), options_(std::move(options)) {
  if (target_ && *target_ <= 0) target_.reset();
  start_ = Now();
  epoch_start_ = start_;
}

double ProgressBar::Now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string ProgressBar::FormatTime(double seconds_per_unit, const std::string& unit_name) {
  if (seconds_per_unit >= 1 || seconds_per_unit == 0) {
    return absl::StrFormat(" %.0fs/%s", seconds_per_unit, unit_name);
  }
  if (seconds_per_unit >= 1e-3) {
    return absl::StrFormat(" %.0fms/%s", seconds_per_unit * 1e3, unit_name);
  }
  return absl::StrFormat(" %.0fus/%s", seconds_per_unit * 1e6, unit_name);
}

std::string ProgressBar::FormatValue(double value, bool signed_compare) {
  if (!std::isfinite(value)) return NonFinite(value);
  double compared = signed_compare ? value : std::abs(value);
  return compared > 1e-3 ? absl::StrFormat("%.4f", value) : absl::StrFormat("%.4e", value);
}

double ProgressBar::EstimateStepSeconds(int64_t current, double now) {
  if (current == 0) return 0;
  double per_step = (time_after_first_step_ && current > 1)
                        ? (now - *time_after_first_step_) / static_cast<double>(current - 1)
                        : (now - start_) / static_cast<double>(current);
  if (current == 1) time_after_first_step_ = now;
  return per_step;
}

std::string ProgressBar::Bar(int64_t current) const {
  if (!target_) return absl::StrFormat("%7d/Unknown", current);
  const int64_t target = *target_;
  std::string bar = absl::StrFormat("%*d/%d [", DecimalDigits(target), current, target);
  const int width = options_.width;
  const int done = static_cast<int>(width * (static_cast<double>(current) / target));
  if (done > 0) {
    bar.append(done - 1, '=');
    bar += current < target ? '>' : '=';
  }
  bar.append(std::max(width - done, 0), '.');
  bar += ']';
  return bar;
}

std::string ProgressBar::ValuesText(bool signed_compare) const {
  std::string text;
  for (const auto& [name, sum_and_weight] : values_) {
    const double average = sum_and_weight.first / std::max(1.0, sum_and_weight.second);
    absl::StrAppend(&text, " - ", name, ": ", FormatValue(average, signed_compare));
  }
  return text;
}

void ProgressBar::Update(int64_t current, const Logs& values, std::optional<bool> finalize) {
  const bool final = finalize.value_or(target_.has_value() && current >= *target_);
  for (const auto& [name, value] : values) {
    auto it = std::find_if(values_.begin(), values_.end(),
                           [&](const auto& entry) { return entry.first == name; });
    const bool stateful =
        std::find(options_.stateful_metrics.begin(), options_.stateful_metrics.end(), name) !=
        options_.stateful_metrics.end();
    if (stateful) {
      if (it == values_.end()) {
        values_.push_back({name, {value, 1.0}});
      } else {
        it->second = {value, 1.0};
      }
      continue;
    }
    const double weight = static_cast<double>(std::max<int64_t>(current - seen_, 1));
    if (it == values_.end()) {
      values_.push_back({name, {value * weight, weight}});
    } else {
      it->second.first += value * weight;
      it->second.second += weight;
    }
  }
  seen_ = current;

  const double now = Now();
  std::string info = absl::StrFormat(" - %.0fs", now - start_);
  if (target_ && current == *target_) epoch_end_ = now;

  if (options_.verbose == 1) {
    if (!options_.dynamic && !final) {
      // A log file gets only the final line; step 1's time still counts
      // as it would have when drawn.
      if (current == 1) time_after_first_step_ = now;
      last_update_ = now;
      return;
    }
    if (options_.dynamic && !final && last_update_ &&
        now - *last_update_ < options_.interval_seconds) {
      return;
    }
    std::string message;
    const size_t previous_width = total_width_;
    if (options_.dynamic) message.append(previous_width, '\b').append("\r");
    const std::string bar = Bar(current);
    total_width_ = bar.size();
    message += bar;
    const double per_step = EstimateStepSeconds(current, now);
    if (!target_ || final) {
      info += FormatTime(per_step, options_.unit_name);
    } else {
      info = absl::StrCat(" - ETA: ", EtaText(per_step * static_cast<double>(*target_ - current)));
    }
    info += ValuesText(/*signed_compare=*/false);
    total_width_ += info.size();
    if (options_.dynamic && previous_width > total_width_) {
      info.append(previous_width - total_width_, ' ');
    }
    if (final) info += '\n';
    out_ << message << info << std::flush;
  } else if (options_.verbose == 2 && final && target_) {
    std::string line = absl::StrFormat("%*d/%d", DecimalDigits(*target_), current, *target_);
    line += info + ValuesText(/*signed_compare=*/true);
    if (epoch_end_) {
      const double epoch_seconds = *epoch_end_ - epoch_start_;
      epoch_start_ = now;
      epoch_end_.reset();
      line += " -" + FormatTime(epoch_seconds, "epoch");
      line += " -" + FormatTime(epoch_seconds / static_cast<double>(*target_), options_.unit_name);
      line += '\n';
    }
    out_ << line << std::flush;
  }
  last_update_ = now;
}

}  // namespace kiln
