// ProfileSession and the report's table (the trace is in chrome_trace.cc).
// Table columns, like PyTorch's key_averages().table() plus the roofline:
//
//   Kernel  Kind  Calls  Total ms  %Time  Mean us  KB/call  GB/s  GFLOP/s
//   %Roof  Layers  Ops
#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "codegen/profile_recorder_internal.h"
#include "codegen/thread_pool.h"

namespace kiln {
namespace {

std::string Truncated(std::string text, size_t width) {
  if (text.size() <= width) return text;
  return text.substr(0, width - 3) + "...";
}

}  // namespace

double KernelProfile::gbps() const {
  return total_ns == 0 ? 0 : static_cast<double>(bytes_per_call) * calls / total_ns;
}

double KernelProfile::gflops() const {
  return total_ns == 0 ? 0 : static_cast<double>(flops_per_call) * calls / total_ns;
}

double KernelProfile::roofline_percent(const Roofline& roofline) const {
  if (total_ns == 0 || calls == 0) return 0;
  const double bound = roofline.BoundNanoseconds(static_cast<double>(flops_per_call),
                                                 static_cast<double>(bytes_per_call));
  return 100.0 * bound * calls / total_ns;
}

ProfileSession::ProfileSession(Scope scope)
    : scope_(scope), recorder_(std::make_unique<ProfileRecorder>()), live_(recorder_.get()) {
  if (scope_ == kEveryExecutable) PublishRecorder(recorder_.get());
}

ProfileSession::~ProfileSession() {
  if (active()) Stop();
}

ProfileReport ProfileSession::Stop() {
  if (recorder_ == nullptr) return ProfileReport();
  live_.store(nullptr);  // attached Executables start no new record
  if (scope_ == kEveryExecutable) WithdrawRecorder(recorder_.get());
  WaitForRunsInFlight();
  ProfileReport report = recorder_->Snapshot();
  recorder_.reset();
  absl::StatusOr<Roofline> roofline = MachineRoofline(ThreadPool::Default());
  if (roofline.ok()) {
    report.roofline = *roofline;
  } else {
    report.roofline.source = std::string(roofline.status().message());
  }
  return report;
}

std::string ProfileReport::Table(int max_rows) const {
  constexpr size_t kNameWidth = 40;
  int64_t kernel_ns = 0;
  for (const KernelProfile& k : kernels) kernel_ns += k.total_ns;
  const std::string rule(kNameWidth + 118, '-');
  std::string out = absl::StrCat(rule, "\n");
  absl::StrAppendFormat(&out, "%-*s %-7s %7s %10s %6s %10s %10s %8s %9s %6s  %s\n",
                        static_cast<int>(kNameWidth), "Kernel", "Kind", "Calls", "Total ms",
                        "%Time", "Mean us", "KB/call", "GB/s", "GFLOP/s", "%Roof",
                        "Layers | ops");
  absl::StrAppend(&out, rule, "\n");
  const bool known_roof = roofline.peak_gflops > 0 || roofline.peak_gbps > 0;
  int rows = 0;
  for (const KernelProfile& k : kernels) {
    if (max_rows > 0 && rows++ >= max_rows) break;
    const std::string roof =
        known_roof ? absl::StrFormat("%6.1f", k.roofline_percent(roofline)) : "     -";
    absl::StrAppendFormat(
        &out, "%-*s %-7s %7d %10.3f %6.1f %10.2f %10.1f %8.2f %9.2f %s  %s | %s\n",
        static_cast<int>(kNameWidth), Truncated(k.name, kNameWidth), k.kind, k.calls,
        k.total_ns / 1e6, kernel_ns == 0 ? 0.0 : 100.0 * k.total_ns / kernel_ns, k.mean_us(),
        k.bytes_per_call / 1024.0, k.gbps(), k.gflops(), roof,
        k.layers.empty() ? "-" : absl::StrJoin(k.layers, ","),
        absl::StrJoin(k.ops, ","));
  }
  absl::StrAppend(&out, rule, "\n");
  absl::StrAppendFormat(&out, "Kernel time total: %.3f ms over %d runs", kernel_ns / 1e6, runs);
  if (runs > 0) {
    absl::StrAppendFormat(&out, " (%.1f us of kernels, %.1f us wall per run)",
                          kernel_ns / 1e3 / runs, run_ns / 1e3 / runs);
  }
  absl::StrAppend(&out, "\n");
  if (known_roof) {
    absl::StrAppendFormat(&out, "Roofline: %.1f GFLOP/s f32 FMA; copy bandwidth %s; %d threads (%s)\n",
                          roofline.peak_gflops, roofline.BandwidthText(), roofline.threads,
                          roofline.source);
    absl::StrAppend(&out, "%Roof: the roofline bound max(flops / FMA peak, bytes / bandwidth of "
                          "the smallest level holding them) over the time taken\n");
  } else {
    absl::StrAppend(&out, "Roofline: unknown (", roofline.source, ")\n");
  }
  if (dropped_events > 0) {
    absl::StrAppend(&out, "Trace: ", dropped_events, " events past the limit were not kept\n");
  }
  return out;
}

}  // namespace kiln
