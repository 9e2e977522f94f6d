#include "layers/regularizers.h"

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/buffer.h"
#include "graph/graph.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "ops/ops.h"

namespace kiln {
namespace {

IntList AllAxes(const Tensor& x) {
  IntList axes(x.rank());
  std::iota(axes.begin(), axes.end(), 0);
  return axes;
}

absl::Status CheckPenalty(absl::string_view what, double value) {
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("value ", value, " of '", what,
                     "' is not a valid regularization penalty number: it must be finite"));
  }
  return absl::OkStatus();
}

// A regularizer that poisons the graph with `error` when applied.
Regularizer Failing(absl::string_view op, absl::Status error) {
  return [op = std::string(op), error](const Tensor& x) -> Tensor {
    if (!x.ok()) return x;
    return x.graph()->Fail(op, error);
  };
}

Tensor L1Term(const Tensor& x, double l1) {
  return ScalarLike(x, l1) * ReduceSum(Abs(x), AllAxes(x));
}
Tensor L2Term(const Tensor& x, double l2) {
  return ScalarLike(x, l2) * ReduceSum(Square(x), AllAxes(x));
}

}  // namespace

Regularizer L1(double l1) {
  if (absl::Status s = CheckPenalty("l1", l1); !s.ok()) return Failing("l1", s);
  return [l1](const Tensor& x) -> Tensor {
    if (!x.ok()) return x;
    return L1Term(x, l1);
  };
}

Regularizer L2(double l2) {
  if (absl::Status s = CheckPenalty("l2", l2); !s.ok()) return Failing("l2", s);
  return [l2](const Tensor& x) -> Tensor {
    if (!x.ok()) return x;
    return L2Term(x, l2);
  };
}

Regularizer L1L2(double l1, double l2) {
  for (auto [what, v] : {std::pair<const char*, double>{"l1", l1}, {"l2", l2}}) {
    if (absl::Status s = CheckPenalty(what, v); !s.ok()) return Failing("l1_l2", s);
  }
  return [l1, l2](const Tensor& x) -> Tensor {
    if (!x.ok()) return x;
    if (l1 != 0 && l2 != 0) return L1Term(x, l1) + L2Term(x, l2);
    if (l1 != 0) return L1Term(x, l1);
    if (l2 != 0) return L2Term(x, l2);
    return ScalarLike(x, 0.0);
  };
}

Regularizer OrthogonalRegularizer(double factor, OrthogonalMode mode) {
  if (absl::Status s = CheckPenalty("factor", factor); !s.ok()) {
    return Failing("orthogonal_regularizer", s);
  }
  return [factor, mode](const Tensor& x) -> Tensor {
    if (!x.ok()) return x;
    const bool rows = mode == OrthogonalMode::kRows;
    if (x.rank() != 2) {
      return x.graph()->Fail("orthogonal_regularizer",
                             absl::InvalidArgumentError(absl::StrCat(
                                 "inputs must have rank 2, got shape ", x.shape().ToString())));
    }
    const int64_t size = x.shape().dim(rows ? 0 : 1);
    if (size == Shape::kBatch) {
      return x.graph()->Fail(
          "orthogonal_regularizer",
          absl::InvalidArgumentError(absl::StrCat(
              "rows mode needs a known number of rows, got shape ", x.shape().ToString())));
    }
    Tensor n = L2Normalize(x, {rows ? 1 : 0});
    Tensor product = rows ? MatMul(n, n, false, true) : MatMul(n, n, true, false);
    Buffer off_diagonal(DType::kF32, Shape{size, size});
    for (int64_t i = 0; i < size * size; ++i) {
      off_diagonal.data<float>()[i] = i / size == i % size ? 0.0f : 1.0f;
    }
    Tensor masked = product * Constant(x.graph(), std::move(off_diagonal));
    const double num_pairs = static_cast<double>(size) * (size - 1.0) / 2.0;
    return ScalarLike(x, factor * 0.5) * ReduceSum(Abs(masked), {0, 1}) / ScalarLike(x, num_pairs);
  };
}

absl::StatusOr<Regularizer> RegularizerFromConfig(const nlohmann::json& config) {
  if (config.is_null()) return Regularizer();
  // The string "l1_l2" means L1L2(0.01, 0.01), not the class defaults.
  if (config.is_string() && config.get<std::string>() == "l1_l2") return L1L2(0.01, 0.01);
  KILN_ASSIGN_OR_RETURN(KerasObject object, ParseKerasObject(config, "regularizer"));
  KerasArgs args(object, "regularizer");
  const std::string& name = object.class_name;
  // Reads a factor: missing -> `missing`, null -> `null_value`, finite.
  auto factor = [&](absl::string_view key, double missing,
                    double null_value) -> absl::StatusOr<double> {
    nlohmann::json raw = args.Raw(key);
    if (raw.is_null()) return object.config.contains(std::string(key)) ? null_value : missing;
    KILN_ASSIGN_OR_RETURN(double v, args.Number(key, missing));
    if (!std::isfinite(v)) {
      return args.ArgError(key, absl::StrCat("is not a valid regularization penalty "
                                             "number: it must be finite, got ",
                                             v));
    }
    return v;
  };
  Regularizer result;
  if (name == "L1" || name == "l1" || name == "L2" || name == "l2") {
    const bool is_l1 = name == "L1" || name == "l1";
    const char* key = is_l1 ? "l1" : "l2";
    KILN_ASSIGN_OR_RETURN(double v, factor(key, 0.01, 0.01));
    if (object.config.contains("l")) {  // the legacy keyword wins, as in Keras
      KILN_ASSIGN_OR_RETURN(v, factor("l", 0.01, 0.01));
    }
    result = is_l1 ? L1(v) : L2(v);
  } else if (name == "L1L2" || name == "l1_l2") {
    // The class defaults to 0, 0; the l1_l2 function to 0.01, 0.01. None is 0.
    const double missing = name == "L1L2" ? 0.0 : 0.01;
    KILN_ASSIGN_OR_RETURN(double l1, factor("l1", missing, 0.0));
    KILN_ASSIGN_OR_RETURN(double l2, factor("l2", missing, 0.0));
    result = L1L2(l1, l2);
  } else if (name == "OrthogonalRegularizer" || name == "orthogonal_regularizer") {
    if (object.config.contains("factor") && object.config["factor"].is_null()) {
      return args.ArgError("factor", "must be a number, got null");
    }
    KILN_ASSIGN_OR_RETURN(double f, factor("factor", 0.01, 0.01));
    KILN_ASSIGN_OR_RETURN(std::string mode, args.String("mode", "rows"));
    if (mode != "rows" && mode != "columns") {
      return args.ArgError("mode", absl::StrCat("must be one of rows, columns; got '", mode, "'"));
    }
    result =
        OrthogonalRegularizer(f, mode == "rows" ? OrthogonalMode::kRows : OrthogonalMode::kColumns);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown regularizer: '", name, "'"));
  }
  KILN_RETURN_IF_ERROR(args.CheckNoneLeft());
  return result;
}

absl::StatusOr<Regularizer> RegularizerByName(absl::string_view name) {
  return RegularizerFromConfig(nlohmann::json(std::string(name)));
}

}  // namespace kiln
