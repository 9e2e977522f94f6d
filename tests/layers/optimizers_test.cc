// Optimizers: three steps of each, through Apply on both backends, against
// the tf.keras 2.11+ update formulas written out here in plain C++; the
// learning-rate schedules against their formulas; state names, configs,
// the fed learning rate and errors.
#include "layers/optimizers.h"

#include <cmath>
#include <functional>
#include <vector>

#include "graph/evaluate.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int kSize = 6;

// The gradient at step s, element i: varied signs and sizes.
double GradientAt(int s, int i) { return std::sin(1.3 * i + 0.7 * s) * (1 + 0.5 * i) - 0.2 * s; }
double InitialWeight(int i) { return 0.3 * i - 0.8; }

// One element's state through the steps; `step` gets (t = 1, 2, ...).
struct Reference {
  double w = 0, a = 0, b = 0, c = 0;  // weight and up to three slots
};
using ReferenceStep = std::function<void(Reference&, double g, int t)>;

class OptimizersTest : public ::testing::TestWithParam<Backend> {
 protected:
  // Runs three Apply steps of `optimizer` on a [2,3] weight and compares
  // with `step` applied to each element.
  void ExpectSteps(Optimizer& optimizer, const ReferenceStep& step, double initial_slot = 0) {
    Weight w{.name = "dense/kernel", .value = Buffer(DType::kF32, Shape{2, 3})};
    std::vector<Reference> ref(kSize);
    for (int i = 0; i < kSize; ++i) {
      w.value.SetFromDouble(i, InitialWeight(i));
      ref[i].w = InitialWeight(i);
      ref[i].a = ref[i].b = ref[i].c = initial_slot;
    }
    for (int s = 0; s < 3; ++s) {
      Buffer g(DType::kF32, Shape{2, 3});
      for (int i = 0; i < kSize; ++i) g.SetFromDouble(i, GradientAt(s, i));
      const Buffer* grads[] = {&g};
      Weight* weights[] = {&w};
      ASSERT_TRUE(optimizer.Apply(grads, weights, {.backend = GetParam()}).ok());
      for (int i = 0; i < kSize; ++i) {
        step(ref[i], static_cast<float>(GradientAt(s, i)), s + 1);
        EXPECT_NEAR(w.value.GetAsDouble(i), ref[i].w, 2e-6 * std::max(1.0, std::abs(ref[i].w)))
            << optimizer.name() << " step " << s + 1 << " element " << i;
      }
    }
    EXPECT_EQ(optimizer.iterations(), 3);
  }
};

TEST_P(OptimizersTest, SgdPlainMomentumAndNesterov) {
  SGD plain({.learning_rate = 0.1});
  ExpectSteps(plain, [](Reference& r, double g, int) { r.w -= 0.1 * g; });
  SGD momentum({.learning_rate = 0.05, .momentum = 0.9});
  ExpectSteps(momentum, [](Reference& r, double g, int) {
    r.a = 0.9 * r.a - 0.05 * g;
    r.w += r.a;
  });
  SGD nesterov({.learning_rate = 0.05, .momentum = 0.8, .nesterov = true});
  ExpectSteps(nesterov, [](Reference& r, double g, int) {
    r.a = 0.8 * r.a - 0.05 * g;
    r.w += 0.8 * r.a - 0.05 * g;
  });
}

void AdamReference(Reference& r, double g, int t, double lr, bool amsgrad) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
  r.a += (g - r.a) * (1 - b1);
  r.b += (g * g - r.b) * (1 - b2);
  double v = r.b;
  if (amsgrad) {
    r.c = std::max(r.c, r.b);
    v = r.c;
  }
  const double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
  r.w -= r.a * alpha / (std::sqrt(v) + eps);
}

TEST_P(OptimizersTest, AdamAndAmsgrad) {
  Adam adam({.learning_rate = 0.01});
  ExpectSteps(adam, [](Reference& r, double g, int t) { AdamReference(r, g, t, 0.01, false); });
  Adam amsgrad({.learning_rate = 0.02, .amsgrad = true});
  ExpectSteps(amsgrad, [](Reference& r, double g, int t) { AdamReference(r, g, t, 0.02, true); });
}

TEST_P(OptimizersTest, AdamWDecaysTheWeightFirst) {
  AdamW adamw({.learning_rate = 0.01, .weight_decay = 0.1});
  ExpectSteps(adamw, [](Reference& r, double g, int t) {
    r.w -= r.w * 0.1 * 0.01;
    AdamReference(r, g, t, 0.01, false);
  });
}

TEST_P(OptimizersTest, RmspropPlainCenteredWithMomentum) {
  RMSprop plain({.learning_rate = 0.01});
  ExpectSteps(plain, [](Reference& r, double g, int) {
    r.a = 0.9 * r.a + 0.1 * g * g;
    r.w -= 0.01 * g / std::sqrt(r.a + 1e-7);
  });
  RMSprop centered({.learning_rate = 0.01, .rho = 0.8, .momentum = 0.5, .centered = true});
  ExpectSteps(centered, [](Reference& r, double g, int) {
    r.a = 0.8 * r.a + 0.2 * g * g;  // velocity
    r.c = 0.8 * r.c + 0.2 * g;      // average gradient
    const double increment = 0.01 * g / std::sqrt(r.a - r.c * r.c + 1e-7);
    r.b = 0.5 * r.b + increment;    // momentum
    r.w -= r.b;
  });
}

TEST_P(OptimizersTest, AdagradStartsFromTheInitialAccumulator) {
  Adagrad adagrad({.learning_rate = 0.1, .initial_accumulator_value = 0.2});
  ExpectSteps(
      adagrad,
      [](Reference& r, double g, int) {
        r.a += g * g;
        r.w -= 0.1 * g / std::sqrt(r.a + 1e-7);
      },
      /*initial_slot=*/0.2);
}

TEST_P(OptimizersTest, ScheduledRateFollowsIterations) {
  SGD sgd({.learning_rate = ExponentialDecay(0.1, 2, 0.5, /*staircase=*/true)});
  ExpectSteps(sgd, [](Reference& r, double g, int t) {
    r.w -= 0.1 * std::pow(0.5, std::floor((t - 1) / 2.0)) * g;
  });
}

TEST_P(OptimizersTest, SettingTheRateNeedsNoRecompilation) {
  SGD sgd({.learning_rate = 0.1});
  Weight w{.name = "w", .value = Buffer::Zeros(DType::kF32, Shape{2})};
  Buffer g = Buffer::FromVector<float>(Shape{2}, {1, -2});
  const Buffer* grads[] = {&g};
  Weight* weights[] = {&w};
  ASSERT_TRUE(sgd.Apply(grads, weights, {.backend = GetParam()}).ok());
  sgd.SetLearningRate(0.5);
  EXPECT_EQ(sgd.learning_rate(), 0.5);
  ASSERT_TRUE(sgd.Apply(grads, weights, {.backend = GetParam()}).ok());
  EXPECT_NEAR(w.value.GetAsDouble(0), -0.6, 1e-6);
  EXPECT_NEAR(w.value.GetAsDouble(1), 1.2, 1e-6);
  EXPECT_EQ(sgd.program_version(), 0);
  // A schedule replaced by a constant is a new program.
  SGD scheduled({.learning_rate = CosineDecay(1.0, 10)});
  EXPECT_TRUE(std::isnan(scheduled.learning_rate()));
  scheduled.SetLearningRate(0.25);
  EXPECT_EQ(scheduled.program_version(), 1);
  EXPECT_EQ(scheduled.schedule(), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Backends, OptimizersTest,
                         ::testing::Values(Backend::kJit, Backend::kInterp),
                         [](const auto& info) { return std::string(BackendName(info.param)); });

TEST(LearningRateScheduleTest, MatchFormulas) {
  struct Case {
    SchedulePtr schedule;
    std::function<double(double)> formula;
  };
  const double kPi = std::acos(-1.0);
  std::vector<Case> cases = {
      {ExponentialDecay(0.1, 10, 0.5), [](double s) { return 0.1 * std::pow(0.5, s / 10); }},
      {ExponentialDecay(0.1, 10, 0.5, true),
       [](double s) { return 0.1 * std::pow(0.5, std::floor(s / 10)); }},
      {InverseTimeDecay(0.2, 5, 0.3), [](double s) { return 0.2 / (1 + 0.3 * s / 5); }},
      {InverseTimeDecay(0.2, 5, 0.3, true),
       [](double s) { return 0.2 / (1 + 0.3 * std::floor(s / 5)); }},
      {PiecewiseConstantDecay({10, 20}, {1.0, 0.5, 0.1}),
       [](double s) { return s <= 10 ? 1.0 : s <= 20 ? 0.5 : 0.1; }},
      {CosineDecay(0.3, 40, 0.1), [&](double s) {
         const double c = 0.5 * (1 + std::cos(kPi * std::min(s, 40.0) / 40));
         return 0.3 * ((1 - 0.1) * c + 0.1);
       }},
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    for (double s : {0.0, 1.0, 9.0, 10.0, 11.0, 19.0, 20.0, 21.0, 33.0, 40.0, 57.0}) {
      auto g = Graph::Create();
      Tensor step = Input(g, "step", DType::kF32, Shape{});
      Tensor rate = (*cases[k].schedule)(step);
      ASSERT_TRUE(rate.ok()) << g->status();
      Buffer sb = Buffer::Scalar(DType::kF32, s);
      auto r = EvaluateTensors({rate}, {{"step", &sb}});
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_NEAR((*r)[0].GetAsDouble(0), cases[k].formula(s), 1e-6)
          << cases[k].schedule->GetConfig().dump() << " at step " << s;
    }
  }
}

TEST(OptimizerStateTest, VariablesAreNamedInKerasOrder) {
  Adam adam;
  Weight kernel{.name = "dense/kernel", .value = Buffer::Zeros(DType::kF32, Shape{2, 2})};
  Weight bias{.name = "dense/bias", .value = Buffer::Zeros(DType::kF32, Shape{2})};
  Buffer gk = Buffer::Zeros(DType::kF32, Shape{2, 2}), gb = Buffer::Zeros(DType::kF32, Shape{2});
  const Buffer* grads[] = {&gk, &gb};
  Weight* weights[] = {&kernel, &bias};
  ASSERT_TRUE(adam.Apply(grads, weights).ok());
  std::vector<std::string> names;
  for (auto& [name, buffer] : adam.Variables()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"iterations", "m/dense/kernel", "m/dense/bias",
                                             "v/dense/kernel", "v/dense/bias"}));
  EXPECT_EQ(adam.Variables()[0].second->GetAsDouble(0), 1);
}

TEST(OptimizerStateTest, ApplyAppliesConstraintsAfterTheUpdate) {
  SGD sgd({.learning_rate = 1.0});
  Weight w{.name = "w", .value = Buffer::FromVector<float>(Shape{3}, {0.5f, -0.5f, 0.0f})};
  w.constraint = [](const Tensor& x) { return Maximum(x, ScalarLike(x, 0.0)); };  // non-neg
  Buffer g = Buffer::FromVector<float>(Shape{3}, {1, -1, -2});
  const Buffer* grads[] = {&g};
  Weight* weights[] = {&w};
  ASSERT_TRUE(sgd.Apply(grads, weights).ok());
  EXPECT_EQ(w.value.GetAsDouble(0), 0.0);  // 0.5 - 1 clipped
  EXPECT_EQ(w.value.GetAsDouble(1), 0.5);
  EXPECT_EQ(w.value.GetAsDouble(2), 2.0);
}

TEST(OptimizerConfigTest, ByNameAndConfigRoundTrip) {
  auto adam = OptimizerFromName("Adam");
  ASSERT_TRUE(adam.ok());
  EXPECT_EQ((*adam)->name(), "Adam");
  EXPECT_EQ((*adam)->learning_rate(), 0.001f);
  EXPECT_EQ(OptimizerFromName("adadelta").status().message(),
            "unknown optimizer 'adadelta' (expected sgd, adam, adamw, rmsprop or adagrad)");
  RMSprop rms({.learning_rate = ExponentialDecay(0.01, 100, 0.9), .momentum = 0.5,
               .centered = true});
  nlohmann::json config = rms.GetConfig();
  auto back = OptimizerFromConfig(config);
  ASSERT_TRUE(back.ok()) << back.status() << config.dump();
  EXPECT_EQ((*back)->GetConfig(), config);
  auto keras = OptimizerFromConfig(nlohmann::json::parse(R"({"class_name": "SGD", "config": {
      "name": "SGD", "weight_decay": null, "clipnorm": null, "global_clipnorm": null,
      "clipvalue": null, "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null,
      "jit_compile": false, "is_legacy_optimizer": false, "learning_rate": 0.05,
      "momentum": 0.9, "nesterov": true}})"));
  ASSERT_TRUE(keras.ok()) << keras.status();
  EXPECT_EQ((*keras)->GetConfig()["config"]["momentum"], 0.9);
  auto bad = OptimizerFromConfig(nlohmann::json::parse(R"({"class_name": "SGD", "config": {"momentum": 2}})"));
  EXPECT_EQ(bad.status().message(), "SGD: momentum must be between [0, 1], got 2");
  auto ema = OptimizerFromConfig(nlohmann::json::parse(R"({"class_name": "Adam", "config": {"use_ema": true}})"));
  EXPECT_FALSE(ema.ok());
  EXPECT_NE(ema.status().message().find("use_ema"), std::string::npos) << ema.status();
}

TEST(OptimizerConfigTest, ApplyChecksGradients) {
  SGD sgd;
  Weight w{.name = "w", .value = Buffer::Zeros(DType::kF32, Shape{3})};
  Buffer wrong = Buffer::Zeros(DType::kF32, Shape{4});
  const Buffer* grads[] = {&wrong};
  Weight* weights[] = {&w};
  absl::Status s = sgd.Apply(grads, weights);
  EXPECT_EQ(s.message(), "[input] 'gradient/w' expects f32[3], got f32[4]");
  EXPECT_FALSE(sgd.Apply({}, weights).ok());
}

}  // namespace
}  // namespace kiln
