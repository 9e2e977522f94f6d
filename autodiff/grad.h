// Reverse-mode automatic differentiation, graph to graph.
//
// Grad adds the gradient computation to the loss's graph and returns one
// tensor per `wrt`: d loss / d wrt. It knows no op: each node's gradient
// comes from its OpDef's rule. Fan-out is summed; nodes that do not lie
// between `wrt` and the loss are skipped; gradients are ordinary graph nodes,
// so they can be differentiated again.
//
//   Tensor loss = ReduceSum(Square(Dense(x, w) - y), {0, 1});
//   KILN_ASSIGN_OR_RETURN(std::vector<Tensor> grads, Grad(loss, {w}));
#ifndef KILN_AUTODIFF_GRAD_H_
#define KILN_AUTODIFF_GRAD_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/tensor.h"

namespace kiln {

// d loss / d wrt[i]. A non-scalar loss is seeded with `seed` (the output
// cotangent, same shape), or with ones when `seed` is undefined. A `wrt`
// the loss does not depend on gets zeros. Errors: a poisoned graph, tensors
// from different graphs, non-float tensors, and ops without a gradient rule
// on the path (the message names the op and its layer).
absl::StatusOr<std::vector<Tensor>> Grad(const Tensor& loss,
                                         absl::Span<const Tensor> wrt,
                                         const Tensor& seed = Tensor());

}  // namespace kiln

#endif  // KILN_AUTODIFF_GRAD_H_
