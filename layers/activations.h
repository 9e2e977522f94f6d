// Activation functions by their Keras names (spec section 6).
//
//   KILN_ASSIGN_OR_RETURN(Activation relu, ActivationByName("relu"));
//   Tensor y = relu(x);
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

}  // namespace kiln

#endif  // KILN_LAYERS_ACTIVATIONS_H_
