// The loop schedule of one fused kernel: what the kernel computes per
// element (a small value DAG), where each value is read from and written
// to (linear forms over the loop indices), the loop order, the vector
// width and how the work is split across threads. Pure "how", kept apart
// from the graph ("what"); it prints as text that tests compare.
//
//   KILN_ASSIGN_OR_RETURN(KernelSchedule s, ScheduleKernel(graph, group, 16));
//   s.ToString() ==
//     "loop [1048576] elementwise vector 16 chunk 8192 work 128\n"
//     "  v0 = load %0 @ 1*i0\n  v1 = exp(v0)\n  store v1 @ 1*i0\n"
#ifndef KILN_CODEGEN_KERNEL_SCHEDULE_H_
#define KILN_CODEGEN_KERNEL_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "codegen/fusion_plan.h"
#include "graph/graph.h"

namespace kiln {

// offset + sum_d coeff[d] * index[d], in elements.
struct LinearForm {
  std::vector<int64_t> coeff;
  int64_t offset = 0;
};

// One value computed per element. Exactly one of: a load from memory
// (`buffer` >= 0), an inline scalar constant (`constant` set), or an op
// applied to earlier values.
struct KernelValue {
  NodeId node = kNoNode;      // the graph node it stands for
  int buffer = -1;            // index into KernelSchedule::buffers
  LinearForm at;              // where a load reads
  bool is_constant = false;
  double constant = 0;
  std::vector<int> operands;  // earlier values, for an op
  DType dtype = DType::kF32;
};

enum class LoopMode {
  kElementwise,    // every loop index maps to an output element
  kRowReduce,      // the innermost loop is reduced: lanes fold at the end
  kColumnReduce,   // reduced loops are outer; lanes run over kept elements
};

struct KernelSchedule {
  std::string name;
  std::vector<NodeId> buffers;   // inputs (read), then the outputs (written)
  int num_inputs = 0;
  std::vector<int64_t> dims;     // loop extents, outermost first
  std::vector<bool> reduced;     // per loop dimension
  LoopMode mode = LoopMode::kElementwise;
  int vector_width = 16;
  int64_t inner_chunk = 0;       // innermost elements per work item
  int64_t work_items = 0;        // the parallel loop the thread pool splits
  int parallel_dims = 0;         // leading dims folded into the work items
  std::vector<KernelValue> values;  // operands before users
  // One per output: the value stored (reductions: the value combined), where
  // it goes and its dtype.
  std::vector<int> results;
  std::vector<LinearForm> stores;
  std::vector<DType> result_dtypes;
  NodeId reduction = kNoNode;       // the reduction root, if any (one output)

  std::string ToString(const Graph& graph) const;
};

// Schedules a JIT group of a specialized graph for `vector_width` lanes.
absl::StatusOr<KernelSchedule> ScheduleKernel(const Graph& graph,
                                              const KernelGroup& group,
                                              int vector_width);

// The epilogue of a contraction group (GroupKind::kContraction): the values
// of group.outputs computed from the contraction's output, over a loop of
// that output's dims exactly (no reordering, no collapsing). The
// contraction's value is a load from its own buffer, a placeholder the GEMM
// kernel replaces with its accumulators. Buffers: group.inputs, the
// contraction, then group.outputs.
absl::StatusOr<KernelSchedule> ScheduleEpilogue(const Graph& graph,
                                                const KernelGroup& group,
                                                int vector_width);

// The prologue of a contraction group: the value of the contraction's A
// operand `operand` (a node of the group) computed from group.inputs, over
// a loop of its dims (the innermost is A's depth). Buffers: group.inputs.
absl::StatusOr<KernelSchedule> SchedulePrologue(const Graph& graph, const KernelGroup& group,
                                                NodeId operand, int vector_width);

}  // namespace kiln

#endif  // KILN_CODEGEN_KERNEL_SCHEDULE_H_
