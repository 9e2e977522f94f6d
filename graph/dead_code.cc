// Topological order and dead-code elimination.
#include <algorithm>

#include "graph/passes.h"

namespace kiln {

std::vector<NodeId> TopologicalOrder(const Graph& graph) {
  std::vector<NodeId> roots = graph.outputs();
  if (roots.empty()) {
    for (NodeId id = 0; id < graph.num_nodes(); ++id) roots.push_back(id);
  }
  return TopologicalOrder(graph, roots);
}

std::vector<NodeId> TopologicalOrder(const Graph& graph,
                                     absl::Span<const NodeId> roots) {
  // Iterative post-order DFS: a node is emitted after all its inputs.
  std::vector<uint8_t> state(graph.num_nodes(), 0);  // 0 new, 1 open, 2 done
  std::vector<NodeId> order;
  std::vector<std::pair<NodeId, size_t>> stack;
  for (NodeId root : roots) {
    if (state[root] != 0) continue;
    stack.push_back({root, 0});
    state[root] = 1;
    while (!stack.empty()) {
      auto& [id, next] = stack.back();
      const Node& n = graph.node(id);
      if (next < n.inputs.size()) {
        const NodeId in = n.inputs[next++];
        if (state[in] == 0) {
          state[in] = 1;
          stack.push_back({in, 0});
        }
      } else {
        state[id] = 2;
        order.push_back(id);
        stack.pop_back();
      }
    }
  }
  return order;
}

absl::StatusOr<bool> EliminateDeadCode(Graph& graph) {
  if (graph.outputs().empty()) return false;
  std::vector<NodeId> order = TopologicalOrder(graph);
  bool identity = static_cast<int>(order.size()) == graph.num_nodes();
  for (size_t i = 0; identity && i < order.size(); ++i) {
    identity = order[i] == static_cast<NodeId>(i);
  }
  if (identity) return false;
  std::vector<NodeId> new_id(graph.num_nodes(), kNoNode);
  std::deque<Node> nodes;
  for (NodeId old : order) {
    Node n = graph.node(old);
    for (NodeId& in : n.inputs) in = new_id[in];
    new_id[old] = static_cast<NodeId>(nodes.size());
    nodes.push_back(std::move(n));
  }
  std::vector<NodeId> outputs = graph.outputs();
  for (NodeId& out : outputs) out = new_id[out];
  graph.ResetNodes(std::move(nodes), std::move(outputs));
  return true;
}

}  // namespace kiln
