// The schedule of a JIT window kernel (GroupKind::kWindow): a depthwise
// convolution or a max pool, from the op's WindowReduction. A work item is
// one output row (image n, window dims 0 and 1); inside it, blocks of
// `block` outputs along the innermost window dim, each a register tile of
// `block` accumulator vectors of `lanes` channels, run every cell of their
// windows. A routing over non-overlapping pooled windows makes one item
// per row of pooled windows instead (scatters()). A sum over windows (depthwise filter gradient) instead makes one
// item per cell and `block` vectors of channels, summing every window in a
// fixed order. Pure "how", no LLVM; it prints as text that tests compare.
//
//   KILN_ASSIGN_OR_RETURN(WindowSchedule s, ScheduleWindow(graph, group, 512));
//   s.ToString() == "window sum [8 x 1 x 56 x 56] cells [1 x 3 x 3] channels 128\n"
//                   "  block 8 x 16 lanes work 448\n"
#ifndef KILN_CODEGEN_WINDOW_SCHEDULE_H_
#define KILN_CODEGEN_WINDOW_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "codegen/fusion_plan.h"
#include "graph/graph.h"
#include "graph/op_def.h"

namespace kiln {

struct WindowSchedule {
  std::string name;
  std::vector<NodeId> buffers;  // the op's inputs, then its output
  WindowReduction problem;
  int lanes = 16;
  int block = 8;  // outputs along the innermost window dim per register tile
  int64_t work_items = 0;

  bool has_weights() const {
    return problem.combine == WindowReduction::Combine::kSumOfProducts;
  }
  bool routes() const { return problem.combine == WindowReduction::Combine::kFirstMaxRouting; }
  // Routing whose pooled windows do not overlap (stride >= window in every
  // dim): a work item is one row of pooled windows, each searched once
  // (codegen/window_scatter_emitter.cc).
  bool scatters() const;
  // kSumOverWindows: a work item is one cell and `block` vectors of channels.
  bool sums_windows() const {
    return problem.combine == WindowReduction::Combine::kSumOverWindows;
  }
  int64_t channel_blocks() const {
    const int64_t per_block = static_cast<int64_t>(block) * lanes;
    return (problem.windows.channels + per_block - 1) / per_block;
  }
  std::string ToString() const;
};

// Schedules a kWindow group (one node) for vectors of `vector_bits` bits.
absl::StatusOr<WindowSchedule> ScheduleWindow(const Graph& graph, const KernelGroup& group,
                                              int vector_bits);

}  // namespace kiln

#endif  // KILN_CODEGEN_WINDOW_SCHEDULE_H_
