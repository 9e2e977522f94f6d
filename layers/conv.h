// Conv1D and Conv2D (spec 2.13): cross-correlation of the input with a
// kernel of shape kernel_size + (Cin / groups, filters), then + bias, then
// the activation. Padding valid or same (and causal for Conv1D), strides or
// dilation, grouped channels, channels_last or channels_first (the kernel
// layout is Keras's for both). Inputs with extra leading batch axes work
// too, up to 3 axes between the batch and channel axes in all (kiln's conv
// op has at most 3 spatial dims).
//
//   auto conv = MakeLayer<Conv2D>(32, IntList{3, 3},
//                                 ConvOptions{.padding = "same", .activation = "relu"});
//   Tensor h = conv(images);   // [N, 28, 28, 1] -> [N, 28, 28, 32]
//   auto tcn = MakeLayer<Conv1D>(16, IntList{3},
//                                ConvOptions{.padding = "causal", .dilation_rate = {2}});
#ifndef KILN_LAYERS_CONV_H_
#define KILN_LAYERS_CONV_H_

#include <cstdint>
#include <string>

#include "graph/attrs.h"
#include "layers/activations.h"
#include "layers/conv_utils.h"
#include "layers/layer.h"

namespace kiln {

// Keras's arguments after filters and kernel_size. Tuple arguments take one
// entry (repeated for every spatial axis) or one per spatial axis.
struct ConvOptions {
  IntList strides = {1};
  std::string padding = "valid";  // valid | same | causal (Conv1D); any case
  std::string data_format;        // "" : channels_last (the global default)
  IntList dilation_rate = {1};
  int64_t groups = 1;      // 0 means 1, as Keras's `groups or 1`
  std::string activation;  // Keras name; "" is linear
  bool use_bias = true;
  InitializerPtr kernel_initializer;  // null: glorot_uniform
  InitializerPtr bias_initializer;    // null: zeros
  Regularizer kernel_regularizer;
  Regularizer bias_regularizer;
  Regularizer activity_regularizer;
  Constraint kernel_constraint;
  Constraint bias_constraint;
  std::string name;  // "" : conv2d, conv2d_1, ...
};

// Keras's base Conv (tf.keras base_conv.Conv) with `rank` spatial axes.
class BaseConv : public Layer {
 public:
  int64_t filters() const { return filters_; }
  const IntList& kernel_size() const { return kernel_size_; }
  const IntList& strides() const { return strides_; }
  const IntList& dilation_rate() const { return dilation_rate_; }
  Padding padding() const { return padding_; }
  DataFormat data_format() const { return data_format_; }
  int64_t groups() const { return groups_; }

 protected:
  BaseConv(absl::string_view class_name, int rank, int64_t filters, const IntList& kernel_size,
           ConvOptions options);

  absl::Status Build(absl::Span<const TensorType> inputs) override;
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  // The input checks of build and of every call: rank, channels, lengths.
  absl::Status CheckInput(const Shape& in, int64_t want_channels) const;

  int rank_;
  int64_t filters_;
  IntList kernel_size_, strides_, dilation_rate_;
  Padding padding_ = Padding::kValid;
  DataFormat data_format_ = DataFormat::kChannelsLast;
  int64_t groups_;
  ConvOptions options_;
  Activation activation_;
  int kernel_ = -1, bias_ = -1;
};

class Conv1D : public BaseConv {
 public:
  Conv1D(int64_t filters, const IntList& kernel_size, ConvOptions options = {})
      : BaseConv("Conv1D", 1, filters, kernel_size, std::move(options)) {}
};

class Conv2D : public BaseConv {
 public:
  Conv2D(int64_t filters, const IntList& kernel_size, ConvOptions options = {})
      : BaseConv("Conv2D", 2, filters, kernel_size, std::move(options)) {}
};

}  // namespace kiln

#endif  // KILN_LAYERS_CONV_H_
