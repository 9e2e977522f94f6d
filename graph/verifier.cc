// VerifyGraph: the invariants every pass and backend relies on.
#include "absl/strings/str_cat.h"
#include "graph/passes.h"

namespace kiln {

absl::Status VerifyGraph(const Graph& graph) {
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    const Node& n = graph.node(id);
    if (n.op == nullptr) {
      return absl::InternalError(absl::StrCat("%", id, " has no op"));
    }
    std::vector<TensorType> types;
    for (NodeId in : n.inputs) {
      if (in < 0 || in >= id) {
        return absl::InternalError(absl::StrCat(
            "[", n.op->name, "] %", id, " reads %", in,
            ", which does not come before it"));
      }
      types.push_back(graph.node(in).type);
    }
    absl::StatusOr<TensorType> type = InferType(*n.op, types, n.attrs);
    if (!type.ok()) return type.status();
    if (!(*type == n.type)) {
      return absl::InternalError(absl::StrCat(
          "[", n.op->name, "] %", id, " is recorded as ", n.type.ToString(),
          " but its shape rule gives ", type->ToString()));
    }
  }
  for (NodeId out : graph.outputs()) {
    if (out < 0 || out >= graph.num_nodes()) {
      return absl::InternalError(absl::StrCat("output %", out, " does not exist"));
    }
  }
  return absl::OkStatus();
}

}  // namespace kiln
