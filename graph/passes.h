// Generic graph passes. Each returns whether it changed the graph, or an
// error that says why it could not run.
//
// Passes keep the invariant that a node's inputs come before it, and keep
// `graph.outputs()` (the roots) valid:
//
//   KILN_ASSIGN_OR_RETURN(bool folded, FoldConstants(*g, Ops()));
//   KILN_ASSIGN_OR_RETURN(bool merged, EliminateCommonSubexpressions(*g));
//   KILN_ASSIGN_OR_RETURN(bool undone, EliminateInverseIndexMaps(*g));
//   KILN_ASSIGN_OR_RETURN(bool removed, EliminateDeadCode(*g));
#ifndef KILN_GRAPH_PASSES_H_
#define KILN_GRAPH_PASSES_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace kiln {

// Checks the invariants every pass relies on: inputs precede their node,
// arity, recorded types equal the shape rule's, outputs exist.
absl::Status VerifyGraph(const Graph& graph);

// The nodes the outputs depend on, inputs before users (all nodes when the
// graph has no outputs).
std::vector<NodeId> TopologicalOrder(const Graph& graph);
// The nodes `roots` depend on, inputs before users.
std::vector<NodeId> TopologicalOrder(const Graph& graph,
                                     absl::Span<const NodeId> roots);

// Removes nodes the outputs do not depend on and renumbers the rest.
absl::StatusOr<bool> EliminateDeadCode(Graph& graph);

// Redirects users of a node to an earlier identical node (same op, inputs
// and attributes). The duplicates become dead code.
absl::StatusOr<bool> EliminateCommonSubexpressions(Graph& graph);

// Redirects users of an index map (transpose, reshape, ...) whose input is
// another that it undoes to the first one's input: a transpose back, a
// reshape back. Only bijective maps pair up. The pair becomes dead code.
absl::StatusOr<bool> EliminateInverseIndexMaps(Graph& graph);

// Evaluates nodes whose inputs are all constants (outputs up to
// `max_elements`) and turns them into constants in place.
absl::StatusOr<bool> FoldConstants(Graph& graph, const OpCatalog& ops,
                                   int64_t max_elements = 1 << 16);

}  // namespace kiln

#endif  // KILN_GRAPH_PASSES_H_
