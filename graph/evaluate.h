// Evaluate: runs graph nodes one by one with each op's interpreter kernel.
//
// This is the node-by-node core shared by constant folding, the gradient
// checker and the interpreter backend (codegen/ adds specialization, the
// thread pool and the Executable API on top). Buffers are freed as soon as
// their last reader has run.
//
//   Feeds feeds = {{"x", &x_buffer}};
//   KILN_ASSIGN_OR_RETURN(std::vector<Buffer> out,
//                         Evaluate(*graph, {y.id()}, feeds, SerialParallelism()));
#ifndef KILN_GRAPH_EVALUATE_H_
#define KILN_GRAPH_EVALUATE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/graph.h"

namespace kiln {

// Values for the graph's `input` and `variable` nodes, by name.
using Feeds = absl::flat_hash_map<std::string, const Buffer*>;

// The batch size implied by the feeds: dimension 0 of every fed input whose
// declared shape starts with the symbolic batch (they must agree). 0 when no
// input has a batch dimension.
absl::StatusOr<int64_t> BatchSizeOf(const Graph& graph, const Feeds& feeds);

// Source nodes with a "name" attribute (input, variable) are fed by name.
bool IsFed(const Node& node);
// The value a source node with a "value" attribute (a constant) holds, or null.
const Buffer* HeldValue(const Node& node);

// The fed value of an input or variable node, checked against its declared
// dtype and shape (the error names the input).
absl::StatusOr<const Buffer*> FedValue(const Node& node, const Feeds& feeds);

// Replaces the symbolic batch size by `batch` in every shape attribute and
// re-runs the shape rules.
absl::Status SpecializeBatch(Graph& graph, int64_t batch);

// Told when each interpreter kernel starts and ends (the profiler times
// nodes with it); source nodes run no kernel and are not reported.
class NodeObserver {
 public:
  virtual ~NodeObserver() = default;
  virtual void KernelStarts(NodeId id) = 0;
  virtual void KernelEnds(NodeId id) = 0;
};

// Evaluates `outputs` of a graph whose shapes are concrete. Every input and
// variable the outputs need must be fed with its exact dtype and shape.
absl::StatusOr<std::vector<Buffer>> Evaluate(const Graph& graph,
                                             absl::Span<const NodeId> outputs,
                                             const Feeds& feeds,
                                             const Parallelism& parallel,
                                             NodeObserver* observer = nullptr);

// Clones the graph, specializes it to the feeds' batch size and evaluates.
absl::StatusOr<std::vector<Buffer>> EvaluateTensors(
    absl::Span<const Tensor> outputs, const Feeds& feeds,
    const Parallelism& parallel = SerialParallelism());

}  // namespace kiln

#endif  // KILN_GRAPH_EVALUATE_H_
