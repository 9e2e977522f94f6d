#include "graph/evaluate.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "graph/passes.h"
#include "graph/status_macros.h"

namespace kiln {

bool IsFed(const Node& n) {
  return n.op->fusion == FusionKind::kSource && n.attrs.Has("name");
}

const Buffer* HeldValue(const Node& n) {
  if (n.op->fusion != FusionKind::kSource) return nullptr;
  const AttrValue* v = n.attrs.Find("value");
  if (v == nullptr) return nullptr;
  const auto* b = std::get_if<std::shared_ptr<const Buffer>>(v);
  return b != nullptr ? b->get() : nullptr;
}

absl::StatusOr<const Buffer*> FedValue(const Node& n, const Feeds& feeds) {
  const std::string name = n.attrs.GetOr<std::string>("name", "");
  auto it = feeds.find(name);
  if (it == feeds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("[", n.op->name, "] no value fed for '", name, "'"));
  }
  const Buffer& b = *it->second;
  if (b.dtype() != n.type.dtype || b.shape() != n.type.shape) {
    return absl::InvalidArgumentError(
        absl::StrCat("[", n.op->name, "] '", name, "' expects ", n.type.ToString(),
                     ", got ", DTypeName(b.dtype()), b.shape().ToString()));
  }
  return &b;
}

absl::StatusOr<int64_t> BatchSizeOf(const Graph& graph, const Feeds& feeds) {
  int64_t batch = 0;
  std::string first;
  for (const Node& n : graph.nodes()) {
    if (!IsFed(n) || n.type.shape.rank() == 0 ||
        n.type.shape.dim(0) != Shape::kBatch) {
      continue;
    }
    const std::string name = n.attrs.GetOr<std::string>("name", "");
    auto it = feeds.find(name);
    if (it == feeds.end() || it->second->shape().rank() == 0) continue;
    const int64_t b = it->second->shape().dim(0);
    if (batch == 0) {
      batch = b;
      first = name;
    } else if (b != batch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", name, "' has batch size ", b, " but input '", first,
          "' has ", batch));
    }
  }
  return batch;
}

absl::Status SpecializeBatch(Graph& graph, int64_t batch) {
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    Node& n = graph.mutable_node(id);
    Attrs attrs;
    for (const auto& [name, value] : n.attrs.items()) {
      if (const Shape* s = std::get_if<Shape>(&value)) {
        attrs.Set(name, s->Specialize(batch));
      } else {
        attrs.Set(name, value);
      }
    }
    n.attrs = std::move(attrs);
    std::vector<TensorType> types;
    for (NodeId in : n.inputs) types.push_back(graph.node(in).type);
    KILN_ASSIGN_OR_RETURN(n.type, InferType(*n.op, types, n.attrs));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Buffer>> Evaluate(const Graph& graph,
                                             absl::Span<const NodeId> outputs,
                                             const Feeds& feeds,
                                             const Parallelism& parallel,
                                             NodeObserver* observer) {
  const std::vector<NodeId> order = TopologicalOrder(graph, outputs);

  // Readers left per node; outputs are never freed.
  std::vector<int> readers(graph.num_nodes(), 0);
  for (NodeId id : order) {
    for (NodeId in : graph.node(id).inputs) ++readers[in];
  }
  for (NodeId out : outputs) readers[out] += 1 << 20;

  std::vector<const Buffer*> value(graph.num_nodes(), nullptr);
  std::vector<std::unique_ptr<Buffer>> owned(graph.num_nodes());
  for (NodeId id : order) {
    const Node& n = graph.node(id);
    if (!n.type.shape.IsConcrete()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "[", n.op->name, "] %", id, " has shape ", n.type.shape.ToString(),
          "; specialize the batch size before evaluating"));
    }
    if (IsFed(n)) {
      KILN_ASSIGN_OR_RETURN(value[id], FedValue(n, feeds));
    } else if (const auto* held = HeldValue(n)) {
      value[id] = held;
    } else {
      std::vector<const Buffer*> inputs;
      for (NodeId in : n.inputs) inputs.push_back(value[in]);
      if (n.op->interp == nullptr) {
        return absl::UnimplementedError(
            absl::StrCat("[", n.op->name, "] has no interpreter kernel"));
      }
      owned[id] = std::make_unique<Buffer>(n.type.dtype, n.type.shape);
      if (observer != nullptr) observer->KernelStarts(id);
      absl::Status s = n.op->interp(
          KernelContext{inputs, owned[id].get(), n.attrs, parallel});
      if (observer != nullptr) observer->KernelEnds(id);
      if (!s.ok()) {
        absl::string_view msg = s.message();
        const std::string prefix = absl::StrCat("[", n.op->name, "]");
        return absl::Status(s.code(), msg.substr(0, prefix.size()) == prefix
                                          ? std::string(msg)
                                          : absl::StrCat(prefix, " ", msg));
      }
      value[id] = owned[id].get();
    }
    for (NodeId in : n.inputs) {
      if (--readers[in] == 0) {
        owned[in].reset();
        value[in] = nullptr;
      }
    }
  }
  std::vector<Buffer> results;
  for (NodeId out : outputs) {
    // An output listed twice, or a fed value, is copied.
    if (owned[out] != nullptr && readers[out] >= (1 << 20) &&
        std::count(outputs.begin(), outputs.end(), out) == 1) {
      results.push_back(std::move(*owned[out]));
    } else {
      results.push_back(value[out]->Clone());
    }
  }
  return results;
}

absl::StatusOr<std::vector<Buffer>> EvaluateTensors(
    absl::Span<const Tensor> outputs, const Feeds& feeds,
    const Parallelism& parallel) {
  if (outputs.empty()) return std::vector<Buffer>();
  std::shared_ptr<Graph> graph;
  std::vector<NodeId> ids;
  for (const Tensor& t : outputs) {
    if (!t.defined()) return absl::InvalidArgumentError("undefined output tensor");
    KILN_RETURN_IF_ERROR(t.status());
    if (graph != nullptr && graph != t.graph()) {
      return absl::InvalidArgumentError("outputs come from different graphs");
    }
    graph = t.graph();
    ids.push_back(t.id());
  }
  std::shared_ptr<Graph> copy = graph->Clone();
  KILN_ASSIGN_OR_RETURN(int64_t batch, BatchSizeOf(*copy, feeds));
  KILN_RETURN_IF_ERROR(SpecializeBatch(*copy, batch > 0 ? batch : 1));
  return Evaluate(*copy, ids, feeds, parallel);
}

}  // namespace kiln
