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
  ConfigError(CheckFilters(filters_));
  ConfigError(NormalizeDepthwiseArgs(
      kernel_size, options_.strides, options_.padding, options_.data_format, options_.dilation_rate,
      options_.activation, options_.depth_multiplier, args_, activation_));
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
  const std::shared_ptr<Graph>& graph = inputs[0].graph();
  const Shape& depthwise = weights()[depthwise_].value.shape();
  KILN_ASSIGN_OR_RETURN(Tensor d,
                        DepthwiseStage(inputs[0], WeightTensor(graph, depthwise_), args_, name()));
  const bool first = args_.data_format == DataFormat::kChannelsFirst;
  // The 1x1 pointwise convolution is a matmul over the channel axis.
  const int64_t cm = depthwise.dim(2) * depthwise.dim(3);
  Tensor y = MatMul(d, Reshape(WeightTensor(graph, pointwise_), Shape{cm, filters_}));
  if (bias_ >= 0) y = y + WeightTensor(graph, bias_);
  y = activation_(y);
  return first ? FromChannelsLast(y, 2) : y;
}

absl::StatusOr<std::shared_ptr<Layer>> SeparableConv2DFromConfig(const nlohmann::json& config) {
  ConvConfigReader r("SeparableConv2D", config);
  SeparableConv2DOptions o;
  KILN_ASSIGN_OR_RETURN(o.name, r.Name());
  KILN_ASSIGN_OR_RETURN(int64_t filters, r.RequiredInt("filters"));
  KILN_ASSIGN_OR_RETURN(IntList kernel_size, r.ReadGeometry(2, o));
  KILN_ASSIGN_OR_RETURN(o.depth_multiplier, r.Int("depth_multiplier", 1));
  // Passed on to the base Conv by tf.keras's **kwargs; unused there.
  KILN_RETURN_IF_ERROR(r.Int("groups", 1).status());
  KILN_ASSIGN_OR_RETURN(o.activation, r.String("activation", "linear"));
  KILN_ASSIGN_OR_RETURN(o.use_bias, r.Bool("use_bias", true));
  KILN_RETURN_IF_ERROR(r.ReadWeightArgs(
      {{"depthwise", "glorot_uniform", &o.depthwise_initializer, &o.depthwise_regularizer,
        &o.depthwise_constraint},
       {"pointwise", "glorot_uniform", &o.pointwise_initializer, &o.pointwise_regularizer,
        &o.pointwise_constraint},
       {"bias", "zeros", &o.bias_initializer, &o.bias_regularizer, &o.bias_constraint}},
      o.activity_regularizer));
  KILN_RETURN_IF_ERROR(r.Finish());
  auto layer = std::make_shared<SeparableConv2D>(filters, kernel_size, std::move(o));
  KILN_RETURN_IF_ERROR(layer->config_status());
  return layer;
}

}  // namespace kiln
