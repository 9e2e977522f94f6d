// The probabilistic losses (crossentropies, KL divergence, Poisson) and the
// hinge losses, with tf.keras 2.x formulas:
//
//   binary:       -(t log(clip(p) + eps) + (1 - t) log(1 - clip(p) + eps)),
//                 on logits max(x, 0) - x t + log(1 + exp(-|x|))
//   categorical:  -sum(t log(clip(p / sum p))), on logits -sum(t log_softmax(x))
//   sparse:       on probabilities, logits = log(clip(p)); -log_softmax(logits)[label]
//
// where clip is to [eps, 1 - eps], eps = 1e-7, and label smoothing first
// moves t towards 1/2 (binary) or 1/classes (categorical). As in tf.keras
// 2.x (`_keras_logits`), probabilities that a "sigmoid" or "softmax"
// activation produced are not clipped: the loss uses the logits formula on
// that activation's input, so a confidently wrong prediction (p < eps)
// still has the full gradient.
#include <vector>

#include "absl/strings/str_cat.h"
#include "layers/activations.h"
#include "layers/losses.h"
#include "layers/losses_internal.h"
#include "ops/ops.h"

namespace kiln {
namespace {

Tensor ClipProbabilities(const Tensor& p) { return Clip(p, kKerasEpsilon, 1.0 - kKerasEpsilon); }

// Keras' _maybe_convert_labels: 0/1 labels become -1/1 when all of them
// are 0 or 1 (decided on the whole batch, in the graph).
Tensor SignedLabels(const Tensor& t) {
  Tensor is_binary = Cast(Equal(t, ScalarLike(t, 0.0)), t.dtype()) +
                     Cast(Equal(t, ScalarLike(t, 1.0)), t.dtype());
  IntList all;
  for (int i = 0; i < t.rank(); ++i) all.push_back(i);
  Tensor all_binary = ReduceMin(is_binary, all);  // 1 or 0
  return t + all_binary * (t - 1.0);               // 2t - 1 when all binary
}

// max(x, 0) - x t + log(1 + exp(-|x|)), one condition for both kinks so the
// gradient at x = 0 is right.
Tensor BinaryCrossentropyOnLogits(const Tensor& t, const Tensor& x) {
  Tensor nonneg = GreaterEqual(x, ScalarLike(x, 0.0));
  Tensor relu = Select(nonneg, x, ScalarLike(x, 0.0));
  Tensor neg_abs = Select(nonneg, -x, x);
  return relu - x * t + Log1p(Exp(neg_abs));
}

}  // namespace

absl::Status CheckSparseLabels(const TensorType& y_true, const TensorType& y_pred) {
  if (y_pred.shape.rank() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected y_pred with a class axis, got ", y_pred.ToString()));
  }
  std::vector<int64_t> expected = y_pred.shape.dims();
  expected.pop_back();
  std::vector<int64_t> labels = y_true.shape.dims();
  if (labels.size() == expected.size() + 1 && labels.back() == 1) labels.pop_back();
  if (labels != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected class indices of shape ", Shape(expected).ToString(), " for y_pred ",
        y_pred.ToString(), ", got ", y_true.ToString()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> SparseLabels(Tensor y_true, const Tensor& y_pred) {
  if (absl::Status s = CheckSparseLabels(y_true.node().type, y_pred.node().type); !s.ok()) {
    return s;
  }
  if (y_true.rank() == y_pred.rank()) {
    std::vector<int64_t> dims = y_true.shape().dims();
    dims.pop_back();
    y_true = Reshape(y_true, Shape(dims));
  }
  if (y_true.dtype() != DType::kI32 && y_true.dtype() != DType::kI64) {
    y_true = Cast(y_true, DType::kI32);
  }
  return y_true;
}

Loss BinaryCrossentropy(CrossentropyOptions options) {
  return Loss(
      "binary_crossentropy",
      [options](const Tensor& t_in, const Tensor& p) {
        const double smoothing = options.label_smoothing;
        Tensor t = smoothing > 0 ? t_in * (1.0 - smoothing) + 0.5 * smoothing : t_in;
        if (options.from_logits) return MeanLastAxis(BinaryCrossentropyOnLogits(t, p));
        if (Tensor x = LogitsOf(p, ProbabilityKind::kSigmoid); x.defined()) {
          return MeanLastAxis(BinaryCrossentropyOnLogits(t, x));
        }
        Tensor q = ClipProbabilities(p);
        Tensor log_likelihood =
            t * Log(q + kKerasEpsilon) + (1.0 - t) * Log(1.0 - q + kKerasEpsilon);
        return MeanLastAxis(-log_likelihood);
      },
      options.reduction);
}

Loss CategoricalCrossentropy(CrossentropyOptions options) {
  return Loss(
      "categorical_crossentropy",
      [options](const Tensor& t_in, const Tensor& p) {
        const int64_t last = p.rank() - 1;
        const double smoothing = options.label_smoothing;
        const double classes = static_cast<double>(p.shape().dim(last));
        Tensor t = smoothing > 0 ? t_in * (1.0 - smoothing) + smoothing / classes : t_in;
        if (options.from_logits) return -SumLastAxis(t * LogSoftmax(p, last));
        if (Tensor x = LogitsOf(p, ProbabilityKind::kSoftmax); x.defined()) {
          return -SumLastAxis(t * LogSoftmax(x, last));
        }
        Tensor q = ClipProbabilities(p / SumLastAxis(p, /*keepdims=*/true));
        return -SumLastAxis(t * Log(q));
      },
      options.reduction);
}

Loss SparseCategoricalCrossentropy(bool from_logits, Reduction reduction) {
  return Loss(
      "sparse_categorical_crossentropy",
      [from_logits](const Tensor& t, const Tensor& p) {
        absl::StatusOr<Tensor> labels = SparseLabels(t, p);
        if (!labels.ok()) {
          return p.graph()->Fail("sparse_categorical_crossentropy", labels.status());
        }
        const int64_t last = p.rank() - 1;
        Tensor logits = from_logits ? p : LogitsOf(p, ProbabilityKind::kSoftmax);
        if (!logits.defined()) logits = Log(ClipProbabilities(p));
        return -Gather(LogSoftmax(logits, last), *labels, last);
      },
      reduction, /*sparse_labels=*/true);
}

Loss KLDivergence(Reduction reduction) {
  return Loss(
      "kl_divergence",
      [](const Tensor& t_in, const Tensor& p_in) {
        Tensor t = Clip(t_in, kKerasEpsilon, 1.0);
        Tensor p = Clip(p_in, kKerasEpsilon, 1.0);
        return SumLastAxis(t * Log(t / p));
      },
      reduction);
}

Loss Poisson(Reduction reduction) {
  return Loss(
      "poisson",
      [](const Tensor& t, const Tensor& p) {
        return MeanLastAxis(p - t * Log(p + kKerasEpsilon));
      },
      reduction);
}

Loss Hinge(Reduction reduction) {
  return Loss(
      "hinge",
      [](const Tensor& t, const Tensor& p) {
        return MeanLastAxis(Relu(1.0 - SignedLabels(t) * p));
      },
      reduction);
}

Loss SquaredHinge(Reduction reduction) {
  return Loss(
      "squared_hinge",
      [](const Tensor& t, const Tensor& p) {
        return MeanLastAxis(Square(Relu(1.0 - SignedLabels(t) * p)));
      },
      reduction);
}

Loss CategoricalHinge(Reduction reduction) {
  return Loss(
      "categorical_hinge",
      [](const Tensor& t, const Tensor& p) {
        Tensor positive = SumLastAxis(t * p);
        Tensor negative = ReduceMax((1.0 - t) * p, {p.rank() - 1});
        return Relu(negative - positive + 1.0);
      },
      reduction);
}

}  // namespace kiln
