// Tensor: the cheap user handle to one node of a Graph.
//
// A Tensor names a node (graph + id). It is "poisoned" when the op that
// should have produced it failed its shape rule; the error is recorded once in
// the graph (Graph::status) and every op applied to a poisoned tensor yields
// another poisoned tensor, so model code stays fluent:
//
//   Tensor h = Exp(x);            // never throws
//   if (!h.ok()) std::cerr << h.status();
#ifndef KILN_GRAPH_TENSOR_H_
#define KILN_GRAPH_TENSOR_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "graph/dtype.h"
#include "graph/shape.h"

namespace kiln {

class Graph;
struct Node;
using NodeId = int32_t;
inline constexpr NodeId kNoNode = -1;

class Tensor {
 public:
  Tensor() = default;  // "no tensor": e.g. an input that needs no gradient
  Tensor(std::shared_ptr<Graph> graph, NodeId id)
      : graph_(std::move(graph)), id_(id) {}

  // A tensor from a graph, possibly poisoned.
  bool defined() const { return graph_ != nullptr; }
  bool poisoned() const { return defined() && id_ == kNoNode; }
  bool ok() const { return defined() && id_ != kNoNode; }
  // The graph's first error (OK when the graph has none).
  absl::Status status() const;

  NodeId id() const { return id_; }
  const std::shared_ptr<Graph>& graph() const { return graph_; }
  const Node& node() const;  // requires ok()
  DType dtype() const;        // requires ok()
  const Shape& shape() const;  // requires ok()
  int rank() const { return shape().rank(); }

  friend bool operator==(const Tensor& a, const Tensor& b) {
    return a.graph_ == b.graph_ && a.id_ == b.id_;
  }

 private:
  std::shared_ptr<Graph> graph_;
  NodeId id_ = kNoNode;
};

}  // namespace kiln

#endif  // KILN_GRAPH_TENSOR_H_
