// The Loss class (shared label checks and reductions), the regression
// losses and lookup by Keras name. The probabilistic and hinge losses are
// in losses_probabilistic.cc.
#include "layers/losses.h"

#include <cmath>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/activations.h"
#include "layers/losses_internal.h"
#include "ops/ops.h"

namespace kiln {

absl::StatusOr<Reduction> ReductionFromName(absl::string_view name) {
  if (name == "sum_over_batch_size" || name == "auto") return Reduction::kSumOverBatchSize;
  if (name == "sum") return Reduction::kSum;
  if (name == "none") return Reduction::kNone;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown loss reduction '", name, "' (expected sum_over_batch_size, sum or none)"));
}

Loss::Loss(std::string name, PerSampleFn per_sample, Reduction reduction, bool sparse_labels)
    : name_(std::move(name)),
      per_sample_(std::move(per_sample)),
      reduction_(reduction),
      sparse_labels_(sparse_labels) {}

Loss::Loss(const char* name) : Loss(std::string(name)) {}

Loss::Loss(const std::string& name) {
  absl::StatusOr<Loss> loss = LossFromName(name);
  if (loss.ok()) {
    *this = *std::move(loss);
  } else {
    name_ = name;
    status_ = loss.status();
  }
}

Tensor Loss::PerSample(const Tensor& y_true, const Tensor& y_pred, SourceLoc loc) const {
  if (!y_pred.ok()) return y_pred;
  if (!y_true.ok()) return y_true;
  if (!status_.ok()) return y_pred.graph()->Fail(name_, status_, loc);
  if (per_sample_ == nullptr) {
    return y_pred.graph()->Fail("loss", absl::InvalidArgumentError("the loss is empty"), loc);
  }
  if (sparse_labels_) return per_sample_(y_true, y_pred);
  absl::StatusOr<std::pair<Tensor, Tensor>> checked = MatchLabels(y_true, y_pred);
  if (!checked.ok()) return y_pred.graph()->Fail(name_, checked.status(), loc);
  return per_sample_(checked->first, checked->second);
}

Tensor Loss::operator()(const Tensor& y_true, const Tensor& y_pred, SourceLoc loc) const {
  return Reduce(PerSample(y_true, y_pred, loc));
}

namespace {

// Keras' squeeze_or_expand_dimensions for sample weights: a trailing 1 goes
// when the weights have one more axis; then their dims must lead the
// per-sample dims. Returns the weight dims to use.
absl::StatusOr<std::vector<int64_t>> WeightDims(const TensorType& weight,
                                                const Shape& per_sample) {
  std::vector<int64_t> dims = weight.shape.dims();
  if (dims.size() == static_cast<size_t>(per_sample.rank()) + 1 && dims.back() == 1) {
    dims.pop_back();
  }
  bool fits = IsFloat(weight.dtype) && dims.size() <= static_cast<size_t>(per_sample.rank());
  for (size_t i = 0; fits && i < dims.size(); ++i) {
    fits = dims[i] == per_sample.dim(i) || (i > 0 && dims[i] == 1);  // 1 broadcasts
  }
  if (!fits) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected float sample weights of shape [N], [N,1] or the per-sample loss shape ",
        per_sample.ToString(), ", got ", weight.ToString()));
  }
  return dims;
}

}  // namespace

absl::StatusOr<Tensor> AlignSampleWeight(const Tensor& sample_weight, const Tensor& per_sample) {
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims,
                        WeightDims(sample_weight.node().type, per_sample.shape()));
  dims.resize(per_sample.rank(), 1);  // broadcasts over the remaining axes
  Tensor weight = Reshape(sample_weight, Shape(dims));
  if (weight.dtype() != per_sample.dtype()) weight = Cast(weight, per_sample.dtype());
  return weight;
}

Tensor Loss::operator()(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight,
                        SourceLoc loc) const {
  Tensor per_sample = PerSample(y_true, y_pred, loc);
  if (!per_sample.ok() || !sample_weight.defined()) return Reduce(per_sample);
  if (!sample_weight.ok()) return sample_weight;
  absl::StatusOr<Tensor> weight = AlignSampleWeight(sample_weight, per_sample);
  if (!weight.ok()) return per_sample.graph()->Fail(name_, weight.status(), loc);
  return Reduce(per_sample * *weight);
}

absl::Status Loss::CheckSampleWeight(const TensorType& sample_weight,
                                     const TensorType& y_pred) const {
  std::vector<int64_t> dims = y_pred.shape.dims();
  if (!dims.empty()) dims.pop_back();
  absl::StatusOr<std::vector<int64_t>> fits = WeightDims(sample_weight, Shape(dims));
  if (fits.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("[", name_, "] ", fits.status().message()));
}

Tensor Loss::Reduce(const Tensor& per_sample) const {
  if (!per_sample.ok() || reduction_ == Reduction::kNone || per_sample.rank() == 0) {
    return per_sample;
  }
  IntList all;
  for (int i = 0; i < per_sample.rank(); ++i) all.push_back(i);
  if (reduction_ == Reduction::kSum) return ReduceSum(per_sample, all);
  return Mean(per_sample, all);
}

namespace {

TensorType DropLast(TensorType t) {
  std::vector<int64_t> dims = t.shape.dims();
  dims.pop_back();
  t.shape = Shape(std::move(dims));
  return t;
}

// Keras' squeeze_or_expand_dimensions: a trailing 1 goes when ranks differ by one.
std::pair<bool, bool> Squeezes(const TensorType& t, const TensorType& p) {
  const int rt = t.shape.rank(), rp = p.shape.rank();
  const bool squeeze_pred = rp == rt + 1 && p.shape.dim(rp - 1) == 1;
  const bool squeeze_true = !squeeze_pred && rt == rp + 1 && t.shape.dim(rt - 1) == 1;
  return {squeeze_true, squeeze_pred};
}

}  // namespace

absl::Status CheckDenseLabels(const TensorType& y_true, const TensorType& y_pred) {
  if (!IsFloat(y_pred.dtype) || y_pred.shape.rank() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected y_pred of a float type and rank >= 1, got ", y_pred.ToString()));
  }
  auto [squeeze_true, squeeze_pred] = Squeezes(y_true, y_pred);
  const TensorType t = squeeze_true ? DropLast(y_true) : y_true;
  const TensorType p = squeeze_pred ? DropLast(y_pred) : y_pred;
  if (t.shape != p.shape) {
    return absl::InvalidArgumentError(absl::StrCat("expected y_true like y_pred ",
                                                   y_pred.ToString(), ", got ",
                                                   y_true.ToString()));
  }
  if (p.shape.rank() == 0) {
    return absl::InvalidArgumentError("expected y_pred with an axis to average over, got a scalar");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<Tensor, Tensor>> MatchLabels(Tensor y_true, Tensor y_pred) {
  if (absl::Status s = CheckDenseLabels(y_true.node().type, y_pred.node().type); !s.ok()) {
    return s;
  }
  auto [squeeze_true, squeeze_pred] = Squeezes(y_true.node().type, y_pred.node().type);
  if (squeeze_pred) {
    const Shape squeezed = DropLast(y_pred.node().type).shape;
    Tensor probabilities = Reshape(y_pred, squeezed);
    // A sigmoid is elementwise, so its logits follow the squeeze (a softmax
    // over the squeezed axis would not).
    Tensor logits = LogitsOf(y_pred, ProbabilityKind::kSigmoid);
    if (logits.defined()) {
      RecordLogits(probabilities, Reshape(logits, squeezed), ProbabilityKind::kSigmoid);
    }
    y_pred = probabilities;
  }
  if (squeeze_true) y_true = Reshape(y_true, DropLast(y_true.node().type).shape);
  if (y_true.dtype() != y_pred.dtype()) y_true = Cast(y_true, y_pred.dtype());
  return std::make_pair(y_true, y_pred);
}

absl::Status Loss::CheckLabels(const TensorType& y_true, const TensorType& y_pred) const {
  if (!status_.ok()) return status_;
  absl::Status s = sparse_labels_ ? CheckSparseLabels(y_true, y_pred)
                                  : CheckDenseLabels(y_true, y_pred);
  if (s.ok()) return s;
  return absl::InvalidArgumentError(absl::StrCat("[", name_, "] ", s.message()));
}

Tensor MeanLastAxis(const Tensor& x) { return Mean(x, {x.rank() - 1}); }
Tensor SumLastAxis(const Tensor& x, bool keepdims) {
  return ReduceSum(x, {x.rank() - 1}, keepdims);
}

Loss MeanSquaredError(Reduction reduction) {
  return Loss(
      "mean_squared_error",
      [](const Tensor& t, const Tensor& p) { return MeanLastAxis(Square(p - t)); }, reduction);
}

Loss MeanAbsoluteError(Reduction reduction) {
  return Loss(
      "mean_absolute_error",
      [](const Tensor& t, const Tensor& p) { return MeanLastAxis(Abs(p - t)); }, reduction);
}

Loss MeanAbsolutePercentageError(Reduction reduction) {
  return Loss(
      "mean_absolute_percentage_error",
      [](const Tensor& t, const Tensor& p) {
        Tensor relative = Abs((t - p) / Maximum(Abs(t), ScalarLike(t, kKerasEpsilon)));
        return MeanLastAxis(relative) * 100.0;
      },
      reduction);
}

Loss MeanSquaredLogarithmicError(Reduction reduction) {
  return Loss(
      "mean_squared_logarithmic_error",
      [](const Tensor& t, const Tensor& p) {
        const Tensor eps = ScalarLike(p, kKerasEpsilon);
        return MeanLastAxis(Square(Log(Maximum(p, eps) + 1.0) - Log(Maximum(t, eps) + 1.0)));
      },
      reduction);
}

Loss Huber(double delta, Reduction reduction) {
  return Loss(
      "huber_loss",
      [delta](const Tensor& t, const Tensor& p) {
        Tensor error = p - t;
        Tensor abs_error = Abs(error);
        Tensor quadratic = Square(error) * 0.5;
        Tensor linear = abs_error * delta - 0.5 * delta * delta;
        return MeanLastAxis(Select(LessEqual(abs_error, ScalarLike(p, delta)), quadratic, linear));
      },
      reduction);
}

Loss LogCosh(Reduction reduction) {
  return Loss(
      "log_cosh",
      [](const Tensor& t, const Tensor& p) {
        Tensor x = p - t;  // log(cosh(x)) = x + softplus(-2x) - log(2), without overflow
        return MeanLastAxis(x + Softplus(x * -2.0) - std::log(2.0));
      },
      reduction);
}

Loss CosineSimilarity(Reduction reduction) {
  return Loss(
      "cosine_similarity",
      [](const Tensor& t, const Tensor& p) {
        const int64_t last = p.rank() - 1;
        return -SumLastAxis(L2Normalize(t, {last}) * L2Normalize(p, {last}));
      },
      reduction);
}

absl::StatusOr<Loss> LossFromName(absl::string_view name) {
  using Factory = Loss (*)();
  static const auto* const kByName = new absl::flat_hash_map<std::string, Factory>{
      {"mean_squared_error", [] { return MeanSquaredError(); }},
      {"mean_absolute_error", [] { return MeanAbsoluteError(); }},
      {"mean_absolute_percentage_error", [] { return MeanAbsolutePercentageError(); }},
      {"mean_squared_logarithmic_error", [] { return MeanSquaredLogarithmicError(); }},
      {"binary_crossentropy", [] { return BinaryCrossentropy(); }},
      {"categorical_crossentropy", [] { return CategoricalCrossentropy(); }},
      {"sparse_categorical_crossentropy", [] { return SparseCategoricalCrossentropy(); }},
      {"huber_loss", [] { return Huber(); }},
      {"kl_divergence", [] { return KLDivergence(); }},
      {"poisson", [] { return Poisson(); }},
      {"log_cosh", [] { return LogCosh(); }},
      {"hinge", [] { return Hinge(); }},
      {"squared_hinge", [] { return SquaredHinge(); }},
      {"categorical_hinge", [] { return CategoricalHinge(); }},
      {"cosine_similarity", [] { return CosineSimilarity(); }},
  };
  static const auto* const kAliases = new absl::flat_hash_map<std::string, std::string>{
      {"mse", "mean_squared_error"},
      {"MSE", "mean_squared_error"},
      {"MeanSquaredError", "mean_squared_error"},
      {"mae", "mean_absolute_error"},
      {"MAE", "mean_absolute_error"},
      {"MeanAbsoluteError", "mean_absolute_error"},
      {"mape", "mean_absolute_percentage_error"},
      {"MAPE", "mean_absolute_percentage_error"},
      {"MeanAbsolutePercentageError", "mean_absolute_percentage_error"},
      {"msle", "mean_squared_logarithmic_error"},
      {"MSLE", "mean_squared_logarithmic_error"},
      {"MeanSquaredLogarithmicError", "mean_squared_logarithmic_error"},
      {"BinaryCrossentropy", "binary_crossentropy"},
      {"CategoricalCrossentropy", "categorical_crossentropy"},
      {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"},
      {"huber", "huber_loss"},
      {"Huber", "huber_loss"},
      {"kld", "kl_divergence"},
      {"KLD", "kl_divergence"},
      {"kullback_leibler_divergence", "kl_divergence"},
      {"KLDivergence", "kl_divergence"},
      {"Poisson", "poisson"},
      {"logcosh", "log_cosh"},
      {"LogCosh", "log_cosh"},
      {"Hinge", "hinge"},
      {"SquaredHinge", "squared_hinge"},
      {"CategoricalHinge", "categorical_hinge"},
      {"CosineSimilarity", "cosine_similarity"},
  };
  std::string key(name);
  if (auto alias = kAliases->find(key); alias != kAliases->end()) key = alias->second;
  auto it = kByName->find(key);
  if (it == kByName->end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown loss '", name, "'"));
  }
  return it->second();
}

}  // namespace kiln
