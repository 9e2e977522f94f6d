// Custom training loops, GradientTape-style: ValueAndGrad compiles a loss
// written as any C++ callable over the model's output tensors and label
// inputs, and returns the loss and one gradient per trainable weight;
// Optimizer::Apply then updates the weights in place.
//
//   ValueAndGrad step(model, [](absl::Span<const Tensor> out, absl::Span<const Tensor> labels) {
//     return Mean(Square(out[0] - labels[0]), {0, 1}) + 0.01 * Mean(Abs(out[0]), {0, 1});
//   });
//   for (...) {
//     KILN_ASSIGN_OR_RETURN(LossAndGradients r, step(x_batch, y_batch, /*step=*/i));
//     KILN_RETURN_IF_ERROR(adam->Apply(r.GradientPointers(), step.weights()));
//   }
//
// One program per list of label types (each batch size specialized once).
// The labels are inputs named "kiln.labels.<i>" with the buffers' dtypes
// and shapes (the batch axis symbolic). The model's regularization losses
// are added unless options say not; the learning phase is true unless
// options say not; `step` keys the dropout masks. A loss_fn that builds
// something invalid poisons the model's graph, as any bad layer call does.
#ifndef KILN_LAYERS_VALUE_AND_GRAD_H_
#define KILN_LAYERS_VALUE_AND_GRAD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "codegen/executable.h"
#include "layers/model.h"

namespace kiln {

// Builds an f32 scalar from the model's outputs and the label inputs.
using LossFunction =
    std::function<Tensor(absl::Span<const Tensor> outputs, absl::Span<const Tensor> labels)>;

struct ValueAndGradOptions {
  bool training = true;            // the learning phase fed to the model
  bool add_regularization = true;  // add model.RegularizationLoss()
  std::optional<Backend> backend;  // default: KILN_BACKEND, else jit
  int num_threads = 0;
};

struct LossAndGradients {
  double loss = 0;
  std::vector<Buffer> gradients;  // one per ValueAndGrad::weights()
  // The gradients as Optimizer::Apply takes them.
  std::vector<const Buffer*> GradientPointers() const;
};

class ValueAndGrad {
 public:
  ValueAndGrad(Model& model, LossFunction loss_fn, ValueAndGradOptions options = {});
  ~ValueAndGrad();

  absl::StatusOr<LossAndGradients> operator()(absl::Span<const Buffer* const> x,
                                              absl::Span<const Buffer* const> labels,
                                              int64_t step = 0);
  absl::StatusOr<LossAndGradients> operator()(const Buffer& x, const Buffer& labels,
                                              int64_t step = 0);

  // The model's trainable weights, in the order of the gradients.
  const std::vector<Weight*>& weights() const { return weights_; }

 private:
  Model& model_;
  LossFunction loss_fn_;
  ValueAndGradOptions options_;
  std::vector<Weight*> weights_;
  std::map<std::string, std::unique_ptr<Executable>> programs_;  // by label types
};

}  // namespace kiln

#endif  // KILN_LAYERS_VALUE_AND_GRAD_H_
