#include "layers/constraints.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/graph.h"
#include "graph/shape.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr double kEpsilon = 1e-7;  // tf.keras backend.epsilon()

// sqrt(sum(w^2 over the axes)) with kept dims, or the error recorded under
// `op` when an axis is out of range or repeats.
Tensor Norms(absl::string_view op, const Tensor& w, const NormAxes& axis) {
  IntList axes = axis.For(w.rank());
  IntList sorted;
  for (int64_t a : axes) {
    absl::StatusOr<int> n = NormalizeAxis(a, w.rank());
    if (!n.ok()) {
      return w.graph()->Fail(
          op, absl::InvalidArgumentError(absl::StrCat(
                  "axis [", absl::StrJoin(axes, ", "), "] is invalid for a weight of shape ",
                  w.shape().ToString(), ": ", n.status().message())));
    }
    sorted.push_back(*n);
  }
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return w.graph()->Fail(
        op, absl::InvalidArgumentError(
                absl::StrCat("axis [", absl::StrJoin(axes, ", "), "] contains a duplicate axis")));
  }
  return Sqrt(ReduceSum(Square(w), sorted, /*keepdims=*/true));
}

// tf.keras backend.clip: an upper bound below the lower one is raised to it.
Tensor KerasClip(const Tensor& x, double lo, double hi) { return Clip(x, lo, std::max(lo, hi)); }

// w * (desired / (eps + norms)), in tf.keras's order of operations.
Tensor Rescale(const Tensor& w, const Tensor& desired, const Tensor& norms) {
  return w * (desired / (ScalarLike(w, kEpsilon) + norms));
}

}  // namespace

IntList NormAxes::For(int rank) const {
  if (!all_) return axes_;
  IntList axes(rank);
  std::iota(axes.begin(), axes.end(), 0);
  return axes;
}

Constraint MaxNorm(double max_value, NormAxes axis) {
  return [max_value, axis = std::move(axis)](const Tensor& w) -> Tensor {
    if (!w.ok()) return w;
    Tensor norms = Norms("max_norm", w, axis);
    return Rescale(w, KerasClip(norms, 0.0, max_value), norms);
  };
}

Constraint NonNeg() {
  return [](const Tensor& w) -> Tensor {
    if (!w.ok()) return w;
    return w * Cast(GreaterEqual(w, ScalarLike(w, 0.0)), w.dtype());
  };
}

Constraint UnitNorm(NormAxes axis) {
  return [axis = std::move(axis)](const Tensor& w) -> Tensor {
    if (!w.ok()) return w;
    return w / (ScalarLike(w, kEpsilon) + Norms("unit_norm", w, axis));
  };
}

Constraint MinMaxNorm(double min_value, double max_value, double rate, NormAxes axis) {
  return [=](const Tensor& w) -> Tensor {
    if (!w.ok()) return w;
    Tensor norms = Norms("min_max_norm", w, axis);
    Tensor desired = ScalarLike(w, rate) * KerasClip(norms, min_value, max_value) +
                     ScalarLike(w, 1.0 - rate) * norms;
    return Rescale(w, desired, norms);
  };
}

absl::StatusOr<Constraint> ConstraintFromConfig(const nlohmann::json& config) {
  if (config.is_null()) return Constraint();
  KILN_ASSIGN_OR_RETURN(KerasObject object, ParseKerasObject(config, "constraint"));
  KerasArgs args(object, "constraint");
  const std::string& name = object.class_name;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // axis: an int or a list (default 0); null is every axis.
  auto read_axis = [&]() -> absl::StatusOr<NormAxes> {
    KILN_ASSIGN_OR_RETURN(std::optional<IntList> axes, args.IntOrIntList("axis", {0}));
    if (!axes.has_value()) return NormAxes::All();
    return NormAxes(std::move(*axes));
  };
  // A bound: a number; null is unbounded (backend.clip's None), as `null_value`.
  auto read_bound = [&](absl::string_view key, double missing,
                        double null_value) -> absl::StatusOr<double> {
    const bool is_null =
        object.config.contains(std::string(key)) && object.config[std::string(key)].is_null();
    KILN_ASSIGN_OR_RETURN(double v, args.Number(key, missing, /*null_is_default=*/true));
    return is_null ? null_value : v;
  };
  Constraint result;
  if (name == "MaxNorm" || name == "max_norm" || name == "maxnorm") {
    KILN_ASSIGN_OR_RETURN(double max_value, read_bound("max_value", 2.0, kInf));
    KILN_ASSIGN_OR_RETURN(NormAxes axis, read_axis());
    result = MaxNorm(max_value, std::move(axis));
  } else if (name == "NonNeg" || name == "non_neg" || name == "nonneg") {
    result = NonNeg();
  } else if (name == "UnitNorm" || name == "unit_norm" || name == "unitnorm") {
    KILN_ASSIGN_OR_RETURN(NormAxes axis, read_axis());
    result = UnitNorm(std::move(axis));
  } else if (name == "MinMaxNorm" || name == "min_max_norm") {
    KILN_ASSIGN_OR_RETURN(double min_value, read_bound("min_value", 0.0, -kInf));
    KILN_ASSIGN_OR_RETURN(double max_value, read_bound("max_value", 1.0, kInf));
    KILN_ASSIGN_OR_RETURN(double rate, args.Number("rate", 1.0));
    KILN_ASSIGN_OR_RETURN(NormAxes axis, read_axis());
    result = MinMaxNorm(min_value, max_value, rate, std::move(axis));
  } else if (name == "RadialConstraint" || name == "radial_constraint") {
    return absl::UnimplementedError(
        absl::StrCat("constraint '", name, "' is not supported by kiln"));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown constraint: '", name, "'"));
  }
  KILN_RETURN_IF_ERROR(args.CheckNoneLeft());
  return result;
}

absl::StatusOr<Constraint> ConstraintByName(absl::string_view name) {
  return ConstraintFromConfig(nlohmann::json(std::string(name)));
}

}  // namespace kiln
