// Dense (spec 2.2): y = activation(x · kernel + bias) over the last axis of
// an input of any rank >= 2; kernel (in, units), bias (units,).
//
//   auto dense = MakeLayer<Dense>(10, DenseOptions{.activation = "softmax"});
//   Tensor probs = dense(h);   // [N, 64] -> [N, 10]
#ifndef KILN_LAYERS_DENSE_H_
#define KILN_LAYERS_DENSE_H_

#include <cstdint>
#include <string>

#include "layers/activations.h"
#include "layers/layer.h"

namespace kiln {

struct DenseOptions {
  std::string activation;             // Keras name; "" is linear
  bool use_bias = true;
  InitializerPtr kernel_initializer;  // null: glorot_uniform
  InitializerPtr bias_initializer;    // null: zeros
  Regularizer kernel_regularizer;
  Regularizer bias_regularizer;
  Regularizer activity_regularizer;
  Constraint kernel_constraint;
  Constraint bias_constraint;
  std::string name;                   // "" : dense, dense_1, ...
};

class Dense : public Layer {
 public:
  explicit Dense(int64_t units, DenseOptions options = {});
  int64_t units() const { return units_; }

 protected:
  absl::Status Build(absl::Span<const TensorType> inputs) override;
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  int64_t units_;
  DenseOptions options_;
  Activation activation_;
  int kernel_ = -1, bias_ = -1;
};

}  // namespace kiln

#endif  // KILN_LAYERS_DENSE_H_
