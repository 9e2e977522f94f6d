// Stable text form of a graph, for tests, debugging and dumps.
//
// One line per node, in node order, then the outputs:
//
//   %0:f32[N,3] = input() {dtype=f32, name="x", shape=[N,3]}
//   %1:f32[N,3] = exp(%0)
//   %2:f32[N] = reduce_sum(%1) {axes=(1), keepdims=0}
//   return %2
//
// ParseGraph reads the same form back (ids may be any numbers, `#` starts a
// comment), re-runs every shape rule and checks the written types.
#ifndef KILN_GRAPH_TEXT_H_
#define KILN_GRAPH_TEXT_H_

#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "graph/graph.h"
#include "graph/op_def.h"

namespace kiln {

std::string PrintGraph(const Graph& graph);
absl::StatusOr<std::shared_ptr<Graph>> ParseGraph(absl::string_view text,
                                                  const OpCatalog& ops);
// Parses one attribute value in the form AttrValueToString prints.
absl::StatusOr<AttrValue> ParseAttrValue(absl::string_view text);

}  // namespace kiln

#endif  // KILN_GRAPH_TEXT_H_
