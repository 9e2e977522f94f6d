#include "layers/separable_conv2d.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/conv_config.h"
#include "layers/depthwise_conv2d.h"
#include "layers/layer_registry.h"
#include "ops/ops.h"

namespace kiln {

SeparableConv2D::SeparableConv2D(int64_t filters, const IntList& kernel_size,
                                 SeparableConv2DOptions options)
    : Layer("SeparableConv2D", options.name), filters_(filters), options_(std::move(options)) {
  if (filters_ <= 0) {
    ConfigError(absl::InvalidArgumentError(absl::StrCat(
        "Invalid value for argument `filters`. Expected a strictly positive value. Received "
        "filters=",
        filters_, ".")));
  }
  const bool args_ok =
      ConfigValue(NormalizeConvArgs(2, kernel_size, options_.strides, options_.padding,
                                    options_.data_format, options_.dilation_rate),
                  args_);
  ConfigValue(ActivationByName(options_.activation), activation_);
  if (args_ok) {
    ConfigError(CheckConvStridesAndPadding(args_.strides, args_.dilation_rate, args_.padding,
                                           /*causal_allowed=*/false));
  }
  // tf.keras does not check it (a 0 fails later, in the variable).
  if (options_.depth_multiplier <= 0) {
    ConfigError(absl::InvalidArgumentError(absl::StrCat(
        "depth_multiplier must be a positive integer, got ", options_.depth_multiplier)));
  }
  for (InitializerPtr* init : {&options_.depthwise_initializer, &options_.pointwise_initializer}) {
    if (*init == nullptr) *init = std::make_shared<GlorotUniform>();
  }
  if (options_.bias_initializer == nullptr) options_.bias_initializer = std::make_shared<Zeros>();
  set_activity_regularizer(options_.activity_regularizer);
}

absl::Status SeparableConv2D::Build(absl::Span<const TensorType> inputs) {
  KILN_ASSIGN_OR_RETURN(int64_t channels, CheckDepthwiseInput(inputs[0].shape, args_, -1, name()));
  const int64_t m = options_.depth_multiplier;
  KILN_ASSIGN_OR_RETURN(
      depthwise_,
      AddWeight("depthwise_kernel", Shape{args_.kernel_size[0], args_.kernel_size[1], channels, m},
                options_.depthwise_initializer, options_.depthwise_regularizer,
                options_.depthwise_constraint));
  KILN_ASSIGN_OR_RETURN(pointwise_,
                        AddWeight("pointwise_kernel", Shape{1, 1, channels * m, filters_},
                                  options_.pointwise_initializer, options_.pointwise_regularizer,
                                  options_.pointwise_constraint));
  if (options_.use_bias) {
    KILN_ASSIGN_OR_RETURN(bias_, AddWeight("bias", Shape{filters_}, options_.bias_initializer,
                                           options_.bias_regularizer, options_.bias_constraint));
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> SeparableConv2D::Call(absl::Span<const Tensor> inputs,
                                             const CallContext& ctx) {
  Tensor x = inputs[0];
  const Shape& depthwise = weights()[depthwise_].value.shape();
  KILN_RETURN_IF_ERROR(CheckDepthwiseInput(x.shape(), args_, depthwise.dim(2), name()).status());
  if (x.dtype() != DType::kF32) x = Cast(x, DType::kF32);
  const bool first = args_.data_format == DataFormat::kChannelsFirst;
  if (first) x = ToChannelsLast(x, 2);
  KILN_ASSIGN_OR_RETURN(Tensor d, DepthwiseConv(x, WeightTensor(x.graph(), depthwise_), args_));
  // The 1x1 pointwise convolution is a matmul over the channel axis.
  const int64_t cm = depthwise.dim(2) * depthwise.dim(3);
  Tensor y = MatMul(d, Reshape(WeightTensor(x.graph(), pointwise_), Shape{cm, filters_}));
  if (bias_ >= 0) y = y + WeightTensor(x.graph(), bias_);
  y = activation_(y);
  return first ? FromChannelsLast(y, 2) : y;
}

absl::StatusOr<std::shared_ptr<Layer>> SeparableConv2DFromConfig(const nlohmann::json& config) {
  ConvConfigReader r("SeparableConv2D", config);
  SeparableConv2DOptions o;
  KILN_ASSIGN_OR_RETURN(o.name, r.Name());
  KILN_ASSIGN_OR_RETURN(int64_t filters, r.RequiredInt("filters"));
  KILN_ASSIGN_OR_RETURN(IntList kernel_size, r.Tuple("kernel_size", 2, std::nullopt));
  KILN_ASSIGN_OR_RETURN(o.strides, r.Tuple("strides", 2, IntList{1}));
  KILN_ASSIGN_OR_RETURN(o.padding, r.String("padding", "valid"));
  KILN_ASSIGN_OR_RETURN(o.data_format, r.String("data_format", ""));
  KILN_ASSIGN_OR_RETURN(o.dilation_rate, r.Tuple("dilation_rate", 2, IntList{1}));
  KILN_ASSIGN_OR_RETURN(o.depth_multiplier, r.Int("depth_multiplier", 1));
  // Passed on to the base Conv by tf.keras's **kwargs; unused there.
  KILN_RETURN_IF_ERROR(r.Int("groups", 1).status());
  KILN_ASSIGN_OR_RETURN(o.activation, r.String("activation", "linear"));
  KILN_ASSIGN_OR_RETURN(o.use_bias, r.Bool("use_bias", true));
  KILN_ASSIGN_OR_RETURN(o.depthwise_initializer,
                        r.ReadInitializer("depthwise_initializer", "glorot_uniform"));
  KILN_ASSIGN_OR_RETURN(o.pointwise_initializer,
                        r.ReadInitializer("pointwise_initializer", "glorot_uniform"));
  KILN_ASSIGN_OR_RETURN(o.bias_initializer, r.ReadInitializer("bias_initializer", "zeros"));
  KILN_ASSIGN_OR_RETURN(o.depthwise_regularizer, r.ReadRegularizer("depthwise_regularizer"));
  KILN_ASSIGN_OR_RETURN(o.pointwise_regularizer, r.ReadRegularizer("pointwise_regularizer"));
  KILN_ASSIGN_OR_RETURN(o.bias_regularizer, r.ReadRegularizer("bias_regularizer"));
  KILN_ASSIGN_OR_RETURN(o.activity_regularizer, r.ReadRegularizer("activity_regularizer"));
  KILN_ASSIGN_OR_RETURN(o.depthwise_constraint, r.ReadConstraint("depthwise_constraint"));
  KILN_ASSIGN_OR_RETURN(o.pointwise_constraint, r.ReadConstraint("pointwise_constraint"));
  KILN_ASSIGN_OR_RETURN(o.bias_constraint, r.ReadConstraint("bias_constraint"));
  KILN_RETURN_IF_ERROR(r.Finish());
  auto layer = std::make_shared<SeparableConv2D>(filters, kernel_size, std::move(o));
  KILN_RETURN_IF_ERROR(layer->config_status());
  return layer;
}

}  // namespace kiln
