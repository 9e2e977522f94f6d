// Common-subexpression elimination: one node per (op, inputs, attributes).
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "graph/passes.h"

namespace kiln {
namespace {

struct NodeKey {
  const Node* node;
  template <typename H>
  friend H AbslHashValue(H h, const NodeKey& k) {
    return H::combine(std::move(h), k.node->op, k.node->inputs,
                      k.node->attrs.Hash());
  }
  friend bool operator==(const NodeKey& a, const NodeKey& b) {
    return a.node->op == b.node->op && a.node->inputs == b.node->inputs &&
           a.node->attrs == b.node->attrs;
  }
};

}  // namespace

absl::StatusOr<bool> EliminateCommonSubexpressions(Graph& graph) {
  bool changed = false;
  absl::flat_hash_map<NodeKey, NodeId> first;
  // Inputs precede users, so a node's inputs are already canonical here.
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    auto [it, inserted] = first.emplace(NodeKey{&graph.node(id)}, id);
    if (!inserted) {
      graph.ReplaceAllUses(id, it->second);
      changed = true;
    }
  }
  return changed;
}

}  // namespace kiln
