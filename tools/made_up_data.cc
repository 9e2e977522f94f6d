#include "tools/made_up_data.h"

#include <random>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "graph/graph.h"
#include "graph/status_macros.h"
#include "layers/activations.h"

namespace kiln {

absl::StatusOr<std::vector<int64_t>> ParseDims(const std::string &text) {
  std::vector<int64_t> dims;
  for (absl::string_view word : absl::StrSplit(text, ',')) {
    int64_t d = 0;
    if (!absl::SimpleAtoi(word, &d) || d <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--input-shape '", text, "' is not a list of positive sizes such as 28,28,1"));
    }
    dims.push_back(d);
  }
  return dims;
}

absl::StatusOr<Buffer> MadeUpInput(const Tensor &input, const std::vector<int64_t> &dims,
                                   int64_t batch, const std::string &name) {
  const Shape &declared = input.shape();
  std::vector<int64_t> want = {batch};
  want.insert(want.end(), dims.begin(), dims.end());
  bool fits = declared.rank() == static_cast<int>(want.size()) && declared.dim(0) == Shape::kBatch;
  for (int d = 1; fits && d < declared.rank(); ++d) fits = declared.dim(d) == want[d];
  if (!fits) {
    return absl::InvalidArgumentError(absl::StrCat("--input-shape ", absl::StrJoin(dims, ","),
                                                   " does not fit input '", name, "' ",
                                                   declared.ToString()));
  }
  Buffer b(input.dtype(), Shape(want));
  const bool real = input.dtype() == DType::kF32;
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, real ? (i % 17) / 17.0 : 0);
  return b;
}

std::string DefaultLossFor(const Tensor &output) {
  if (LogitsOf(output, ProbabilityKind::kSoftmax).defined()) {
    return "sparse_categorical_crossentropy";
  }
  if (LogitsOf(output, ProbabilityKind::kSigmoid).defined()) return "binary_crossentropy";
  return "mean_squared_error";
}

absl::StatusOr<Buffer> MadeUpLabels(const Loss &loss, const Tensor &output, const std::string &name,
                                    int64_t batch, uint64_t seed) {
  const TensorType &predicted = output.node().type;
  const std::string what = absl::StrCat("--loss ", loss.name(), ": no labels fit output '", name,
                                        "' ", predicted.ToString());
  if (!IsFloat(predicted.dtype))
    return absl::InvalidArgumentError(absl::StrCat(what, ": a loss needs float predictions"));
  const Shape &shape = predicted.shape;
  if (shape.rank() < 2 || shape.dim(0) != Shape::kBatch) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": it has no axis besides the batch"));
  }
  std::vector<int64_t> dims = shape.dims();
  const int64_t classes = dims.back();
  if (loss.sparse_labels()) dims.pop_back();
  const TensorType label_type{loss.sparse_labels() ? DType::kI32 : DType::kF32, Shape(dims)};
  if (absl::Status s = loss.CheckLabels(label_type, predicted); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
  }
  dims[0] = batch;
  Buffer labels(label_type.dtype, Shape(dims));
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int64_t> pick(0, classes - 1);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  static const std::set<std::string> kOneHot = {"categorical_crossentropy", "categorical_hinge",
                                                "kl_divergence"};
  static const std::set<std::string> kBinary = {"binary_crossentropy", "hinge", "squared_hinge"};
  const int64_t n = labels.num_elements();
  if (loss.sparse_labels()) {
    for (int64_t i = 0; i < n; ++i) labels.SetFromDouble(i, pick(random));
  } else if (kOneHot.count(loss.name()) > 0) {
    for (int64_t row = 0; row < n / classes; ++row) {
      const int64_t hot = pick(random);
      for (int64_t k = 0; k < classes; ++k) labels.SetFromDouble(row * classes + k, k == hot);
    }
  } else if (kBinary.count(loss.name()) > 0) {
    for (int64_t i = 0; i < n; ++i) labels.SetFromDouble(i, uniform(random) < 0.5 ? 0 : 1);
  } else {
    for (int64_t i = 0; i < n; ++i) labels.SetFromDouble(i, uniform(random));
  }
  return labels;
}

}  // namespace kiln
