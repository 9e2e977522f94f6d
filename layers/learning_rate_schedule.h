// Learning-rate schedules (tf.keras 2.x): the rate as a graph function of
// the optimizer's step (its `iterations` before this update, as f32), so a
// compiled training step computes it itself.
//
//   auto schedule = ExponentialDecay(0.1, /*decay_steps=*/1000, /*decay_rate=*/0.96);
//   auto optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = schedule});
//   Tensor lr = (*schedule)(step);                 // graph scalar
//
//   ExponentialDecay:       lr0 * rate^(step / steps)          (floor with staircase)
//   InverseTimeDecay:       lr0 / (1 + rate * step / steps)    (floor with staircase)
//   PiecewiseConstantDecay: values[i] for boundaries[i-1] < step <= boundaries[i]
//   CosineDecay:            lr0 * ((1 - alpha) * (1 + cos(pi * min(step, steps) / steps)) / 2 + alpha),
//                           after an optional linear warmup from lr0 to warmup_target
//   CosineDecayRestarts:    cosine periods first_decay_steps * t_mul^i, scaled by m_mul^i
//   PolynomialDecay:        (lr0 - end) * (1 - min(step, steps) / steps)^power + end
//   (formulas in full: learning_rate_schedule_decay.cc)
//
// Config round trip: ScheduleFromConfig reads {"class_name": "ExponentialDecay",
// "config": {...}} as tf.keras writes it; GetConfig writes it back.
#ifndef KILN_LAYERS_LEARNING_RATE_SCHEDULE_H_
#define KILN_LAYERS_LEARNING_RATE_SCHEDULE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/tensor.h"
#include "nlohmann/json.hpp"

namespace kiln {

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  // The rate at `step` (an f32 scalar tensor): an f32 scalar tensor.
  virtual Tensor operator()(const Tensor& step) const = 0;
  // {"class_name": ..., "config": {...}} as tf.keras serializes it.
  virtual nlohmann::json GetConfig() const = 0;
};
using SchedulePtr = std::shared_ptr<const LearningRateSchedule>;

SchedulePtr ExponentialDecay(double initial_learning_rate, double decay_steps, double decay_rate,
                             bool staircase = false);
SchedulePtr InverseTimeDecay(double initial_learning_rate, double decay_steps, double decay_rate,
                             bool staircase = false);
// values.size() must be boundaries.size() + 1 (else the rate is a graph error).
SchedulePtr PiecewiseConstantDecay(std::vector<double> boundaries, std::vector<double> values);
// With warmup_target (TF 2.13+), the rate first rises linearly from
// initial_learning_rate to warmup_target over warmup_steps, then decays
// from warmup_target over decay_steps.
SchedulePtr CosineDecay(double initial_learning_rate, double decay_steps, double alpha = 0.0,
                        std::optional<double> warmup_target = std::nullopt,
                        double warmup_steps = 0);
SchedulePtr CosineDecayRestarts(double initial_learning_rate, double first_decay_steps,
                                double t_mul = 2.0, double m_mul = 1.0, double alpha = 0.0);
SchedulePtr PolynomialDecay(double initial_learning_rate, double decay_steps,
                            double end_learning_rate = 0.0001, double power = 1.0,
                            bool cycle = false);

absl::StatusOr<SchedulePtr> ScheduleFromConfig(const nlohmann::json& config);

// cos(x) for x in [0, pi] as graph ops (an odd polynomial of x - pi/2,
// error below 1e-9): there is no cosine op, and schedules need no more.
Tensor CosineOnHalfTurn(const Tensor& x);

}  // namespace kiln

#endif  // KILN_LAYERS_LEARNING_RATE_SCHEDULE_H_
