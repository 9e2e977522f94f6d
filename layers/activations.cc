#include "layers/activations.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "ops/ops.h"

namespace kiln {
namespace {

// Per graph: probability node -> (logits node, kind).
struct RecordedLogits {
  absl::flat_hash_map<NodeId, std::pair<NodeId, ProbabilityKind>> by_output;
};

// tf.keras rejects softmax over a 1-D tensor (spec section 6).
Tensor SoftmaxActivation(const Tensor& x) {
  if (x.ok() && x.rank() <= 1) {
    return x.graph()->Fail(
        "softmax", absl::InvalidArgumentError(absl::StrCat(
                       "cannot apply softmax to a tensor that is 1-D, got ",
                       x.shape().ToString())));
  }
  Tensor p = Softmax(x, -1);
  RecordLogits(p, x, ProbabilityKind::kSoftmax);
  return p;
}

Tensor SigmoidActivation(const Tensor& x) {
  Tensor p = Sigmoid(x);
  RecordLogits(p, x, ProbabilityKind::kSigmoid);
  return p;
}

}  // namespace

absl::StatusOr<Activation> ActivationByName(absl::string_view name) {
  static const std::pair<absl::string_view, Activation> kTable[] = {
      {"", [](const Tensor& x) { return x; }},
      {"linear", [](const Tensor& x) { return x; }},
      {"relu", [](const Tensor& x) { return Relu(x); }},
      {"sigmoid", SigmoidActivation},
      {"tanh", [](const Tensor& x) { return Tanh(x); }},
      {"softmax", SoftmaxActivation},
      {"softplus", [](const Tensor& x) { return Softplus(x); }},
      {"softsign", [](const Tensor& x) { return Softsign(x); }},
      {"elu", [](const Tensor& x) { return Elu(x, 1.0); }},
      {"selu", [](const Tensor& x) { return Selu(x); }},
      {"exponential", [](const Tensor& x) { return Exp(x); }},
      {"hard_sigmoid", [](const Tensor& x) { return HardSigmoid(x); }},
      {"swish", [](const Tensor& x) { return Swish(x); }},
      {"silu", [](const Tensor& x) { return Swish(x); }},
      {"gelu", [](const Tensor& x) { return Gelu(x, /*approximate=*/false); }},
      // A tie in minimum goes to the first input: zero gradient at 6, as TF.
      {"relu6", [](const Tensor& x) { return Minimum(ScalarLike(x, 6.0), Relu(x)); }},
      {"leaky_relu", [](const Tensor& x) { return Maximum(x, x * 0.2); }},
      {"log_softmax", [](const Tensor& x) { return LogSoftmax(x, -1); }},
      {"mish", [](const Tensor& x) { return x * Tanh(Softplus(x)); }},
  };
  for (const auto& [key, fn] : kTable) {
    if (key == name) return fn;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown activation function: '", name, "'"));
}

void RecordLogits(const Tensor& probabilities, const Tensor& logits, ProbabilityKind kind) {
  if (!probabilities.ok() || !logits.ok() || probabilities.graph() != logits.graph() ||
      !(probabilities.node().type == logits.node().type)) {
    return;
  }
  probabilities.graph()->Attachment<RecordedLogits>().by_output[probabilities.id()] = {
      logits.id(), kind};
}

Tensor LogitsOf(const Tensor& probabilities, ProbabilityKind kind) {
  if (!probabilities.ok()) return Tensor();
  const auto& recorded = probabilities.graph()->Attachment<RecordedLogits>().by_output;
  auto it = recorded.find(probabilities.id());
  if (it == recorded.end() || it->second.second != kind) return Tensor();
  return probabilities.graph()->tensor(it->second.first);
}

}  // namespace kiln
