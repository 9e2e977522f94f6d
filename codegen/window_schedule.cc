#include "codegen/window_schedule.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"

namespace kiln {
namespace {

// Channel vectors per work item of a sum over windows.
constexpr int64_t kSumVectors = 4;

}  // namespace

absl::StatusOr<WindowSchedule> ScheduleWindow(const Graph& g, const KernelGroup& group,
                                              int vector_bits) {
  const Node& n = g.node(group.root);
  if (n.op->window == nullptr || group.nodes.size() != 1) {
    return absl::InternalError("ScheduleWindow: not a window group");
  }
  std::vector<TensorType> in_types;
  for (NodeId in : n.inputs) in_types.push_back(g.node(in).type);
  WindowSchedule s;
  KILN_ASSIGN_OR_RETURN(s.problem, n.op->window(in_types, n.type, n.attrs));
  s.name = group.name;
  s.buffers = n.inputs;
  s.buffers.push_back(group.root);
  if (s.buffers.size() != (s.problem.combine == WindowReduction::Combine::kMax ? 2u : 3u)) {
    return absl::InternalError("ScheduleWindow: unexpected number of inputs");
  }
  s.lanes = std::max(4, vector_bits / 32);
  const GemmWindows& w = s.problem.windows;
  // 8 accumulators (16 with two vectors of channels would spill on AVX2).
  // Routing searches each pooled window per cell: one output per tile.
  s.block = s.routes() ? 1 : static_cast<int>(std::min<int64_t>(8, w.windows[2]));
  s.work_items = w.images * w.windows[0] * w.windows[1];
  if (s.scatters()) {
    const GemmWindows& p = s.problem.pooled;
    s.work_items = p.images * p.windows[0] * p.windows[1];
  }
  if (s.sums_windows()) {
    s.block = static_cast<int>(
        std::min<int64_t>(kSumVectors, (w.channels + s.lanes - 1) / s.lanes));
    s.work_items = w.taps[0] * w.taps[1] * w.taps[2] * s.channel_blocks();
  }
  return s;
}

bool WindowSchedule::scatters() const {
  if (!routes()) return false;
  const GemmWindows& p = problem.pooled;
  for (int e = 0; e < 3; ++e) {
    if (p.divisor[e] != 1 || p.tap_step[e] < 1 ||
        (p.taps[e] - 1) * p.tap_step[e] >= p.window_step[e] ||
        p.extent[e] != problem.windows.windows[e]) {
      return false;
    }
  }
  return true;
}

std::string WindowSchedule::ToString() const {
  const GemmWindows& w = problem.windows;
  const char* kind = has_weights()    ? "sum"
                     : scatters()     ? "first-max scatter"
                     : routes()       ? "first-max routing"
                     : sums_windows() ? "sum over windows"
                                      : "max";
  return absl::StrCat("window ", kind, " [", w.images, " x ", absl::StrJoin(w.windows, " x "),
                      "] cells [", absl::StrJoin(w.taps, " x "), "] channels ", w.channels,
                      "\n  block ", block, " x ", lanes, " lanes work ", work_items, "\n");
}

}  // namespace kiln
