// SeparableConv2D (spec 2.15): a depthwise stage (depthwise_kernel
// (kh, kw, Cin, M), no bias) followed by a pointwise 1x1 convolution
// (pointwise_kernel (1, 1, Cin * M, filters)), then + bias (filters,) and
// the activation. Weights are created in that order.
//
//   auto sep = MakeLayer<SeparableConv2D>(64, IntList{3, 3},
//       SeparableConv2DOptions{.padding = "same", .activation = "relu"});
//   Tensor h = sep(x);   // [N, 32, 32, 16] -> [N, 32, 32, 64]
#ifndef KILN_LAYERS_SEPARABLE_CONV2D_H_
#define KILN_LAYERS_SEPARABLE_CONV2D_H_

#include <cstdint>
#include <string>

#include "graph/attrs.h"
#include "layers/activations.h"
#include "layers/conv_utils.h"
#include "layers/layer.h"

namespace kiln {

// Keras's arguments after filters and kernel_size, in Keras's order (note:
// data_format and dilation_rate come before depth_multiplier here).
struct SeparableConv2DOptions {
  IntList strides = {1};
  std::string padding = "valid";  // valid | same, any case
  std::string data_format;        // "" : channels_last
  IntList dilation_rate = {1};
  int64_t depth_multiplier = 1;
  std::string activation;  // Keras name; "" is linear
  bool use_bias = true;
  InitializerPtr depthwise_initializer;  // null: glorot_uniform
  InitializerPtr pointwise_initializer;  // null: glorot_uniform
  InitializerPtr bias_initializer;       // null: zeros
  Regularizer depthwise_regularizer;
  Regularizer pointwise_regularizer;
  Regularizer bias_regularizer;
  Regularizer activity_regularizer;
  Constraint depthwise_constraint;
  Constraint pointwise_constraint;
  Constraint bias_constraint;
  std::string name;  // "" : separable_conv2d, ...
};

class SeparableConv2D : public Layer {
 public:
  SeparableConv2D(int64_t filters, const IntList& kernel_size, SeparableConv2DOptions options = {});
  int64_t filters() const { return filters_; }
  const KerasConvArgs& args() const { return args_; }

 protected:
  absl::Status Build(absl::Span<const TensorType> inputs) override;
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  int64_t filters_;
  KerasConvArgs args_;
  SeparableConv2DOptions options_;
  Activation activation_;
  int depthwise_ = -1, pointwise_ = -1, bias_ = -1;
};

}  // namespace kiln

#endif  // KILN_LAYERS_SEPARABLE_CONV2D_H_
