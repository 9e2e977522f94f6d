// The optimizers of tf.keras 2.11+ (the "new" optimizer API), as graph
// updates with Keras' formulas and defaults. With g the gradient, lr the
// learning rate, t = iterations + 1:
//
//   SGD:      m = momentum m - lr g;  w += nesterov ? momentum m - lr g : m
//             (no momentum: w -= lr g)
//   Adam:     m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  (amsgrad: vhat = max(vhat, v))
//             w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v or vhat) + eps)
//   AdamW:    Adam after w -= lr weight_decay w (decoupled decay, default 0.004)
//   RMSprop:  v = rho v + (1 - rho) g^2;  (centered: a = rho a + (1 - rho) g,
//             denominator v - a^2 + eps, else v + eps);  step = lr g / sqrt(denominator);
//             momentum: m = momentum m + step, w -= m;  else w -= step
//   Adagrad:  acc += g^2 (starting at initial_accumulator_value);  w -= lr g / sqrt(acc + eps)
//
//   auto sgd = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1, .momentum = 0.9});
//   auto adam = std::make_shared<Adam>(AdamOptions{.learning_rate = ExponentialDecay(1e-3, 100, 0.5)});
//   auto clipped = std::make_shared<Adam>(AdamOptions{.clipnorm = 1.0});  // see GradientClipping
//   KILN_ASSIGN_OR_RETURN(std::shared_ptr<Optimizer> opt, OptimizerFromName("rmsprop"));
#ifndef KILN_LAYERS_OPTIMIZERS_H_
#define KILN_LAYERS_OPTIMIZERS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "layers/optimizer.h"
#include "nlohmann/json.hpp"

namespace kiln {

// A constant learning rate or a schedule.
struct LearningRate {
  LearningRate(double v) : value(v) {}                              // NOLINT
  LearningRate(SchedulePtr s) : schedule(std::move(s)) {}           // NOLINT
  double value = 0;
  SchedulePtr schedule;
};

struct SGDOptions {
  LearningRate learning_rate = 0.01;
  double momentum = 0;  // in [0, 1]
  bool nesterov = false;
  double weight_decay = 0;
  std::optional<double> clipnorm, clipvalue, global_clipnorm;  // see GradientClipping
};

struct AdamOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  double weight_decay = 0;
  std::optional<double> clipnorm, clipvalue, global_clipnorm;  // see GradientClipping
};

struct AdamWOptions {
  LearningRate learning_rate = 0.001;
  double weight_decay = 0.004;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  std::optional<double> clipnorm, clipvalue, global_clipnorm;  // see GradientClipping
};

struct RMSpropOptions {
  LearningRate learning_rate = 0.001;
  double rho = 0.9;
  double momentum = 0;
  double epsilon = 1e-7;
  bool centered = false;
  double weight_decay = 0;
  std::optional<double> clipnorm, clipvalue, global_clipnorm;  // see GradientClipping
};

struct AdagradOptions {
  LearningRate learning_rate = 0.001;
  double initial_accumulator_value = 0.1;
  double epsilon = 1e-7;
  double weight_decay = 0;
  std::optional<double> clipnorm, clipvalue, global_clipnorm;  // see GradientClipping
};

class SGD : public Optimizer {
 public:
  explicit SGD(SGDOptions options = {});

 private:
  std::vector<SlotKind> SlotKinds() const override;
  Tensor UpdateStep(const Tensor& w, const Tensor& g, const StepContext& step,
                    Slots& slots) const override;
  nlohmann::json OwnConfig() const override;
  SGDOptions options_;
};

class Adam : public Optimizer {
 public:
  explicit Adam(AdamOptions options = {});

 protected:
  Adam(std::string name, AdamOptions options);

 private:
  std::vector<SlotKind> SlotKinds() const override;
  Tensor UpdateStep(const Tensor& w, const Tensor& g, const StepContext& step,
                    Slots& slots) const override;
  nlohmann::json OwnConfig() const override;
  AdamOptions options_;
};

class AdamW : public Adam {
 public:
  explicit AdamW(AdamWOptions options = {});
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(RMSpropOptions options = {});

 private:
  std::vector<SlotKind> SlotKinds() const override;
  Tensor UpdateStep(const Tensor& w, const Tensor& g, const StepContext& step,
                    Slots& slots) const override;
  nlohmann::json OwnConfig() const override;
  RMSpropOptions options_;
};

class Adagrad : public Optimizer {
 public:
  explicit Adagrad(AdagradOptions options = {});

 private:
  std::vector<SlotKind> SlotKinds() const override;
  Tensor UpdateStep(const Tensor& w, const Tensor& g, const StepContext& step,
                    Slots& slots) const override;
  nlohmann::json OwnConfig() const override;
  AdagradOptions options_;
};

// "sgd", "adam", "adamw", "rmsprop", "adagrad" (any case) with defaults.
absl::StatusOr<std::shared_ptr<Optimizer>> OptimizerFromName(absl::string_view name);
// {"class_name": "Adam", "config": {...}} as tf.keras serializes it (a
// learning rate may be a schedule config); unknown keys are errors, the
// Keras bookkeeping keys (name, clipnorm: null, jit_compile, ...) are
// accepted when they ask for nothing kiln does not do.
absl::StatusOr<std::shared_ptr<Optimizer>> OptimizerFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_OPTIMIZERS_H_
