#include "autodiff/grad.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "graph/build_context.h"
#include "graph/graph.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {

absl::StatusOr<std::vector<Tensor>> Grad(const Tensor& loss,
                                         absl::Span<const Tensor> wrt,
                                         const Tensor& seed) {
  if (!loss.defined()) return absl::InvalidArgumentError("Grad: undefined loss");
  KILN_RETURN_IF_ERROR(loss.status());
  const std::shared_ptr<Graph> graph = loss.graph();
  if (loss.dtype() != DType::kF32) {
    return absl::InvalidArgumentError(
        absl::StrCat("Grad: the loss must be f32, got ", loss.node().type.ToString()));
  }
  const int n = graph->num_nodes();
  std::vector<bool> from_wrt(n, false);  // depends on some wrt
  for (const Tensor& w : wrt) {
    if (!w.ok() || w.graph() != graph) {
      return absl::InvalidArgumentError(
          "Grad: every wrt tensor must come from the loss's graph");
    }
    if (w.dtype() != DType::kF32) {
      return absl::InvalidArgumentError(
          absl::StrCat("Grad: cannot differentiate with respect to ",
                       w.node().type.ToString(), " (not f32)"));
    }
    from_wrt[w.id()] = true;
  }
  for (NodeId id = 0; id <= loss.id(); ++id) {
    for (NodeId in : graph->node(id).inputs) {
      if (from_wrt[in] && graph->node(id).type.dtype == DType::kF32) from_wrt[id] = true;
    }
  }
  std::vector<bool> to_loss(n, false);  // the loss depends on it
  to_loss[loss.id()] = true;
  for (NodeId id = loss.id(); id >= 0; --id) {
    if (!to_loss[id]) continue;
    for (NodeId in : graph->node(id).inputs) to_loss[in] = true;
  }

  std::vector<Tensor> cotangent(n);
  if (seed.defined()) {
    if (!seed.ok() || seed.graph() != graph || seed.shape() != loss.shape()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Grad: the seed must be a tensor of shape ",
                       loss.shape().ToString(), " from the loss's graph"));
    }
    cotangent[loss.id()] = seed;
  } else {
    cotangent[loss.id()] = OnesLike(loss);
  }

  // Nodes are stored inputs-first, so walking ids downward visits every
  // user of a node before the node itself.
  for (NodeId id = loss.id(); id >= 0; --id) {
    if (!from_wrt[id] || !to_loss[id] || !cotangent[id].defined()) continue;
    // Copy: building gradient nodes may grow the node list.
    const Node node = graph->node(id);
    std::vector<bool> needs(node.inputs.size());
    bool any = false;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      needs[i] = from_wrt[node.inputs[i]] && to_loss[node.inputs[i]];
      any = any || needs[i];
    }
    if (!any) continue;
    if (node.op->grad == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "[", node.op->name, "]",
          node.layer.empty() ? "" : absl::StrCat(" in layer '", node.layer, "'"),
          ": has no gradient, but the loss depends on its input through it"));
    }
    std::vector<Tensor> inputs;
    for (NodeId in : node.inputs) inputs.push_back(graph->tensor(in));
    const Tensor output = graph->tensor(id);
    std::vector<Tensor> grads;
    {
      // Gradient nodes are attributed to the forward node's layer.
      std::optional<LayerScope> scope;
      if (!node.layer.empty()) scope.emplace(node.layer + "/grad");
      grads = node.op->grad(
          GradContext{inputs, output, cotangent[id], node.attrs, needs});
    }
    KILN_RETURN_IF_ERROR(graph->status());
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (!needs[i] || i >= grads.size() || !grads[i].defined()) continue;
      Tensor& acc = cotangent[node.inputs[i]];
      acc = acc.defined() ? Add(acc, grads[i]) : grads[i];
    }
    KILN_RETURN_IF_ERROR(graph->status());
  }

  std::vector<Tensor> result;
  for (const Tensor& w : wrt) {
    result.push_back(cotangent[w.id()].defined() ? cotangent[w.id()] : ZerosLike(w));
  }
  KILN_RETURN_IF_ERROR(graph->status());
  return result;
}

}  // namespace kiln
