#include "graph/graph.h"

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace kiln {

absl::string_view FusionKindName(FusionKind k) {
  switch (k) {
    case FusionKind::kSource: return "source";
    case FusionKind::kElementwise: return "elementwise";
    case FusionKind::kReduction: return "reduction";
    case FusionKind::kIndexMap: return "index_map";
    case FusionKind::kContraction: return "contraction";
    case FusionKind::kOpaque: return "opaque";
  }
  return "?";
}

std::string TensorType::ToString() const {
  return absl::StrCat(DTypeName(dtype), shape.ToString());
}

absl::Status Tensor::status() const {
  if (!defined()) return absl::FailedPreconditionError("undefined tensor");
  return graph_->status();
}
const Node& Tensor::node() const { return graph_->node(id_); }
DType Tensor::dtype() const { return node().type.dtype; }
const Shape& Tensor::shape() const { return node().type.shape; }

std::shared_ptr<Graph> Graph::Create() {
  return std::shared_ptr<Graph>(new Graph());
}

absl::StatusOr<TensorType> InferType(const OpDef& op,
                                     absl::Span<const TensorType> inputs,
                                     const Attrs& attrs) {
  if (op.arity != OpDef::kVariadic &&
      static_cast<int>(inputs.size()) != op.arity) {
    return absl::InvalidArgumentError(
        absl::StrCat("[", op.name, "] expected ", op.arity, " input(s), got ",
                     inputs.size()));
  }
  absl::StatusOr<TensorType> type = op.infer(InferContext{inputs, attrs});
  if (!type.ok()) {
    return absl::Status(type.status().code(),
                        absl::StrCat("[", op.name, "] ", type.status().message()));
  }
  return type;
}

void Graph::RecordError(absl::string_view op_name, const absl::Status& error,
                        const std::string& layer,
                        const std::string& location) {
  if (!status_.ok()) return;  // keep the first error
  // `error` starts with "[op] "; put the layer and location after it.
  absl::string_view message = error.message();
  const std::string prefix = absl::StrCat("[", op_name, "] ");
  if (message.substr(0, prefix.size()) == prefix) message.remove_prefix(prefix.size());
  std::string where;
  if (!layer.empty()) absl::StrAppend(&where, " in layer '", layer, "'");
  if (!location.empty()) absl::StrAppend(&where, " (", location, ")");
  status_ = absl::Status(error.code(), absl::StrCat("[", op_name, "]", where,
                                                    ": ", message));
}

Tensor Graph::Apply(const OpDef& op, absl::Span<const Tensor> inputs,
                    Attrs attrs, SourceLoc loc) {
  const LayerScope* scope = LayerScope::Current();
  std::string layer = scope != nullptr ? scope->layer_name() : "";
  std::string location = FormatLocation(scope != nullptr ? scope->location() : loc);
  auto self = shared_from_this();

  std::vector<TensorType> types;
  std::vector<NodeId> ids;
  for (const Tensor& t : inputs) {
    if (!t.defined() || t.graph().get() != this) {
      RecordError(op.name,
                  absl::InvalidArgumentError(
                      t.defined() ? "inputs come from different graphs"
                                  : "an input tensor is undefined"),
                  layer, location);
      return Tensor(self, kNoNode);
    }
    if (t.poisoned()) return Tensor(self, kNoNode);
    types.push_back(t.node().type);
    ids.push_back(t.id());
  }
  absl::StatusOr<TensorType> type = InferType(op, types, attrs);
  if (!type.ok()) {
    RecordError(op.name, type.status(), layer, location);
    return Tensor(self, kNoNode);
  }
  nodes_.push_back(Node{&op, std::move(ids), std::move(attrs), *std::move(type),
                        std::move(layer), std::move(location)});
  return Tensor(self, num_nodes() - 1);
}

Tensor Graph::Fail(absl::string_view op_name, const absl::Status& error,
                   SourceLoc loc) {
  const LayerScope* scope = LayerScope::Current();
  RecordError(op_name, error, scope != nullptr ? scope->layer_name() : "",
              FormatLocation(scope != nullptr ? scope->location() : loc));
  return Tensor(shared_from_this(), kNoNode);
}

absl::StatusOr<NodeId> Graph::AddNode(const OpDef& op,
                                      std::vector<NodeId> inputs,
                                      Attrs attrs) {
  std::vector<TensorType> types;
  for (NodeId id : inputs) {
    if (id < 0 || id >= num_nodes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("[", op.name, "] input %", id, " does not exist"));
    }
    types.push_back(nodes_[id].type);
  }
  KILN_ASSIGN_OR_RETURN(TensorType type, InferType(op, types, attrs));
  nodes_.push_back(Node{&op, std::move(inputs), std::move(attrs),
                        std::move(type), "", ""});
  return num_nodes() - 1;
}

void Graph::ReplaceAllUses(NodeId from, NodeId to) {
  for (Node& n : nodes_) {
    for (NodeId& in : n.inputs) {
      if (in == from) in = to;
    }
  }
  for (NodeId& out : outputs_) {
    if (out == from) out = to;
  }
}

std::vector<std::vector<NodeId>> Graph::Users() const {
  std::vector<std::vector<NodeId>> users(nodes_.size());
  for (NodeId id = 0; id < num_nodes(); ++id) {
    for (NodeId in : nodes_[id].inputs) users[in].push_back(id);
  }
  return users;
}

void Graph::ResetNodes(std::deque<Node> nodes, std::vector<NodeId> outputs) {
  nodes_ = std::move(nodes);
  outputs_ = std::move(outputs);
}

std::shared_ptr<Graph> Graph::Clone() const {
  auto g = Create();
  g->nodes_ = nodes_;
  g->outputs_ = outputs_;
  g->status_ = status_;
  g->attachments_ = attachments_;
  return g;
}

}  // namespace kiln
