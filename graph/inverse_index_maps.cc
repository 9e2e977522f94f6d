// Removal of index-map pairs that undo each other: a value transposed and
// transposed back (the layout changes of a chain of channels_first layers,
// forward and backward), or reshaped and reshaped back, also across an
// elementwise node whose inputs all come through the inner map. Only maps
// that are bijections qualify (permutations of the axes with flips, or
// reshapes): a pad after a slice composes to an identity of indices but not
// of values.
#include <cstdint>
#include <optional>
#include <vector>

#include "graph/passes.h"

namespace kiln {
namespace {

// Whether `map` sends output positions one-to-one onto input positions:
// a reshape, or a square coefficient matrix with one ±1 per row and column.
bool IsBijection(const IndexMap& map, const TensorType& in, const TensorType& out) {
  if (in.shape.NumElements() != out.shape.NumElements()) return false;
  if (map.same_flat_position) return true;
  const size_t rank = map.coeff.size();
  if (rank != static_cast<size_t>(out.shape.rank()) || map.offset.size() != rank) return false;
  std::vector<int> per_column(rank, 0);
  for (const std::vector<int64_t>& row : map.coeff) {
    if (row.size() != rank) return false;
    int nonzero = 0;
    for (size_t j = 0; j < rank; ++j) {
      if (row[j] == 0) continue;
      if (row[j] != 1 && row[j] != -1) return false;
      ++nonzero;
      ++per_column[j];
    }
    if (nonzero != 1) return false;
  }
  for (int count : per_column) {
    if (count != 1) return false;
  }
  return true;
}

// The map of node `id` if it is a bijective index map, else nothing.
std::optional<IndexMap> BijectionOf(const Graph& g, NodeId id) {
  const Node& n = g.node(id);
  if (n.op->fusion != FusionKind::kIndexMap || n.op->index_map == nullptr ||
      n.inputs.size() != 1) {
    return std::nullopt;
  }
  const TensorType& in = g.node(n.inputs[0]).type;
  absl::StatusOr<IndexMap> map = n.op->index_map(in, n.type, n.attrs);
  if (!map.ok() || !IsBijection(*map, in, n.type)) return std::nullopt;
  return *map;
}

// Whether `outer` after `inner` (input index = inner(outer(output index)))
// is the identity.
bool ComposeToIdentity(const IndexMap& inner, const IndexMap& outer) {
  if (inner.same_flat_position || outer.same_flat_position) {
    return inner.same_flat_position && outer.same_flat_position;
  }
  const size_t rank = inner.coeff.size();
  for (size_t i = 0; i < rank; ++i) {
    int64_t offset = inner.offset[i];
    for (size_t k = 0; k < rank; ++k) offset += inner.coeff[i][k] * outer.offset[k];
    if (offset != 0) return false;
    for (size_t j = 0; j < rank; ++j) {
      int64_t c = 0;
      for (size_t k = 0; k < rank; ++k) c += inner.coeff[i][k] * outer.coeff[k][j];
      if (c != (i == j ? 1 : 0)) return false;
    }
  }
  return true;
}


// Whether the maps `outer` after `inner_id` undo each other: `inner_id` is
// a bijective index map whose input has the shape `outer` produces.
bool Undoes(const Graph& g, const IndexMap& outer, const Shape& outer_shape, NodeId inner_id) {
  std::optional<IndexMap> inner = BijectionOf(g, inner_id);
  return inner.has_value() && g.node(g.node(inner_id).inputs[0]).type.shape == outer_shape &&
         ComposeToIdentity(*inner, outer);
}

// Whether node `id` feeds only `reader` (and is no program output).
bool OnlyFeeds(const Graph& g, NodeId id, NodeId reader) {
  for (NodeId out : g.outputs()) {
    if (out == id) return false;
  }
  for (NodeId user = id + 1; user < g.num_nodes(); ++user) {
    if (user == reader) continue;
    for (NodeId in : g.node(user).inputs) {
      if (in == id) return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<bool> EliminateInverseIndexMaps(Graph& graph) {
  bool changed = false;
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    const Node& outer_node = graph.node(id);
    std::optional<IndexMap> outer = BijectionOf(graph, id);
    if (!outer.has_value()) continue;
    const NodeId middle = outer_node.inputs[0];
    if (Undoes(graph, *outer, outer_node.type.shape, middle)) {
      graph.ReplaceAllUses(id, graph.node(middle).inputs[0]);
      changed = true;
      continue;
    }
    // An elementwise node between a map and its inverse (an activation
    // between two channels_first layers, its gradient): it runs in the
    // outer layout on the inner maps' inputs, when every input of it is such
    // a map and nothing else reads it.
    const Node& between = graph.node(middle);
    if (between.op->fusion != FusionKind::kElementwise || between.inputs.empty() ||
        !OnlyFeeds(graph, middle, id)) {
      continue;
    }
    bool all_undone = true;
    for (NodeId in : between.inputs) {
      all_undone = all_undone && graph.node(in).type.shape == between.type.shape &&
                   Undoes(graph, *outer, outer_node.type.shape, in);
    }
    if (!all_undone) continue;
    Node& moved = graph.mutable_node(middle);
    for (NodeId& in : moved.inputs) in = graph.node(in).inputs[0];
    moved.type = TensorType{moved.type.dtype, outer_node.type.shape};
    graph.ReplaceAllUses(id, middle);
    changed = true;
  }
  return changed;
}

}  // namespace kiln
