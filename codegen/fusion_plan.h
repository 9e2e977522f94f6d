// The fusion planner: which nodes of a program run together as one kernel.
//
// Elementwise and index-map chains fuse into the kernel of their reader
// (into each of up to three readers: recomputing is cheaper than a round
// trip through memory); reductions are kernel roots that also take their
// producers; sibling
// elementwise kernels over the same loop that read a common input merge into
// one kernel with several outputs (the input is read once); contractions
// (ops with a `contraction` rule) are GEMM kernels that take the
// elementwise chain reading their result as an epilogue, and the one
// computing a row-major A operand that nothing else reads as a prologue
// (evaluated while A is packed); other ops without
// a JIT lowering (gathers, random numbers, ...) run their interpreter
// kernel as a "library" step. Every refusal to fuse says why,
// and the plan prints as text that tests compare (KILN_EXPLAIN_FUSION=1
// prints it when a program is compiled). The plan knows no op by name: it
// reads each op's fusion kind, `lower` and `index_map`.
//
//   KILN_ASSIGN_OR_RETURN(FusionPlan plan, PlanFusion(*graph));
//   std::cout << plan.ToString(*graph);
//   // k0 fused_mul_add_maximum_k0 jit: %1 %2 %3 %4 <- reads %0
#ifndef KILN_CODEGEN_FUSION_PLAN_H_
#define KILN_CODEGEN_FUSION_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace kiln {

// kJit: a fused LLVM kernel. kLibrary: the op's interpreter kernel.
// kAlias: a reshape of a value in memory: no kernel, the same bytes under a
// new shape. kContraction: a JIT GEMM kernel for an op with a `contraction`
// rule, with the elementwise chain that reads its result (bias, activation,
// residual add) fused into its store as an epilogue. kWindow: a JIT window
// kernel for an op with a `window` rule (depthwise convolution, pooling).
enum class GroupKind { kJit, kLibrary, kAlias, kContraction, kWindow };

// A GEMM with at most this many columns keeps its rows in the vector lanes
// (GemmSchedule::rows_in_lanes) and takes no epilogue: its output is narrow,
// so an elementwise kernel after it costs little.
constexpr int64_t kRowsInLanesMaxColumns = 4;

struct KernelGroup {
  GroupKind kind = GroupKind::kJit;
  NodeId root = kNoNode;        // the value whose loop the kernel runs
  std::vector<NodeId> outputs;  // values the kernel writes: root, then merged siblings'
  std::vector<NodeId> nodes;    // fused nodes, inputs before users
  std::vector<NodeId> inputs;   // values read from memory, in first-use order
  std::string name;             // kernel symbol, e.g. fused_dense_1_add_maximum_k3
  NodeId contraction = kNoNode;  // kContraction: the GEMM node (root: its epilogue's end)
};

struct FusionPlan {
  std::vector<KernelGroup> groups;  // in execution order
  std::vector<int> group_of;        // node id -> group index, -1 if none
  std::vector<std::string> refusals;
  std::vector<std::string> copies;  // nodes computed by several readers
  std::vector<std::string> merges;  // sibling kernels merged, and why
  std::string ToString(const Graph& graph) const;
};

// Plans a specialized graph (concrete shapes) whose outputs are set.
absl::StatusOr<FusionPlan> PlanFusion(const Graph& graph);

// True for source nodes whose value is one element held in the graph: the
// JIT inlines them as constants instead of reading memory.
bool IsInlineScalar(const Node& node);

}  // namespace kiln

#endif  // KILN_CODEGEN_FUSION_PLAN_H_
