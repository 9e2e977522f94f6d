// Weight and activity regularizers with tf.keras 2.x semantics (spec 4.1):
// functions from a tensor to a scalar penalty tensor of its dtype, built from
// ops (so they get gradients, fusion and both backends like any graph).
//
//   Regularizer reg = L1L2(/*l1=*/0.01, /*l2=*/0.001);
//   Tensor penalty = reg(kernel);      // 0.01 sum|w| + 0.001 sum w^2
//   KILN_ASSIGN_OR_RETURN(Regularizer l2, RegularizerByName("l2"));  // 0.01
//
// Any callable Tensor -> scalar Tensor is a regularizer; an empty
// std::function means "no regularizer" (Keras None). How layers add the
// penalties to the loss (activity penalties divided by the batch size) is
// the layers' business (spec 4.2).
//
// Penalty factors must be finite: the config and name paths return
// InvalidArgument; the C++ constructors below, which cannot, return a
// regularizer that records the error in the graph when applied.
#ifndef KILN_LAYERS_REGULARIZERS_H_
#define KILN_LAYERS_REGULARIZERS_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/tensor.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

using Regularizer = std::function<Tensor(const Tensor&)>;

// l1 * sum(|w|).
Regularizer L1(double l1 = 0.01);
// l2 * sum(w^2) (TF's 2 * l2 * l2_loss(w): no 1/2 factor).
Regularizer L2(double l2 = 0.01);
// l1 * sum(|w|) + l2 * sum(w^2); a zero factor's term is left out (as
// tf.keras's `if self.l1:`), both zero gives the constant 0. Note the class
// defaults are 0, 0 while the name "l1_l2" means 0.01, 0.01.
Regularizer L1L2(double l1 = 0.0, double l2 = 0.0);

enum class OrthogonalMode { kRows, kColumns };
// Rank-2 inputs only: factor * 0.5 * sum|P - diag(P)| / (size (size - 1) / 2)
// with P the Gram matrix of the l2-normalized rows (or columns).
Regularizer OrthogonalRegularizer(double factor = 0.01,
                                  OrthogonalMode mode = OrthogonalMode::kRows);

// "l1" (0.01), "l2" (0.01), "l1_l2" (0.01, 0.01), and the class names L1,
// L2, L1L2 (0, 0), OrthogonalRegularizer / orthogonal_regularizer, with
// their default arguments. Unknown names: InvalidArgument naming them.
absl::StatusOr<Regularizer> RegularizerByName(absl::string_view name);

// From a Keras config: null (no regularizer: an empty function), a name, or
// {"class_name", "config"} with the constructor arguments (l1, l2; L1 and L2
// also take the legacy "l"; a null factor is the default). Unknown classes,
// unknown arguments, and factors that are not finite numbers give
// InvalidArgument naming them.
absl::StatusOr<Regularizer> RegularizerFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_REGULARIZERS_H_
