#include "layers/advanced_activations.h"

#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "layers/activations.h"
#include "layers/keras_object.h"
#include "layers/layer_args.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {
namespace {

absl::StatusOr<Tensor> OneFloatInput(absl::Span<const Tensor> inputs) {
  if (inputs.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected one input tensor, got ", inputs.size()));
  }
  if (inputs[0].dtype() != DType::kF32) {
    return absl::InvalidArgumentError(absl::StrCat("expected a float32 input, got ",
                                                   inputs[0].node().type.ToString()));
  }
  return inputs[0];
}

absl::Status Invalid(absl::string_view what, double value) {
  return absl::InvalidArgumentError(absl::StrCat(what, ", got ", value));
}

}  // namespace

LeakyReLU::LeakyReLU(double alpha, absl::string_view name)
    : Layer("LeakyReLU", name), alpha_(alpha) {
  supports_masking_ = true;
  if (std::isnan(alpha)) ConfigError(Invalid("alpha must be a number", alpha));
}

absl::StatusOr<Tensor> LeakyReLU::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Tensor x, OneFloatInput(inputs));
  return Select(Greater(x, ScalarLike(x, 0.0)), x, x * alpha_);
}

PReLU::PReLU(PReLUOptions options) : Layer("PReLU", options.name), options_(std::move(options)) {
  supports_masking_ = true;
  if (options_.alpha_initializer == nullptr) options_.alpha_initializer = std::make_shared<Zeros>();
}

absl::Status PReLU::Build(absl::Span<const TensorType> inputs) {
  const Shape& in = inputs[0].shape;
  if (in.rank() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an input with a batch axis, got ", in.ToString()));
  }
  std::vector<int64_t> alpha(in.dims().begin() + 1, in.dims().end());
  for (int axis : options_.shared_axes) {
    if (axis < 1 || axis >= in.rank()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shared_axes (", absl::StrJoin(options_.shared_axes, ", "), ") has axis ", axis,
          ", out of range for the input shape ", in.ToString(), " (axes 1..", in.rank() - 1,
          ", batch excluded)"));
    }
    alpha[axis - 1] = 1;
  }
  built_shape_ = in;
  KILN_ASSIGN_OR_RETURN(alpha_, AddWeight("alpha", Shape(std::move(alpha)),
                                          options_.alpha_initializer, options_.alpha_regularizer,
                                          options_.alpha_constraint));
  return absl::OkStatus();
}

absl::StatusOr<Tensor> PReLU::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Tensor x, OneFloatInput(inputs));
  const std::set<int> shared(options_.shared_axes.begin(), options_.shared_axes.end());
  bool match = x.rank() == built_shape_.rank();
  for (int i = 1; match && i < x.rank(); ++i) {
    match = shared.count(i) > 0 || x.shape().dim(i) == built_shape_.dim(i);
  }
  if (!match) {
    return absl::InvalidArgumentError(
        absl::StrCat("the layer was built for inputs of shape ", built_shape_.ToString(),
                     " (shared axes may differ), got ", x.shape().ToString()));
  }
  const Tensor alpha = WeightTensor(x.graph(), alpha_);
  return Relu(x) - alpha * Relu(-x);
}

ELU::ELU(double alpha, absl::string_view name) : Layer("ELU", name), alpha_(alpha) {
  supports_masking_ = true;
  if (std::isnan(alpha)) ConfigError(Invalid("alpha must be a number", alpha));
}

absl::StatusOr<Tensor> ELU::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Tensor x, OneFloatInput(inputs));
  return Elu(x, alpha_);
}

ThresholdedReLU::ThresholdedReLU(double theta, absl::string_view name)
    : Layer("ThresholdedReLU", name), theta_(theta) {
  supports_masking_ = true;
  if (!(theta >= 0.0)) ConfigError(Invalid("theta must be >= 0", theta));
}

absl::StatusOr<Tensor> ThresholdedReLU::Call(absl::Span<const Tensor> inputs,
                                             const CallContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Tensor x, OneFloatInput(inputs));
  return x * Cast(Greater(x, ScalarLike(x, theta_)), DType::kF32);
}

ReLU::ReLU(ReLUOptions options) : Layer("ReLU", options.name), options_(std::move(options)) {
  supports_masking_ = true;
  if (options_.max_value.has_value() && !(*options_.max_value >= 0.0)) {
    ConfigError(Invalid("max_value of a ReLU layer must be >= 0", *options_.max_value));
  }
  if (!(options_.negative_slope >= 0.0)) {
    ConfigError(Invalid("negative_slope of a ReLU layer must be >= 0", options_.negative_slope));
  }
  if (!(options_.threshold >= 0.0)) {
    ConfigError(Invalid("threshold of a ReLU layer must be >= 0", options_.threshold));
  }
}

absl::StatusOr<Tensor> ReLU::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Tensor x, OneFloatInput(inputs));
  const double threshold = options_.threshold, slope = options_.negative_slope;
  // tf.keras backend.relu, term by term.
  Tensor y = threshold != 0.0 ? x * Cast(Greater(x, ScalarLike(x, threshold)), DType::kF32)
                              : Relu(x);
  if (options_.max_value.has_value()) y = Clip(y, 0.0, *options_.max_value);
  if (slope != 0.0) y = y - Relu(threshold - x) * slope;
  return y;
}

SoftmaxLayer::SoftmaxLayer(int axis, absl::string_view name)
    : SoftmaxLayer(std::vector<int>{axis}, name) {}

SoftmaxLayer::SoftmaxLayer(std::vector<int> axes, absl::string_view name)
    : Layer("Softmax", name), axes_(std::move(axes)) {
  supports_masking_ = true;
  if (axes_.empty()) ConfigError(absl::InvalidArgumentError("axis must name at least one axis"));
}

absl::StatusOr<Tensor> SoftmaxLayer::Call(absl::Span<const Tensor> inputs,
                                          const CallContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Tensor x, OneFloatInput(inputs));
  IntList axes;
  for (int a : axes_) {
    absl::StatusOr<int> axis = NormalizeAxis(a, x.rank());
    if (!axis.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "axis ", a, " is out of range for an input of shape ", x.shape().ToString()));
    }
    axes.push_back(*axis);
  }
  if (!ctx.masks.empty() && ctx.masks[0].defined()) {
    // Masked positions (false) get a large negative: about 0 probability.
    x = x + (1.0 - Cast(ctx.masks[0], DType::kF32)) * -1e9;
  }
  if (axes.size() == 1) {
    Tensor p = Softmax(x, axes[0]);
    // Over the last axis, a crossentropy can use x (TF 2.x finds the Softmax op).
    if (axes[0] == x.rank() - 1) RecordLogits(p, x, ProbabilityKind::kSoftmax);
    return p;
  }
  return Exp(x - LogSumExp(x, axes, /*keepdims=*/true));
}

// ---- Keras configs ----------------------------------------------------------

namespace {

// A number that may be missing (the default) but not null (Keras: "cannot be
// None").
absl::StatusOr<double> NotNoneNumber(KerasArgs& args, const nlohmann::json& config,
                                     absl::string_view key, double default_value) {
  if (config.contains(std::string(key)) && config[std::string(key)].is_null()) {
    args.Ignore(key);
    return args.ArgError(key, "cannot be None");
  }
  return args.Number(key, default_value);
}

// An int, or a list of ints (shared_axes, axis); missing or null: `fallback`.
absl::StatusOr<std::vector<int>> IntsArg(KerasArgs& args, absl::string_view key,
                                         std::vector<int> fallback) {
  const nlohmann::json v = args.Raw(key);
  if (v.is_null()) return fallback;
  if (v.is_number_integer()) return std::vector<int>{v.get<int>()};
  std::vector<int> out;
  if (v.is_array()) {
    for (const nlohmann::json& e : v) {
      if (!e.is_number_integer()) break;
      out.push_back(e.get<int>());
    }
    if (out.size() == v.size()) return out;
  }
  return args.ArgError(key, absl::StrCat("must be an int or a list of ints, got ", v.dump()));
}

}  // namespace

absl::StatusOr<std::shared_ptr<Layer>> LeakyReLUFromConfig(const nlohmann::json& config) {
  KerasObject object{"LeakyReLU", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  // Keras 3 writes the slope as "negative_slope".
  const char* key = config.contains("negative_slope") ? "negative_slope" : "alpha";
  KILN_ASSIGN_OR_RETURN(double alpha, NotNoneNumber(args, config, key, 0.3));
  return FinishLayerConfig<LeakyReLU>(args, alpha, name);
}

absl::StatusOr<std::shared_ptr<Layer>> PReLUFromConfig(const nlohmann::json& config) {
  KerasObject object{"PReLU", config};
  KerasArgs args(object, "layer");
  PReLUOptions options;
  KILN_ASSIGN_OR_RETURN(options.name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(options.alpha_initializer,
                        InitializerArg(args, "alpha_initializer", "zeros"));
  KILN_ASSIGN_OR_RETURN(options.alpha_regularizer, RegularizerArg(args, "alpha_regularizer"));
  KILN_ASSIGN_OR_RETURN(options.alpha_constraint, ConstraintArg(args, "alpha_constraint"));
  KILN_ASSIGN_OR_RETURN(options.shared_axes, IntsArg(args, "shared_axes", {}));
  return FinishLayerConfig<PReLU>(args, std::move(options));
}

absl::StatusOr<std::shared_ptr<Layer>> ELUFromConfig(const nlohmann::json& config) {
  KerasObject object{"ELU", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(double alpha, NotNoneNumber(args, config, "alpha", 1.0));
  return FinishLayerConfig<ELU>(args, alpha, name);
}

absl::StatusOr<std::shared_ptr<Layer>> ThresholdedReLUFromConfig(const nlohmann::json& config) {
  KerasObject object{"ThresholdedReLU", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(double theta, NotNoneNumber(args, config, "theta", 1.0));
  return FinishLayerConfig<ThresholdedReLU>(args, theta, name);
}

absl::StatusOr<std::shared_ptr<Layer>> ReLUFromConfig(const nlohmann::json& config) {
  KerasObject object{"ReLU", config};
  KerasArgs args(object, "layer");
  ReLUOptions options;
  KILN_ASSIGN_OR_RETURN(options.name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(options.max_value, OptionalNumberArg(args, "max_value"));
  KILN_ASSIGN_OR_RETURN(options.negative_slope,
                        NotNoneNumber(args, config, "negative_slope", 0.0));
  KILN_ASSIGN_OR_RETURN(options.threshold, NotNoneNumber(args, config, "threshold", 0.0));
  return FinishLayerConfig<ReLU>(args, std::move(options));
}

absl::StatusOr<std::shared_ptr<Layer>> SoftmaxFromConfig(const nlohmann::json& config) {
  KerasObject object{"Softmax", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(std::vector<int> axes, IntsArg(args, "axis", {-1}));
  return FinishLayerConfig<SoftmaxLayer>(args, std::move(axes), name);
}

}  // namespace kiln
