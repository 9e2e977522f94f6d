// The learning-rate schedules as graph functions of the step, and their
// Keras configs.
#include "layers/learning_rate_schedule.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "layers/learning_rate_schedule_internal.h"
#include "ops/ops.h"

namespace kiln {
namespace {

// step / steps, floored with staircase.
Tensor Progress(const Tensor& step, double steps, bool staircase) {
  Tensor p = step / steps;
  return staircase ? Floor(p) : p;
}

// ExponentialDecay and InverseTimeDecay: a function of step / decay_steps.
class DecayOverSteps : public LearningRateSchedule {
 public:
  enum class Kind { kExponential, kInverseTime };
  DecayOverSteps(Kind kind, double lr, double steps, double rate, bool staircase)
      : kind_(kind), lr_(lr), steps_(steps), rate_(rate), staircase_(staircase) {}
  Tensor operator()(const Tensor& step) const override {
    Tensor progress = Progress(step, steps_, staircase_);
    if (kind_ == Kind::kExponential) return lr_ * Pow(ScalarLike(step, rate_), progress);
    return lr_ / (1.0 + rate_ * progress);
  }
  nlohmann::json GetConfig() const override {
    return {{"class_name", kind_ == Kind::kExponential ? "ExponentialDecay" : "InverseTimeDecay"},
            {"config",
             {{"initial_learning_rate", lr_}, {"decay_steps", steps_}, {"decay_rate", rate_},
              {"staircase", staircase_}, {"name", nullptr}}}};
  }

 private:
  Kind kind_;
  double lr_, steps_, rate_;
  bool staircase_;
};

class Piecewise : public LearningRateSchedule {
 public:
  Piecewise(std::vector<double> boundaries, std::vector<double> values)
      : boundaries_(std::move(boundaries)), values_(std::move(values)) {}
  Tensor operator()(const Tensor& step) const override {
    if (values_.size() != boundaries_.size() + 1) {
      return step.graph()->Fail(
          "piecewise_constant_decay",
          absl::InvalidArgumentError(absl::StrCat(
              "expected one more value than boundaries, got ", boundaries_.size(),
              " boundaries and ", values_.size(), " values")));
    }
    // From the last interval down: step <= boundary i selects value i.
    Tensor rate = ScalarLike(step, values_.back());
    for (size_t i = boundaries_.size(); i-- > 0;) {
      rate = Select(LessEqual(step, ScalarLike(step, boundaries_[i])),
                    ScalarLike(step, values_[i]), rate);
    }
    return rate;
  }
  nlohmann::json GetConfig() const override {
    return {{"class_name", "PiecewiseConstantDecay"},
            {"config", {{"boundaries", boundaries_}, {"values", values_}, {"name", nullptr}}}};
  }

 private:
  std::vector<double> boundaries_, values_;
};

absl::StatusOr<std::vector<double>> NumberList(KerasArgs& args, absl::string_view key) {
  nlohmann::json raw = args.Raw(key);
  if (!raw.is_array()) return args.ArgError(key, "must be a list of numbers");
  std::vector<double> out;
  for (const nlohmann::json& v : raw) {
    if (!v.is_number()) return args.ArgError(key, "must be a list of numbers");
    out.push_back(v.get<double>());
  }
  return out;
}

}  // namespace

SchedulePtr ExponentialDecay(double lr, double decay_steps, double decay_rate, bool staircase) {
  return std::make_shared<DecayOverSteps>(DecayOverSteps::Kind::kExponential, lr, decay_steps,
                                          decay_rate, staircase);
}
SchedulePtr InverseTimeDecay(double lr, double decay_steps, double decay_rate, bool staircase) {
  return std::make_shared<DecayOverSteps>(DecayOverSteps::Kind::kInverseTime, lr, decay_steps,
                                          decay_rate, staircase);
}
SchedulePtr PiecewiseConstantDecay(std::vector<double> boundaries, std::vector<double> values) {
  return std::make_shared<Piecewise>(std::move(boundaries), std::move(values));
}

absl::StatusOr<SchedulePtr> ScheduleFromConfig(const nlohmann::json& config) {
  KILN_ASSIGN_OR_RETURN(KerasObject object, ParseKerasObject(config, "learning rate schedule"));
  KerasArgs args(object, "learning rate schedule");
  args.Ignore("name");
  SchedulePtr schedule;
  const std::string& kind = object.class_name;
  if (kind == "ExponentialDecay" || kind == "InverseTimeDecay") {
    KILN_ASSIGN_OR_RETURN(double lr, args.Number("initial_learning_rate", 0.0));
    KILN_ASSIGN_OR_RETURN(double steps, args.Number("decay_steps", 0.0));
    KILN_ASSIGN_OR_RETURN(double rate, args.Number("decay_rate", 0.0));
    nlohmann::json staircase = args.Raw("staircase");
    if (!staircase.is_null() && !staircase.is_boolean()) {
      return args.ArgError("staircase", "must be true or false");
    }
    if (!(steps > 0)) return args.ArgError("decay_steps", "must be positive");
    const bool stairs = staircase.is_boolean() && staircase.get<bool>();
    schedule = kind == "ExponentialDecay" ? ExponentialDecay(lr, steps, rate, stairs)
                                          : InverseTimeDecay(lr, steps, rate, stairs);
  } else if (kind == "PiecewiseConstantDecay") {
    KILN_ASSIGN_OR_RETURN(std::vector<double> boundaries, NumberList(args, "boundaries"));
    KILN_ASSIGN_OR_RETURN(std::vector<double> values, NumberList(args, "values"));
    if (values.size() != boundaries.size() + 1) {
      return args.Error("expected one more value than boundaries");
    }
    schedule = PiecewiseConstantDecay(std::move(boundaries), std::move(values));
  } else if (kind == "CosineDecay" || kind == "CosineDecayRestarts" || kind == "PolynomialDecay") {
    KILN_ASSIGN_OR_RETURN(schedule, DecayScheduleFromConfig(kind, args));
  } else {
    return args.Error("unknown schedule (expected ExponentialDecay, InverseTimeDecay, "
                      "PiecewiseConstantDecay, CosineDecay, CosineDecayRestarts or "
                      "PolynomialDecay)");
  }
  KILN_RETURN_IF_ERROR(args.CheckNoneLeft());
  return schedule;
}

}  // namespace kiln
