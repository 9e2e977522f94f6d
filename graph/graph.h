// Graph: the symbolic program built by ops and layers, one node per op call.
//
// Nodes are appended by Graph::Apply, which runs the op's shape rule. The
// first failing rule is recorded as the graph's status, with the op name,
// the layer and the user's source line; the failing node and everything
// built on it are poisoned tensors. Passes (graph/passes.h) rewrite a graph
// in place; `outputs()` are the roots they keep.
//
//   auto g = Graph::Create();
//   Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3});
//   Tensor y = Exp(x);            // g->num_nodes() == 2
//   g->status().ok()
#ifndef KILN_GRAPH_GRAPH_H_
#define KILN_GRAPH_GRAPH_H_

#include <deque>
#include <memory>
#include <typeindex>
#include <typeinfo>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/attrs.h"
#include "graph/build_context.h"
#include "graph/op_def.h"
#include "graph/tensor.h"

namespace kiln {

struct Node {
  const OpDef* op = nullptr;
  std::vector<NodeId> inputs;
  Attrs attrs;
  TensorType type;
  std::string layer;     // the layer that built it, "" outside layers
  std::string location;  // "model.cc:42", "" when unknown
};

class Graph : public std::enable_shared_from_this<Graph> {
 public:
  static std::shared_ptr<Graph> Create();

  // Builds a node, running the op's shape rule. On failure records the
  // graph's first error and returns a poisoned tensor; poisoned inputs give
  // a poisoned result without a new error.
  Tensor Apply(const OpDef& op, absl::Span<const Tensor> inputs, Attrs attrs,
               SourceLoc loc = SourceLoc::current());

  // Records `error` as the graph's first error (unless one is recorded),
  // attributed to `op_name`, the current layer and `loc`, and returns a
  // poisoned tensor. For composites and layers that check their arguments.
  Tensor Fail(absl::string_view op_name, const absl::Status& error,
              SourceLoc loc = SourceLoc::current());

  // Appends a node for passes and the parser: runs the shape rule and
  // returns its error instead of recording it.
  absl::StatusOr<NodeId> AddNode(const OpDef& op, std::vector<NodeId> inputs,
                                 Attrs attrs);

  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  const Node& node(NodeId id) const { return nodes_[id]; }
  Node& mutable_node(NodeId id) { return nodes_[id]; }
  // Node references stay valid while the graph grows (a deque).
  const std::deque<Node>& nodes() const { return nodes_; }
  Tensor tensor(NodeId id) { return Tensor(shared_from_this(), id); }

  // The first error recorded by Apply (OK when none).
  const absl::Status& status() const { return status_; }

  // Roots kept by passes, printed as `return` (empty for user graphs).
  std::vector<NodeId>& outputs() { return outputs_; }
  const std::vector<NodeId>& outputs() const { return outputs_; }

  // Uses of `from` (in node inputs and outputs) now read `to`.
  void ReplaceAllUses(NodeId from, NodeId to);
  // For each node, the nodes that read it (duplicates when read twice).
  std::vector<std::vector<NodeId>> Users() const;
  // Replaces the node list (passes that renumber use this).
  void ResetNodes(std::deque<Node> nodes, std::vector<NodeId> outputs);

  std::shared_ptr<Graph> Clone() const;

  // Per-graph state of a higher layer (the layers/ library keeps its layer
  // calls, masks and losses here), created on first use and shared by
  // clones. T must be default-constructible.
  template <typename T>
  T& Attachment() {
    std::shared_ptr<void>& slot = attachments_[std::type_index(typeid(T))];
    if (slot == nullptr) slot = std::make_shared<T>();
    return *static_cast<T*>(slot.get());
  }

 private:
  Graph() = default;
  void RecordError(absl::string_view op_name, const absl::Status& error,
                   const std::string& layer, const std::string& location);

  std::deque<Node> nodes_;
  std::vector<NodeId> outputs_;
  absl::Status status_;
  absl::flat_hash_map<std::type_index, std::shared_ptr<void>> attachments_;
};

// Runs `op`'s shape rule on the given input types; the error message is
// prefixed with "[op] ".
absl::StatusOr<TensorType> InferType(const OpDef& op,
                                     absl::Span<const TensorType> inputs,
                                     const Attrs& attrs);

}  // namespace kiln

#endif  // KILN_GRAPH_GRAPH_H_
