// Constant folding: ops over constants become constants, evaluated with the
// op's own interpreter kernel.
#include "absl/strings/str_cat.h"
#include "graph/passes.h"
#include "graph/status_macros.h"

namespace kiln {

absl::StatusOr<bool> FoldConstants(Graph& graph, const OpCatalog& ops,
                                   int64_t max_elements) {
  const OpDef* constant = ops.Find("constant");
  if (constant == nullptr) {
    return absl::FailedPreconditionError("the op catalog has no 'constant' op");
  }
  bool changed = false;
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    Node& n = graph.mutable_node(id);
    if (n.op->fusion == FusionKind::kSource || n.op->interp == nullptr ||
        !n.type.shape.IsConcrete() ||
        n.type.shape.NumElements() > max_elements) {
      continue;
    }
    std::vector<const Buffer*> inputs;
    for (NodeId in : n.inputs) {
      const Node& producer = graph.node(in);
      if (producer.op != constant) break;
      KILN_ASSIGN_OR_RETURN(auto value,
                            producer.attrs.Get<std::shared_ptr<const Buffer>>("value"));
      inputs.push_back(value.get());
    }
    if (inputs.size() != n.inputs.size()) continue;
    auto result = std::make_shared<Buffer>(n.type.dtype, n.type.shape);
    absl::Status s = n.op->interp(
        KernelContext{inputs, result.get(), n.attrs, SerialParallelism()});
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("folding %", id, ": ", s.message()));
    }
    n.op = constant;
    n.inputs.clear();
    n.attrs = Attrs{{"value", std::shared_ptr<const Buffer>(std::move(result))}};
    changed = true;
  }
  return changed;
}

}  // namespace kiln
