// SGD, Adam, AdamW, RMSprop and Adagrad update steps, and optimizers by
// name and Keras config.
#include "layers/optimizers.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "ops/ops.h"

namespace kiln {
namespace {

template <typename Options>
GradientClipping ClippingOf(const Options& o) {
  return {o.clipnorm, o.clipvalue, o.global_clipnorm};
}

}  // namespace

SGD::SGD(SGDOptions options)
    : Optimizer("SGD", options.learning_rate.value, options.learning_rate.schedule,
                options.weight_decay, ClippingOf(options)),
      options_(options) {
  if (!(options.momentum >= 0 && options.momentum <= 1)) {
    ConfigError(absl::InvalidArgumentError(
        absl::StrCat("SGD: momentum must be between [0, 1], got ", options.momentum)));
  }
}

std::vector<Optimizer::SlotKind> SGD::SlotKinds() const {
  if (options_.momentum == 0) return {};
  return {{"m", 0.0}};
}

Tensor SGD::UpdateStep(const Tensor& w, const Tensor& g, const StepContext& step,
                       Slots& slots) const {
  Tensor descent = -(g * step.learning_rate);
  if (options_.momentum == 0) return w + descent;
  Tensor m = slots.Get("m") * options_.momentum + descent;
  slots.Set("m", m);
  return options_.nesterov ? w + (m * options_.momentum + descent) : w + m;
}

nlohmann::json SGD::OwnConfig() const {
  return {{"momentum", options_.momentum}, {"nesterov", options_.nesterov}};
}

Adam::Adam(AdamOptions options) : Adam("Adam", options) {}

Adam::Adam(std::string name, AdamOptions options)
    : Optimizer(std::move(name), options.learning_rate.value, options.learning_rate.schedule,
                options.weight_decay, ClippingOf(options)),
      options_(options) {}

std::vector<Optimizer::SlotKind> Adam::SlotKinds() const {
  std::vector<SlotKind> kinds = {{"m", 0.0}, {"v", 0.0}};
  if (options_.amsgrad) kinds.push_back({"vhat", 0.0});
  return kinds;
}

Tensor Adam::UpdateStep(const Tensor& w, const Tensor& g, const StepContext& step,
                        Slots& slots) const {
  const Tensor& t = step.local_step;
  Tensor beta_1_power = Pow(ScalarLike(t, options_.beta_1), t);
  Tensor beta_2_power = Pow(ScalarLike(t, options_.beta_2), t);
  Tensor alpha = step.learning_rate * Sqrt(1.0 - beta_2_power) / (1.0 - beta_1_power);
  Tensor m = slots.Get("m");
  Tensor v = slots.Get("v");
  m = m + (g - m) * (1.0 - options_.beta_1);
  v = v + (Square(g) - v) * (1.0 - options_.beta_2);
  slots.Set("m", m);
  slots.Set("v", v);
  if (options_.amsgrad) {
    v = Maximum(slots.Get("vhat"), v);
    slots.Set("vhat", v);
  }
  return w - (m * alpha) / (Sqrt(v) + options_.epsilon);
}

nlohmann::json Adam::OwnConfig() const {
  return {{"beta_1", options_.beta_1},
          {"beta_2", options_.beta_2},
          {"epsilon", options_.epsilon},
          {"amsgrad", options_.amsgrad}};
}

AdamW::AdamW(AdamWOptions options)
    : Adam("AdamW", AdamOptions{.learning_rate = options.learning_rate,
                                .beta_1 = options.beta_1,
                                .beta_2 = options.beta_2,
                                .epsilon = options.epsilon,
                                .amsgrad = options.amsgrad,
                                .weight_decay = options.weight_decay,
                                .clipnorm = options.clipnorm,
                                .clipvalue = options.clipvalue,
                                .global_clipnorm = options.global_clipnorm}) {}

RMSprop::RMSprop(RMSpropOptions options)
    : Optimizer("RMSprop", options.learning_rate.value, options.learning_rate.schedule,
                options.weight_decay, ClippingOf(options)),
      options_(options) {}

std::vector<Optimizer::SlotKind> RMSprop::SlotKinds() const {
  std::vector<SlotKind> kinds = {{"velocity", 0.0}};
  if (options_.momentum > 0) kinds.push_back({"momentum", 0.0});
  if (options_.centered) kinds.push_back({"average_gradient", 0.0});
  return kinds;
}

Tensor RMSprop::UpdateStep(const Tensor& w, const Tensor& g, const StepContext& step,
                           Slots& slots) const {
  const double rho = options_.rho;
  Tensor velocity = slots.Get("velocity") * rho + Square(g) * (1.0 - rho);
  slots.Set("velocity", velocity);
  Tensor denominator = velocity + options_.epsilon;
  if (options_.centered) {
    Tensor average = slots.Get("average_gradient") * rho + g * (1.0 - rho);
    slots.Set("average_gradient", average);
    denominator = velocity - Square(average) + options_.epsilon;
  }
  Tensor increment = step.learning_rate * g * Rsqrt(denominator);
  if (options_.momentum > 0) {
    Tensor momentum = slots.Get("momentum") * options_.momentum + increment;
    slots.Set("momentum", momentum);
    return w - momentum;
  }
  return w - increment;
}

nlohmann::json RMSprop::OwnConfig() const {
  return {{"rho", options_.rho},
          {"momentum", options_.momentum},
          {"epsilon", options_.epsilon},
          {"centered", options_.centered}};
}

Adagrad::Adagrad(AdagradOptions options)
    : Optimizer("Adagrad", options.learning_rate.value, options.learning_rate.schedule,
                options.weight_decay, ClippingOf(options)),
      options_(options) {}

std::vector<Optimizer::SlotKind> Adagrad::SlotKinds() const {
  return {{"accumulator", options_.initial_accumulator_value}};
}

Tensor Adagrad::UpdateStep(const Tensor& w, const Tensor& g, const StepContext& step,
                           Slots& slots) const {
  Tensor accumulator = slots.Get("accumulator") + Square(g);
  slots.Set("accumulator", accumulator);
  return w - step.learning_rate * g / Sqrt(accumulator + options_.epsilon);
}

nlohmann::json Adagrad::OwnConfig() const {
  return {{"initial_accumulator_value", options_.initial_accumulator_value},
          {"epsilon", options_.epsilon}};
}

absl::StatusOr<std::shared_ptr<Optimizer>> OptimizerFromName(absl::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (lower == "sgd") return std::make_shared<SGD>();
  if (lower == "adam") return std::make_shared<Adam>();
  if (lower == "adamw") return std::make_shared<AdamW>();
  if (lower == "rmsprop") return std::make_shared<RMSprop>();
  if (lower == "adagrad") return std::make_shared<Adagrad>();
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown optimizer '", name, "' (expected sgd, adam, adamw, rmsprop or adagrad)"));
}

namespace {

absl::StatusOr<bool> Flag(KerasArgs& args, absl::string_view key, bool default_value) {
  nlohmann::json raw = args.Raw(key);
  if (raw.is_null()) return default_value;
  if (!raw.is_boolean()) return args.ArgError(key, "must be true or false");
  return raw.get<bool>();
}

// The arguments every optimizer takes: the Keras bookkeeping ones
// (accepted when they ask for nothing more) and the gradient clipping.
absl::StatusOr<GradientClipping> CommonArgs(KerasArgs& args) {
  for (const char* key : {"name", "jit_compile", "is_legacy_optimizer", "ema_momentum",
                          "ema_overwrite_frequency"}) {
    args.Ignore(key);
  }
  GradientClipping clipping;
  std::pair<const char*, std::optional<double>*> keys[] = {
      {"clipnorm", &clipping.clipnorm},
      {"clipvalue", &clipping.clipvalue},
      {"global_clipnorm", &clipping.global_clipnorm}};
  for (auto& [key, value] : keys) {
    nlohmann::json raw = args.Raw(key);
    if (raw.is_null()) continue;
    if (!raw.is_number()) return args.ArgError(key, "must be a number or null");
    *value = raw.get<double>();
  }
  KILN_ASSIGN_OR_RETURN(bool ema, Flag(args, "use_ema", false));
  if (ema) return args.ArgError("use_ema", "is not supported (expected false)");
  return clipping;
}

template <typename Options>
void SetClipping(const GradientClipping& clipping, Options& o) {
  o.clipnorm = clipping.clipnorm;
  o.clipvalue = clipping.clipvalue;
  o.global_clipnorm = clipping.global_clipnorm;
}

absl::StatusOr<LearningRate> LearningRateArg(KerasArgs& args, double default_value) {
  nlohmann::json raw = args.Raw("learning_rate");
  if (raw.is_null()) return LearningRate(default_value);
  if (raw.is_number()) return LearningRate(raw.get<double>());
  if (raw.is_object()) {
    KILN_ASSIGN_OR_RETURN(SchedulePtr schedule, ScheduleFromConfig(raw));
    return LearningRate(schedule);
  }
  return args.ArgError("learning_rate", "must be a number or a schedule config");
}

}  // namespace

absl::StatusOr<std::shared_ptr<Optimizer>> OptimizerFromConfig(const nlohmann::json& config) {
  KILN_ASSIGN_OR_RETURN(KerasObject object, ParseKerasObject(config, "optimizer"));
  if (config.is_string()) return OptimizerFromName(object.class_name);
  KerasArgs args(object, "optimizer");
  KILN_ASSIGN_OR_RETURN(const GradientClipping clipping, CommonArgs(args));
  std::string kind = object.class_name;
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::shared_ptr<Optimizer> optimizer;
  if (kind == "sgd") {
    SGDOptions o;
    KILN_ASSIGN_OR_RETURN(o.learning_rate, LearningRateArg(args, 0.01));
    KILN_ASSIGN_OR_RETURN(o.momentum, args.Number("momentum", 0.0));
    KILN_ASSIGN_OR_RETURN(o.nesterov, Flag(args, "nesterov", false));
    KILN_ASSIGN_OR_RETURN(o.weight_decay, args.Number("weight_decay", 0.0, true));
    SetClipping(clipping, o);
    optimizer = std::make_shared<SGD>(o);
  } else if (kind == "adam" || kind == "adamw") {
    AdamWOptions o;
    KILN_ASSIGN_OR_RETURN(o.learning_rate, LearningRateArg(args, 0.001));
    KILN_ASSIGN_OR_RETURN(o.beta_1, args.Number("beta_1", 0.9));
    KILN_ASSIGN_OR_RETURN(o.beta_2, args.Number("beta_2", 0.999));
    KILN_ASSIGN_OR_RETURN(o.epsilon, args.Number("epsilon", 1e-7));
    KILN_ASSIGN_OR_RETURN(o.amsgrad, Flag(args, "amsgrad", false));
    KILN_ASSIGN_OR_RETURN(o.weight_decay,
                          args.Number("weight_decay", kind == "adamw" ? 0.004 : 0.0, true));
    SetClipping(clipping, o);
    if (kind == "adamw") {
      optimizer = std::make_shared<AdamW>(o);
    } else {
      optimizer = std::make_shared<Adam>(AdamOptions{o.learning_rate, o.beta_1, o.beta_2,
                                                     o.epsilon, o.amsgrad, o.weight_decay,
                                                     o.clipnorm, o.clipvalue,
                                                     o.global_clipnorm});
    }
  } else if (kind == "rmsprop") {
    RMSpropOptions o;
    KILN_ASSIGN_OR_RETURN(o.learning_rate, LearningRateArg(args, 0.001));
    KILN_ASSIGN_OR_RETURN(o.rho, args.Number("rho", 0.9));
    KILN_ASSIGN_OR_RETURN(o.momentum, args.Number("momentum", 0.0));
    KILN_ASSIGN_OR_RETURN(o.epsilon, args.Number("epsilon", 1e-7));
    KILN_ASSIGN_OR_RETURN(o.centered, Flag(args, "centered", false));
    KILN_ASSIGN_OR_RETURN(o.weight_decay, args.Number("weight_decay", 0.0, true));
    SetClipping(clipping, o);
    optimizer = std::make_shared<RMSprop>(o);
  } else if (kind == "adagrad") {
    AdagradOptions o;
    KILN_ASSIGN_OR_RETURN(o.learning_rate, LearningRateArg(args, 0.001));
    KILN_ASSIGN_OR_RETURN(o.initial_accumulator_value,
                          args.Number("initial_accumulator_value", 0.1));
    KILN_ASSIGN_OR_RETURN(o.epsilon, args.Number("epsilon", 1e-7));
    KILN_ASSIGN_OR_RETURN(o.weight_decay, args.Number("weight_decay", 0.0, true));
    SetClipping(clipping, o);
    optimizer = std::make_shared<Adagrad>(o);
  } else {
    return args.Error("unknown optimizer (expected SGD, Adam, AdamW, RMSprop or Adagrad)");
  }
  KILN_RETURN_IF_ERROR(args.CheckNoneLeft());
  KILN_RETURN_IF_ERROR(optimizer->status());
  return optimizer;
}

}  // namespace kiln
