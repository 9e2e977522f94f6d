// CosineDecay with alpha and warmup, CosineDecayRestarts and
// PolynomialDecay against their tf.keras 2.13+ definitions written out here
// in plain C++ (restarts by walking the periods, not by the closed form the
// graph uses), evaluated in graphs and through SGD steps on both backends;
// config round trips and errors.
#include <cmath>
#include <functional>
#include <vector>

#include "graph/evaluate.h"
#include "gtest/gtest.h"
#include "layers/learning_rate_schedule.h"
#include "layers/optimizers.h"
#include "ops/ops.h"

namespace kiln {
namespace {

const double kPi = std::acos(-1.0);

double HalfCosine(double fraction) { return 0.5 * (1 + std::cos(kPi * fraction)); }

double CosineWithWarmup(double s) {  // lr0 0.01, target 0.5, 5 warmup + 20 decay steps, alpha 0.1
  s = std::min(s, 25.0);
  if (s < 5) return 0.01 + (0.5 - 0.01) * s / 5;
  return 0.5 * (0.9 * HalfCosine((s - 5) / 20) + 0.1);
}

// Walks the periods first, first * t_mul, ...
double Restarts(double s, double lr, double first, double t_mul, double m_mul, double alpha) {
  double start = 0, period = first;
  int i = 0;
  while (s >= start + period) {
    start += period;
    period *= t_mul;
    ++i;
  }
  return lr * ((1 - alpha) * std::pow(m_mul, i) * HalfCosine((s - start) / period) + alpha);
}

double Polynomial(double s, double lr, double steps, double end, double power, bool cycle) {
  if (cycle) {
    steps *= s == 0 ? 1 : std::ceil(s / steps);
  } else {
    s = std::min(s, steps);
  }
  return (lr - end) * std::pow(1 - s / steps, power) + end;
}

struct Case {
  SchedulePtr schedule;
  std::function<double(double)> formula;
};

std::vector<Case> Cases() {
  return {
      {CosineDecay(0.3, 40, 0.1),
       [](double s) { return 0.3 * (0.9 * HalfCosine(std::min(s, 40.0) / 40) + 0.1); }},
      {CosineDecay(0.01, 20, 0.1, 0.5, 5), CosineWithWarmup},
      {CosineDecay(0.2, 10, 0.0, 0.4, 0),
       [](double s) { return 0.4 * HalfCosine(std::min(s, 10.0) / 10); }},
      {CosineDecayRestarts(0.2, 10), [](double s) { return Restarts(s, 0.2, 10, 2, 1, 0); }},
      {CosineDecayRestarts(0.2, 10, 3.0, 0.5, 0.05),
       [](double s) { return Restarts(s, 0.2, 10, 3, 0.5, 0.05); }},
      {CosineDecayRestarts(0.1, 8, 1.0, 0.7),
       [](double s) { return Restarts(s, 0.1, 8, 1, 0.7, 0); }},
      {PolynomialDecay(0.1, 20), [](double s) { return Polynomial(s, 0.1, 20, 1e-4, 1, false); }},
      {PolynomialDecay(0.1, 20, 0.01, 0.5),
       [](double s) { return Polynomial(s, 0.1, 20, 0.01, 0.5, false); }},
      {PolynomialDecay(0.1, 15, 0.01, 2, true),
       [](double s) { return Polynomial(s, 0.1, 15, 0.01, 2, true); }},
  };
}

TEST(LearningRateScheduleDecayTest, MatchFormulas) {
  // Steps off the restart boundaries (10, 30, 40, 70, ...) of the cases.
  const std::vector<Case> cases = Cases();
  for (size_t k = 0; k < cases.size(); ++k) {
    for (double s : {0.0, 1.0, 4.0, 5.0, 6.0, 9.0, 12.0, 15.0, 19.0, 20.0, 25.0, 33.0, 44.0, 57.0,
                     69.0, 95.0}) {
      auto g = Graph::Create();
      Tensor step = Input(g, "step", DType::kF32, Shape{});
      Tensor rate = (*cases[k].schedule)(step);
      ASSERT_TRUE(rate.ok()) << g->status();
      Buffer sb = Buffer::Scalar(DType::kF32, s);
      auto r = EvaluateTensors({rate}, {{"step", &sb}});
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_NEAR((*r)[0].GetAsDouble(0), cases[k].formula(s), 2e-6)
          << cases[k].schedule->GetConfig().dump() << " at step " << s;
    }
  }
}

class ScheduleBackendsTest : public ::testing::TestWithParam<Backend> {};

TEST_P(ScheduleBackendsTest, SgdStepsFollowTheScheduledRates) {
  // Gradient 1 each step: after n steps w = -sum of the rates at 0..n-1.
  for (const Case& c : Cases()) {
    SGD sgd({.learning_rate = c.schedule});
    Weight w{.name = "w", .value = Buffer::Zeros(DType::kF32, Shape{1})};
    Buffer g = Buffer::FromVector<float>(Shape{1}, {1.0f});
    const Buffer* grads[] = {&g};
    Weight* weights[] = {&w};
    double want = 0;
    for (int s = 0; s < 12; ++s) {
      ASSERT_TRUE(sgd.Apply(grads, weights, {.backend = GetParam()}).ok());
      want -= c.formula(s);
    }
    EXPECT_NEAR(w.value.GetAsDouble(0), want, 1e-5) << c.schedule->GetConfig().dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ScheduleBackendsTest,
                         ::testing::Values(Backend::kJit, Backend::kInterp),
                         [](const auto& info) { return std::string(BackendName(info.param)); });

TEST(LearningRateScheduleDecayTest, ConfigsRoundTripAndErrors) {
  for (const Case& c : Cases()) {
    nlohmann::json config = c.schedule->GetConfig();
    auto back = ScheduleFromConfig(config);
    ASSERT_TRUE(back.ok()) << back.status() << config.dump();
    EXPECT_EQ((*back)->GetConfig(), config);
  }
  auto keras = ScheduleFromConfig(nlohmann::json::parse(R"({"class_name": "CosineDecay",
      "config": {"initial_learning_rate": 0.0, "decay_steps": 100, "alpha": 0.0, "name": null,
                 "warmup_target": 0.001, "warmup_steps": 10}})"));
  ASSERT_TRUE(keras.ok()) << keras.status();
  EXPECT_EQ((*keras)->GetConfig()["config"]["warmup_target"], 0.001);
  auto bad = ScheduleFromConfig(nlohmann::json::parse(
      R"({"class_name": "CosineDecayRestarts", "config": {"initial_learning_rate": 1, "first_decay_steps": 0}})"));
  EXPECT_EQ(bad.status().message(),
            "learning rate schedule 'CosineDecayRestarts': argument 'first_decay_steps' must be "
            "positive");
  auto cycle = ScheduleFromConfig(nlohmann::json::parse(
      R"({"class_name": "PolynomialDecay", "config": {"decay_steps": 3, "cycle": 1}})"));
  EXPECT_FALSE(cycle.ok());
  EXPECT_NE(cycle.status().message().find("cycle"), std::string::npos) << cycle.status();
}

}  // namespace
}  // namespace kiln
