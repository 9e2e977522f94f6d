#include "layers/depthwise_conv2d.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/conv_config.h"
#include "layers/layer_registry.h"
#include "ops/ops.h"

namespace kiln {

absl::StatusOr<Tensor> DepthwiseStage(Tensor x, const Tensor& depthwise_kernel,
                                      const KerasConvArgs& args, absl::string_view layer) {
  const Shape& k = depthwise_kernel.shape();
  const int64_t channels = k.dim(2);
  KILN_RETURN_IF_ERROR(CheckDepthwiseInput(x.shape(), args, channels, layer).status());
  if (x.dtype() != DType::kF32) x = Cast(x, DType::kF32);
  if (args.data_format == DataFormat::kChannelsFirst) x = ToChannelsLast(x, 2);
  // (kh, kw, C, M) -> (kh, kw, 1, C * M): filter c * M + m is [.., c, m], and
  // with groups = C output channel c * M + m reads input channel c.
  Tensor filter = Reshape(depthwise_kernel, Shape{k.dim(0), k.dim(1), 1, channels * k.dim(3)});
  return KerasConv(x, filter, args.strides, args.dilation_rate, args.padding, channels);
}

absl::StatusOr<int64_t> CheckDepthwiseInput(const Shape& in, const KerasConvArgs& args,
                                            int64_t want_channels, absl::string_view layer) {
  KILN_RETURN_IF_ERROR(CheckInputRank(in, 4, /*at_least=*/false));
  const int axis = ChannelAxis(args.data_format, 4, 2);
  KILN_ASSIGN_OR_RETURN(const int64_t channels, CheckChannelAxis(in, axis, want_channels));
  const int first = args.data_format == DataFormat::kChannelsLast ? 1 : 2;
  IntList lengths;
  for (int i = 0; i < 2; ++i) {
    lengths.push_back(ConvOutputLength(in.dim(first + i), args.kernel_size[i], args.padding,
                                       args.strides[i], args.dilation_rate[i]));
  }
  KILN_RETURN_IF_ERROR(CheckOutputLengths(lengths, layer, in));
  return channels;
}

absl::Status NormalizeDepthwiseArgs(const IntList& kernel_size, const IntList& strides,
                                    absl::string_view padding, absl::string_view data_format,
                                    const IntList& dilation_rate, absl::string_view activation,
                                    int64_t depth_multiplier, KerasConvArgs& args,
                                    Activation& activation_fn) {
  absl::StatusOr<KerasConvArgs> normalized =
      NormalizeConvArgs(2, kernel_size, strides, padding, data_format, dilation_rate);
  absl::Status first = normalized.status();
  if (normalized.ok()) args = *std::move(normalized);
  absl::StatusOr<Activation> fn = ActivationByName(activation);
  if (fn.ok()) {
    activation_fn = *std::move(fn);
  } else if (first.ok()) {
    first = fn.status();
  }
  if (first.ok()) {
    first = CheckConvStridesAndPadding(args.strides, args.dilation_rate, args.padding,
                                       /*causal_allowed=*/false);
  }
  // tf.keras does not check it (a 0 fails later, in the variable).
  if (first.ok() && depth_multiplier <= 0) {
    first = absl::InvalidArgumentError(
        absl::StrCat("depth_multiplier must be a positive integer, got ", depth_multiplier));
  }
  return first;
}

DepthwiseConv2D::DepthwiseConv2D(const IntList& kernel_size, DepthwiseConv2DOptions options)
    : Layer("DepthwiseConv2D", options.name), options_(std::move(options)) {
  ConfigError(NormalizeDepthwiseArgs(
      kernel_size, options_.strides, options_.padding, options_.data_format, options_.dilation_rate,
      options_.activation, options_.depth_multiplier, args_, activation_));
  if (options_.depthwise_initializer == nullptr) {
    options_.depthwise_initializer = std::make_shared<GlorotUniform>();
  }
  if (options_.bias_initializer == nullptr) options_.bias_initializer = std::make_shared<Zeros>();
  set_activity_regularizer(options_.activity_regularizer);
}

absl::Status DepthwiseConv2D::Build(absl::Span<const TensorType> inputs) {
  KILN_ASSIGN_OR_RETURN(int64_t channels, CheckDepthwiseInput(inputs[0].shape, args_, -1, name()));
  const int64_t m = options_.depth_multiplier;
  KILN_ASSIGN_OR_RETURN(
      kernel_,
      AddWeight("depthwise_kernel", Shape{args_.kernel_size[0], args_.kernel_size[1], channels, m},
                options_.depthwise_initializer, options_.depthwise_regularizer,
                options_.depthwise_constraint));
  if (options_.use_bias) {
    KILN_ASSIGN_OR_RETURN(bias_, AddWeight("bias", Shape{channels * m}, options_.bias_initializer,
                                           options_.bias_regularizer, options_.bias_constraint));
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> DepthwiseConv2D::Call(absl::Span<const Tensor> inputs,
                                             const CallContext& ctx) {
  const std::shared_ptr<Graph>& graph = inputs[0].graph();
  KILN_ASSIGN_OR_RETURN(Tensor y,
                        DepthwiseStage(inputs[0], WeightTensor(graph, kernel_), args_, name()));
  if (bias_ >= 0) y = y + WeightTensor(graph, bias_);
  const bool first = args_.data_format == DataFormat::kChannelsFirst;
  y = activation_(y);
  return first ? FromChannelsLast(y, 2) : y;
}

absl::StatusOr<std::shared_ptr<Layer>> DepthwiseConv2DFromConfig(const nlohmann::json& config) {
  ConvConfigReader r("DepthwiseConv2D", config);
  DepthwiseConv2DOptions o;
  KILN_ASSIGN_OR_RETURN(o.name, r.Name());
  // Not ReadGeometry: Keras's DepthwiseConv2D takes depth_multiplier before
  // data_format, and the first bad argument is the one reported.
  KILN_ASSIGN_OR_RETURN(IntList kernel_size, r.Tuple("kernel_size", 2, std::nullopt));
  KILN_ASSIGN_OR_RETURN(o.strides, r.Tuple("strides", 2, IntList{1}));
  KILN_ASSIGN_OR_RETURN(o.padding, r.String("padding", "valid"));
  KILN_ASSIGN_OR_RETURN(o.depth_multiplier, r.Int("depth_multiplier", 1));
  KILN_ASSIGN_OR_RETURN(o.data_format, r.String("data_format", ""));
  KILN_ASSIGN_OR_RETURN(o.dilation_rate, r.Tuple("dilation_rate", 2, IntList{1}));
  // tf.keras's get_config keeps the base Conv's "groups"; depthwise ignores it.
  KILN_RETURN_IF_ERROR(r.Int("groups", 1).status());
  KILN_ASSIGN_OR_RETURN(o.activation, r.String("activation", "linear"));
  KILN_ASSIGN_OR_RETURN(o.use_bias, r.Bool("use_bias", true));
  KILN_RETURN_IF_ERROR(r.ReadWeightArgs(
      {{"depthwise", "glorot_uniform", &o.depthwise_initializer, &o.depthwise_regularizer,
        &o.depthwise_constraint},
       {"bias", "zeros", &o.bias_initializer, &o.bias_regularizer, &o.bias_constraint}},
      o.activity_regularizer));
  KILN_RETURN_IF_ERROR(r.Finish());
  auto layer = std::make_shared<DepthwiseConv2D>(kernel_size, std::move(o));
  KILN_RETURN_IF_ERROR(layer->config_status());
  return layer;
}

}  // namespace kiln
