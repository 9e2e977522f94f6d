// ProfileReport as a Chrome trace: Trace Event Format JSON that Perfetto
// and chrome://tracing load. One complete event ("ph": "X", microseconds)
// per run, step and thread-pool chunk, each on the lane (tid) of the thread
// that ran it; a kernel's event is named by its symbol and carries its
// origin layers, ops, bytes and flops in "args".
//
//   {"traceEvents": [{"name": "fused_dense_1_add_k2", "cat": "kernel",
//     "ph": "X", "ts": 12.5, "dur": 3.25, "pid": 4242, "tid": 0,
//     "args": {"layers": "dense_1", "ops": "add,maximum", ...}}, ...]}
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/profiler.h"
#include "graph/file_io.h"
#include "nlohmann/json.hpp"

namespace kiln {

std::string ProfileReport::ChromeTraceJson() const {
  const int pid = static_cast<int>(::getpid());
  nlohmann::json out = nlohmann::json::array();
  int lanes = 0;
  for (const ProfileEvent& e : events) lanes = std::max(lanes, e.lane + 1);
  out.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"tid", 0},
                    {"args", {{"name", "kiln"}}}});
  for (int lane = 0; lane < lanes; ++lane) {
    out.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", lane},
                      {"args", {{"name", absl::StrCat("kiln thread ", lane)}}}});
  }
  for (const ProfileEvent& e : events) {
    nlohmann::json event = {{"ph", "X"},
                            {"ts", e.start_ns / 1e3},
                            {"dur", e.duration_ns / 1e3},
                            {"pid", pid},
                            {"tid", e.lane}};
    if (e.kind == ProfileEvent::kRun) {
      event["name"] = absl::StrCat("run (batch ", e.batch, ")");
      event["cat"] = "run";
    } else {
      const KernelProfile& k = kernels[e.kernel];
      event["name"] = k.name;
      event["cat"] = e.kind == ProfileEvent::kStep ? "kernel" : "chunk";
      event["args"] = {{"kind", k.kind},
                       {"layers", absl::StrJoin(k.layers, ",")},
                       {"ops", absl::StrJoin(k.ops, ",")},
                       {"bytes", k.bytes_per_call},
                       {"flops", k.flops_per_call}};
    }
    out.push_back(std::move(event));
  }
  nlohmann::json trace = {{"traceEvents", std::move(out)}, {"displayTimeUnit", "ns"}};
  return trace.dump();
}

absl::Status ProfileReport::WriteChromeTrace(const std::string& path) const {
  return WriteFileAtomically(path, ChromeTraceJson());
}

}  // namespace kiln
