// The schedules that decay towards a floor, as graph functions of the step
// (tf.keras 2.13+ formulas), and their Keras configs:
//
//   CosineDecay:          lr0 * ((1 - alpha) * (1 + cos(pi * min(s, steps) / steps)) / 2 + alpha);
//                         with warmup_target: lr0 + (target - lr0) * s / warmup_steps while
//                         s < warmup_steps, then the decay from target over s - warmup_steps
//   CosineDecayRestarts:  the cosine over periods first_decay_steps * t_mul^i, the i-th
//                         scaled by m_mul^i (t_mul = 1: equal periods)
//   PolynomialDecay:      (lr0 - end) * (1 - min(s, steps) / steps)^power + end; with
//                         cycle, steps grows to the next multiple of itself past s
//
//   auto schedule = CosineDecay(0.0, 1000, 0.1, /*warmup_target=*/1e-3, /*warmup_steps=*/100);
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/learning_rate_schedule_internal.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr double kPi = 3.14159265358979323846;

// (1 + cos(pi * fraction)) / 2 for fraction in [0, 1].
Tensor HalfCosine(const Tensor& fraction) { return (1.0 + CosineOnHalfTurn(fraction * kPi)) * 0.5; }

class Cosine : public LearningRateSchedule {
 public:
  Cosine(double lr, double steps, double alpha, std::optional<double> warmup_target,
         double warmup_steps)
      : lr_(lr),
        steps_(steps),
        alpha_(alpha),
        warmup_target_(warmup_target),
        warmup_steps_(warmup_steps) {}
  Tensor operator()(const Tensor& step) const override {
    if (!warmup_target_.has_value()) return Decay(Minimum(step, ScalarLike(step, steps_)), lr_);
    Tensor s = Minimum(step, ScalarLike(step, steps_ + warmup_steps_));
    Tensor decayed = Decay(s - warmup_steps_, *warmup_target_);
    if (!(warmup_steps_ > 0)) return decayed;
    Tensor warmup = (*warmup_target_ - lr_) * (s / warmup_steps_) + lr_;
    return Select(Less(s, ScalarLike(s, warmup_steps_)), warmup, decayed);
  }
  nlohmann::json GetConfig() const override {
    return {
        {"class_name", "CosineDecay"},
        {"config",
         {{"initial_learning_rate", lr_},
          {"decay_steps", steps_},
          {"alpha", alpha_},
          {"name", nullptr},
          {"warmup_target", warmup_target_ ? nlohmann::json(*warmup_target_) : nlohmann::json()},
          {"warmup_steps", warmup_steps_}}}};
  }

 private:
  Tensor Decay(const Tensor& s, double from) const {
    return from * ((1.0 - alpha_) * HalfCosine(s / steps_) + alpha_);
  }
  double lr_, steps_, alpha_;
  std::optional<double> warmup_target_;
  double warmup_steps_;
};

class CosineRestarts : public LearningRateSchedule {
 public:
  CosineRestarts(double lr, double first_steps, double t_mul, double m_mul, double alpha)
      : lr_(lr), first_steps_(first_steps), t_mul_(t_mul), m_mul_(m_mul), alpha_(alpha) {}
  Tensor operator()(const Tensor& step) const override {
    Tensor fraction = step / first_steps_;
    Tensor restart;
    if (t_mul_ == 1.0) {
      restart = Floor(fraction);
      fraction = fraction - restart;
    } else {  // periods 1, t, t^2, ...: restart i starts at (1 - t^i) / (1 - t)
      restart = Floor(Log(1.0 - fraction * (1.0 - t_mul_)) / std::log(t_mul_));
      Tensor t_power = Pow(ScalarLike(step, t_mul_), restart);
      Tensor start = (1.0 - t_power) / (1.0 - t_mul_);
      fraction = (fraction - start) / t_power;
    }
    Tensor cosine = Pow(ScalarLike(step, m_mul_), restart) * HalfCosine(fraction);
    return lr_ * ((1.0 - alpha_) * cosine + alpha_);
  }
  nlohmann::json GetConfig() const override {
    return {{"class_name", "CosineDecayRestarts"},
            {"config",
             {{"initial_learning_rate", lr_},
              {"first_decay_steps", first_steps_},
              {"t_mul", t_mul_},
              {"m_mul", m_mul_},
              {"alpha", alpha_},
              {"name", nullptr}}}};
  }

 private:
  double lr_, first_steps_, t_mul_, m_mul_, alpha_;
};

class Polynomial : public LearningRateSchedule {
 public:
  Polynomial(double lr, double steps, double end, double power, bool cycle)
      : lr_(lr), steps_(steps), end_(end), power_(power), cycle_(cycle) {}
  Tensor operator()(const Tensor& step) const override {
    Tensor s = step;
    Tensor steps = ScalarLike(step, steps_);
    if (cycle_) {  // ceil(s / steps) (1 at step 0) periods
      Tensor periods = -Floor(-(step / steps_));
      periods = Select(Equal(step, ScalarLike(step, 0.0)), ScalarLike(step, 1.0), periods);
      steps = periods * steps_;
    } else {
      s = Minimum(step, steps);
    }
    return (lr_ - end_) * Pow(1.0 - s / steps, ScalarLike(step, power_)) + end_;
  }
  nlohmann::json GetConfig() const override {
    return {{"class_name", "PolynomialDecay"},
            {"config",
             {{"initial_learning_rate", lr_},
              {"decay_steps", steps_},
              {"end_learning_rate", end_},
              {"power", power_},
              {"cycle", cycle_},
              {"name", nullptr}}}};
  }

 private:
  double lr_, steps_, end_, power_;
  bool cycle_;
};

absl::StatusOr<bool> BoolArg(KerasArgs& args, absl::string_view key) {
  nlohmann::json raw = args.Raw(key);
  if (raw.is_null()) return false;
  if (!raw.is_boolean()) return args.ArgError(key, "must be true or false");
  return raw.get<bool>();
}

}  // namespace

Tensor CosineOnHalfTurn(const Tensor& x) {
  // cos(x) = -sin(y), y = x - pi/2 in [-pi/2, pi/2]: Taylor terms to y^15.
  Tensor y = x - kPi / 2;
  Tensor y2 = y * y;
  double coefficient = 1;
  std::vector<double> c;  // 1, -1/3!, 1/5!, ...
  for (int k = 0; k < 8; ++k) {
    c.push_back(coefficient);
    coefficient = -coefficient / ((2 * k + 2) * (2 * k + 3));
  }
  Tensor poly = ScalarLike(x, c.back());
  for (size_t k = c.size() - 1; k-- > 0;) poly = poly * y2 + c[k];
  return -(y * poly);
}

SchedulePtr CosineDecay(double lr, double decay_steps, double alpha,
                        std::optional<double> warmup_target, double warmup_steps) {
  return std::make_shared<Cosine>(lr, decay_steps, alpha, warmup_target, warmup_steps);
}
SchedulePtr CosineDecayRestarts(double lr, double first_decay_steps, double t_mul, double m_mul,
                                double alpha) {
  return std::make_shared<CosineRestarts>(lr, first_decay_steps, t_mul, m_mul, alpha);
}
SchedulePtr PolynomialDecay(double lr, double decay_steps, double end_learning_rate, double power,
                            bool cycle) {
  return std::make_shared<Polynomial>(lr, decay_steps, end_learning_rate, power, cycle);
}

absl::StatusOr<SchedulePtr> DecayScheduleFromConfig(absl::string_view kind, KerasArgs& args) {
  KILN_ASSIGN_OR_RETURN(double lr, args.Number("initial_learning_rate", 0.0));
  const char* steps_key = kind == "CosineDecayRestarts" ? "first_decay_steps" : "decay_steps";
  KILN_ASSIGN_OR_RETURN(double steps, args.Number(steps_key, 0.0));
  if (!(steps > 0)) return args.ArgError(steps_key, "must be positive");
  if (kind == "CosineDecay") {
    KILN_ASSIGN_OR_RETURN(double alpha, args.Number("alpha", 0.0));
    nlohmann::json target = args.Raw("warmup_target");
    if (!target.is_null() && !target.is_number()) {
      return args.ArgError("warmup_target", "must be a number or null");
    }
    KILN_ASSIGN_OR_RETURN(double warmup_steps, args.Number("warmup_steps", 0.0));
    if (!(warmup_steps >= 0)) return args.ArgError("warmup_steps", "must be >= 0");
    std::optional<double> warmup_target;
    if (target.is_number()) warmup_target = target.get<double>();
    return CosineDecay(lr, steps, alpha, warmup_target, warmup_steps);
  }
  if (kind == "CosineDecayRestarts") {
    KILN_ASSIGN_OR_RETURN(double t_mul, args.Number("t_mul", 2.0));
    KILN_ASSIGN_OR_RETURN(double m_mul, args.Number("m_mul", 1.0));
    KILN_ASSIGN_OR_RETURN(double alpha, args.Number("alpha", 0.0));
    if (!(t_mul > 0)) return args.ArgError("t_mul", "must be positive");
    return CosineDecayRestarts(lr, steps, t_mul, m_mul, alpha);
  }
  KILN_ASSIGN_OR_RETURN(double end, args.Number("end_learning_rate", 0.0001));
  KILN_ASSIGN_OR_RETURN(double power, args.Number("power", 1.0));
  KILN_ASSIGN_OR_RETURN(bool cycle, BoolArg(args, "cycle"));
  return PolynomialDecay(lr, steps, end, power, cycle);
}

}  // namespace kiln
