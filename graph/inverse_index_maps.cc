// Removal of index-map pairs that undo each other: a value transposed and
// transposed back (the layout changes of a chain of channels_first layers,
// forward and backward), or reshaped and reshaped back. Only maps that are
// bijections qualify (permutations of the axes with flips, or reshapes):
// a pad after a slice composes to an identity of indices but not of values.
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

}  // namespace

absl::StatusOr<bool> EliminateInverseIndexMaps(Graph& graph) {
  bool changed = false;
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    const Node& outer_node = graph.node(id);
    std::optional<IndexMap> outer = BijectionOf(graph, id);
    if (!outer.has_value()) continue;
    const NodeId middle = outer_node.inputs[0];
    std::optional<IndexMap> inner = BijectionOf(graph, middle);
    if (!inner.has_value()) continue;
    const NodeId source = graph.node(middle).inputs[0];
    if (!(graph.node(source).type == outer_node.type)) continue;
    if (!ComposeToIdentity(*inner, *outer)) continue;
    graph.ReplaceAllUses(id, source);
    changed = true;
  }
  return changed;
}

}  // namespace kiln
