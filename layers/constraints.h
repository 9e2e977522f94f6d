// Weight constraints with tf.keras 2.x semantics (spec section 5): functions
// from a weight tensor to its projected value, built from ops. Layers apply
// them only after each optimizer update (w := constraint(w)), never at
// initialisation or in the forward pass.
//
//   Constraint c = MaxNorm(/*max_value=*/3.0, /*axis=*/{0, 1, 2});  // Conv2D
//   Tensor projected = c(kernel);
//   KILN_ASSIGN_OR_RETURN(Constraint nn, ConstraintByName("non_neg"));
//
// With eps = 1e-7 and norm = sqrt(sum over `axis` of w^2) (kept dims):
//   MaxNorm     w * clip(norm, 0, max_value) / (eps + norm)
//   NonNeg      w * (w >= 0)
//   UnitNorm    w / (eps + norm)
//   MinMaxNorm  w * (rate * clip(norm, min, max) + (1 - rate) * norm) / (eps + norm)
// clip(x, lo, hi) is tf.keras's backend.clip: hi < lo means hi = lo. The
// default axis is 0 for every layer (spec 5 lists the axis that gives one
// norm per output unit). An empty std::function means "no constraint".
#ifndef KILN_LAYERS_CONSTRAINTS_H_
#define KILN_LAYERS_CONSTRAINTS_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/attrs.h"
#include "graph/tensor.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

using Constraint = std::function<Tensor(const Tensor&)>;

// The axes a norm is taken over: an int, a list (negative axes count from the
// end), or All() for Keras's axis=None (every axis).
class NormAxes {
 public:
  NormAxes(int64_t axis) : axes_{axis} {}                         // NOLINT
  NormAxes(std::initializer_list<int64_t> axes) : axes_(axes) {}  // NOLINT
  NormAxes(IntList axes) : axes_(std::move(axes)) {}              // NOLINT
  static NormAxes All() {
    NormAxes a(IntList{});
    a.all_ = true;
    return a;
  }
  bool all() const { return all_; }
  // The axes for a tensor of `rank` (all of them for All()), unnormalized.
  IntList For(int rank) const;

 private:
  IntList axes_;
  bool all_ = false;
};

// A bad axis for the weight's rank records an error in the graph naming the
// constraint ("[max_norm] ...").
Constraint MaxNorm(double max_value = 2.0, NormAxes axis = 0);
Constraint NonNeg();
Constraint UnitNorm(NormAxes axis = 0);
Constraint MinMaxNorm(double min_value = 0.0, double max_value = 1.0, double rate = 1.0,
                      NormAxes axis = 0);

// By Keras name with default arguments: MaxNorm / max_norm / maxnorm,
// NonNeg / non_neg / nonneg, UnitNorm / unit_norm / unitnorm, MinMaxNorm /
// min_max_norm. Unknown names: InvalidArgument naming them.
absl::StatusOr<Constraint> ConstraintByName(absl::string_view name);

// From a Keras config: null (no constraint: an empty function), a name, or
// {"class_name", "config"} with the constructor arguments (max_value,
// min_value, rate: numbers; axis: an int, a list of ints, or null for all
// axes). Unknown classes or arguments and bad values give InvalidArgument
// naming them.
absl::StatusOr<Constraint> ConstraintFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_CONSTRAINTS_H_
