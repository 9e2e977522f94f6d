#include "layers/activation.h"

#include <utility>

#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "layers/layer_args.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {

ActivationLayer::ActivationLayer(const std::string& activation, absl::string_view name)
    : Layer("Activation", name), activation_name_(activation) {
  supports_masking_ = true;
  ConfigValue(ActivationByName(activation), function_);
}

ActivationLayer::ActivationLayer(Activation function, absl::string_view name)
    : Layer("Activation", name), function_(std::move(function)) {
  supports_masking_ = true;
  if (!function_) ConfigError(absl::InvalidArgumentError("the activation function is empty"));
}

absl::StatusOr<Tensor> ActivationLayer::Call(absl::Span<const Tensor> inputs,
                                             const CallContext& ctx) {
  if (inputs.size() != 1) {
    return absl::InvalidArgumentError("expected one input tensor");
  }
  const Tensor& x = inputs[0];
  Tensor y = function_(x);
  // The identity ("linear") still gives the layer an output node of its own.
  if (y == x) y = Reshape(x, x.shape());
  return y;
}

absl::StatusOr<std::shared_ptr<Layer>> ActivationFromConfig(const nlohmann::json& config) {
  KerasObject object{"Activation", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(const nlohmann::json activation, RequiredArg(args, config, "activation"));
  std::string activation_name = "linear";  // None is linear
  if (activation.is_string()) {
    activation_name = activation.get<std::string>();
  } else if (!activation.is_null()) {
    return args.ArgError("activation", "must be an activation name or null");
  }
  KILN_RETURN_IF_ERROR(args.CheckNoneLeft());
  auto layer = std::make_shared<ActivationLayer>(activation_name, name);
  KILN_RETURN_IF_ERROR(layer->config_status());
  return layer;
}

}  // namespace kiln
