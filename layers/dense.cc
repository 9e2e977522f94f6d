#include "layers/dense.h"

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "layers/layer_args.h"
#include "layers/layer_registry.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {

Dense::Dense(int64_t units, DenseOptions options)
    : Layer("Dense", options.name), units_(units), options_(std::move(options)) {
  supports_masking_ = true;
  // tf.keras accepts 0 units; kiln follows the spec's recommendation.
  if (units_ <= 0) {
    ConfigError(absl::InvalidArgumentError(
        absl::StrCat("units must be a positive integer, got ", units_)));
  }
  ConfigValue(ActivationByName(options_.activation), activation_);
  if (options_.kernel_initializer == nullptr) {
    options_.kernel_initializer = std::make_shared<GlorotUniform>();
  }
  if (options_.bias_initializer == nullptr) options_.bias_initializer = std::make_shared<Zeros>();
  set_activity_regularizer(options_.activity_regularizer);
}

absl::Status Dense::Build(absl::Span<const TensorType> inputs) {
  const Shape& in = inputs[0].shape;
  if (in.rank() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an input of rank >= 2, got ", in.ToString()));
  }
  KILN_ASSIGN_OR_RETURN(kernel_, AddWeight("kernel", Shape{in.dim(in.rank() - 1), units_},
                                           options_.kernel_initializer,
                                           options_.kernel_regularizer,
                                           options_.kernel_constraint));
  if (options_.use_bias) {
    KILN_ASSIGN_OR_RETURN(bias_, AddWeight("bias", Shape{units_}, options_.bias_initializer,
                                           options_.bias_regularizer, options_.bias_constraint));
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> Dense::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  Tensor x = inputs[0];
  const Shape& kernel = weights()[kernel_].value.shape();
  if (x.rank() < 2 || x.shape().dim(x.rank() - 1) != kernel.dim(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected an input whose last axis is ", kernel.dim(0), ", got ", x.shape().ToString()));
  }
  if (x.dtype() != DType::kF32) x = Cast(x, DType::kF32);
  Tensor y = MatMul(x, WeightTensor(x.graph(), kernel_));
  if (bias_ >= 0) y = y + WeightTensor(x.graph(), bias_);
  return activation_(y);
}

}  // namespace kiln

namespace kiln {

absl::StatusOr<std::shared_ptr<Layer>> DenseFromConfig(const nlohmann::json& config) {
  KerasObject object{"Dense", config};
  KerasArgs args(object, "layer");
  DenseOptions o;
  KILN_ASSIGN_OR_RETURN(o.name, BaseLayerArgs(args));
  const nlohmann::json units = args.Raw("units");
  if (!units.is_number_integer()) return args.ArgError("units", "must be an integer");
  KILN_ASSIGN_OR_RETURN(o.activation, args.String("activation", "linear"));
  KILN_ASSIGN_OR_RETURN(o.use_bias, BoolArg(args, "use_bias", true));
  KILN_ASSIGN_OR_RETURN(o.kernel_initializer,
                        InitializerArg(args, "kernel_initializer", "glorot_uniform"));
  KILN_ASSIGN_OR_RETURN(o.bias_initializer, InitializerArg(args, "bias_initializer", "zeros"));
  KILN_ASSIGN_OR_RETURN(o.kernel_regularizer, RegularizerArg(args, "kernel_regularizer"));
  KILN_ASSIGN_OR_RETURN(o.bias_regularizer, RegularizerArg(args, "bias_regularizer"));
  KILN_ASSIGN_OR_RETURN(o.activity_regularizer, RegularizerArg(args, "activity_regularizer"));
  KILN_ASSIGN_OR_RETURN(o.kernel_constraint, ConstraintArg(args, "kernel_constraint"));
  KILN_ASSIGN_OR_RETURN(o.bias_constraint, ConstraintArg(args, "bias_constraint"));
  return FinishLayerConfig<Dense>(args, units.get<int64_t>(), std::move(o));
}

}  // namespace kiln
