// Activation functions by their Keras names (spec section 6), and the
// logits behind a softmax or sigmoid output (Keras' `_keras_logits`): the
// "softmax" and "sigmoid" activations record their input as the logits of
// their output, so a crossentropy on those probabilities can use the
// logits (a confidently wrong prediction keeps its gradient).
//
//   KILN_ASSIGN_OR_RETURN(Activation softmax, ActivationByName("softmax"));
//   Tensor p = softmax(x);
//   Tensor logits = LogitsOf(p, ProbabilityKind::kSoftmax);  // x
#ifndef KILN_LAYERS_ACTIVATIONS_H_
#define KILN_LAYERS_ACTIVATIONS_H_

#include <functional>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "graph/tensor.h"

namespace kiln {

using Activation = std::function<Tensor(const Tensor&)>;

// "linear" (and "" for None), relu, sigmoid, tanh, softmax, softplus,
// softsign, elu, selu, exponential, hard_sigmoid, swish/silu, gelu, relu6,
// leaky_relu, log_softmax, mish. Anything else: InvalidArgument naming it.
absl::StatusOr<Activation> ActivationByName(absl::string_view name);

// How probabilities were made from their logits: a softmax over the last
// axis or an elementwise sigmoid.
enum class ProbabilityKind { kSoftmax, kSigmoid };

// Records (in the graph) that `probabilities` = kind(`logits`). Both must be
// valid tensors of one graph with one type.
void RecordLogits(const Tensor& probabilities, const Tensor& logits, ProbabilityKind kind);
// The logits recorded for `probabilities` with that kind; an undefined
// Tensor (defined() false) when there are none.
Tensor LogitsOf(const Tensor& probabilities, ProbabilityKind kind);

}  // namespace kiln

#endif  // KILN_LAYERS_ACTIVATIONS_H_
