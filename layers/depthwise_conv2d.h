// DepthwiseConv2D (spec 2.14): each input channel c convolved with its own
// depth_multiplier filters, depthwise_kernel (kh, kw, Cin, M), giving output
// channel c * M + m; then + bias (Cin * M,) and the activation. Padding
// valid or same, strides or dilation, either data format.
//
//   auto dw = MakeLayer<DepthwiseConv2D>(IntList{3, 3},
//       DepthwiseConv2DOptions{.padding = "same", .depth_multiplier = 2});
//   Tensor h = dw(x);   // [N, 32, 32, 8] -> [N, 32, 32, 16]
#ifndef KILN_LAYERS_DEPTHWISE_CONV2D_H_
#define KILN_LAYERS_DEPTHWISE_CONV2D_H_

#include <cstdint>
#include <string>

#include "graph/attrs.h"
#include "layers/activations.h"
#include "layers/conv_utils.h"
#include "layers/layer.h"

namespace kiln {

// Keras's arguments after kernel_size, in Keras's order.
struct DepthwiseConv2DOptions {
  IntList strides = {1};
  std::string padding = "valid";  // valid | same, any case
  int64_t depth_multiplier = 1;
  std::string data_format;  // "" : channels_last
  IntList dilation_rate = {1};
  std::string activation;  // Keras name; "" is linear
  bool use_bias = true;
  InitializerPtr depthwise_initializer;  // null: glorot_uniform
  InitializerPtr bias_initializer;       // null: zeros
  Regularizer depthwise_regularizer;
  Regularizer bias_regularizer;
  Regularizer activity_regularizer;
  Constraint depthwise_constraint;
  Constraint bias_constraint;
  std::string name;  // "" : depthwise_conv2d, ...
};

// The depthwise stage DepthwiseConv2D and SeparableConv2D share: checks the
// layer input x (in args.data_format) against the kernel (kh, kw, C, M) as
// CheckDepthwiseInput does, casts it to f32 and convolves it channels-last:
// -> [B, H', W', C * M], channel c * M + m (channels-last whatever the
// layer's format; the caller converts back).
absl::StatusOr<Tensor> DepthwiseStage(Tensor x, const Tensor& depthwise_kernel,
                                      const KerasConvArgs& args, absl::string_view layer);

class DepthwiseConv2D : public Layer {
 public:
  explicit DepthwiseConv2D(const IntList& kernel_size, DepthwiseConv2DOptions options = {});
  const KerasConvArgs& args() const { return args_; }
  int64_t depth_multiplier() const { return options_.depth_multiplier; }

 protected:
  absl::Status Build(absl::Span<const TensorType> inputs) override;
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  KerasConvArgs args_;
  DepthwiseConv2DOptions options_;
  Activation activation_;
  int kernel_ = -1, bias_ = -1;
};

// The constructor checks DepthwiseConv2D and SeparableConv2D share, in
// Keras's order: NormalizeConvArgs (rank 2) into `args`, the activation by
// name into `activation_fn`, CheckConvStridesAndPadding (no causal), then
// depth_multiplier > 0. Returns the first error; each output is set when
// its own argument is valid.
absl::Status NormalizeDepthwiseArgs(const IntList& kernel_size, const IntList& strides,
                                    absl::string_view padding, absl::string_view data_format,
                                    const IntList& dilation_rate, absl::string_view activation,
                                    int64_t depth_multiplier, KerasConvArgs& args,
                                    Activation& activation_fn);

// The input checks DepthwiseConv2D and SeparableConv2D share: rank exactly
// 4, a known channel axis (`want_channels` when >= 0), output lengths > 0.
// Returns the channel count.
absl::StatusOr<int64_t> CheckDepthwiseInput(const Shape& in, const KerasConvArgs& args,
                                            int64_t want_channels, absl::string_view layer);

}  // namespace kiln

#endif  // KILN_LAYERS_DEPTHWISE_CONV2D_H_
