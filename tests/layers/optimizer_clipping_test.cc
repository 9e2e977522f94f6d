// Gradient clipping (Keras 2.11+): clipnorm per gradient, global_clipnorm
// over all gradients, clipvalue per element, in that priority; through
// Apply with SGD(lr = 1) on both backends, against the formulas written
// out here, also through TrainOnBatch; configs and argument errors.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "layers/dense.h"
#include "layers/initializers.h"
#include "layers/input_layer.h"
#include "layers/model.h"
#include "layers/optimizers.h"

namespace kiln {
namespace {

// Two weights (3 and 2 elements) and their gradients; norms 5.2 and 2.5.
const std::vector<double> kGradA = {3.0, -4.0, 1.2};
const std::vector<double> kGradB = {1.5, 2.0};

double Norm(const std::vector<double>& g) {
  double s = 0;
  for (double v : g) s += v * v;
  return std::sqrt(s);
}

class ClippingTest : public ::testing::TestWithParam<Backend> {
 protected:
  // One SGD(lr = 1) step from zero weights: returns the new weights, which
  // are minus the clipped gradients.
  std::vector<std::vector<double>> Step(SGDOptions options) {
    options.learning_rate = 1.0;
    SGD sgd(options);
    EXPECT_TRUE(sgd.status().ok()) << sgd.status();
    Weight a{.name = "a", .value = Buffer::Zeros(DType::kF32, Shape{3})};
    Weight b{.name = "b", .value = Buffer::Zeros(DType::kF32, Shape{2})};
    Buffer ga(DType::kF32, Shape{3}), gb(DType::kF32, Shape{2});
    for (int i = 0; i < 3; ++i) ga.SetFromDouble(i, kGradA[i]);
    for (int i = 0; i < 2; ++i) gb.SetFromDouble(i, kGradB[i]);
    const Buffer* grads[] = {&ga, &gb};
    Weight* weights[] = {&a, &b};
    absl::Status s = sgd.Apply(grads, weights, {.backend = GetParam()});
    EXPECT_TRUE(s.ok()) << s;
    std::vector<std::vector<double>> out(2);
    for (int i = 0; i < 3; ++i) out[0].push_back(-a.value.GetAsDouble(i));
    for (int i = 0; i < 2; ++i) out[1].push_back(-b.value.GetAsDouble(i));
    return out;
  }

  void ExpectGradients(const std::vector<std::vector<double>>& got,
                       const std::vector<double>& want_a, const std::vector<double>& want_b) {
    ASSERT_EQ(got.size(), 2u);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(got[0][i], want_a[i], 1e-5) << "a[" << i << "]";
    for (int i = 0; i < 2; ++i) EXPECT_NEAR(got[1][i], want_b[i], 1e-5) << "b[" << i << "]";
  }
};

std::vector<double> Scaled(const std::vector<double>& g, double scale) {
  std::vector<double> out;
  for (double v : g) out.push_back(v * scale);
  return out;
}

TEST_P(ClippingTest, ClipnormScalesEachGradientByItsOwnNorm) {
  const double c = 3.0;  // a is scaled (5.2 > 3), b is not (2.5 < 3)
  ExpectGradients(Step({.clipnorm = c}), Scaled(kGradA, c / std::max(Norm(kGradA), c)),
                  Scaled(kGradB, c / std::max(Norm(kGradB), c)));
  // clipnorm wins over clipvalue, as in Keras.
  ExpectGradients(Step({.clipnorm = c, .clipvalue = 0.1}), Scaled(kGradA, c / Norm(kGradA)),
                  kGradB);
}

TEST_P(ClippingTest, GlobalClipnormScalesAllGradientsByTheirJointNorm) {
  const double global = std::sqrt(Norm(kGradA) * Norm(kGradA) + Norm(kGradB) * Norm(kGradB));
  const double c = 4.0;
  ExpectGradients(Step({.global_clipnorm = c}), Scaled(kGradA, c / global),
                  Scaled(kGradB, c / global));
  ExpectGradients(Step({.global_clipnorm = 100.0}), kGradA, kGradB);  // below: unchanged
}

TEST_P(ClippingTest, ClipvalueClipsEachElement) {
  auto clip = [](std::vector<double> g) {
    for (double& v : g) v = std::clamp(v, -1.6, 1.6);
    return g;
  };
  ExpectGradients(Step({.clipvalue = 1.6}), clip(kGradA), clip(kGradB));
  ExpectGradients(Step({.clipvalue = 0.0}), kGradA, kGradB);  // 0: no clipping
}

TEST_P(ClippingTest, TrainOnBatchClipsTheModelsGradients) {
  // y = x W with x = [3, 4], W = [0.5, -0.5]^T, target 0: mse gradient by W
  // is 2 (y - t) x = -x, of norm 5; clipnorm 1 scales it to -x / 5.
  ClearSession();
  Tensor in = Input({2});
  Tensor out = MakeLayer<Dense>(
      1, DenseOptions{.use_bias = false,
                      .kernel_initializer =
                          std::make_shared<class Constant>(std::vector<double>{0.5, -0.5})})(in);
  Model model(in, out);
  ASSERT_TRUE(model
                  .Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 1.0, .clipnorm = 1.0}),
                           "mse", {}, {.backend = GetParam()})
                  .ok());
  auto logs = model.TrainOnBatch(Buffer::FromVector<float>(Shape{1, 2}, {3, 4}),
                                 Buffer::FromVector<float>(Shape{1, 1}, {0}));
  ASSERT_TRUE(logs.ok()) << logs.status();
  const double y = 3 * 0.5 - 4 * 0.5, norm = 2 * std::abs(y) * 5;
  const Buffer& kernel = model.weights()[0]->value;
  EXPECT_NEAR(kernel.GetAsDouble(0), 0.5 - 2 * y * 3 / std::max(norm, 1.0), 1e-6);
  EXPECT_NEAR(kernel.GetAsDouble(1), -0.5 - 2 * y * 4 / std::max(norm, 1.0), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Backends, ClippingTest, ::testing::Values(Backend::kJit, Backend::kInterp),
                         [](const auto& info) { return std::string(BackendName(info.param)); });

TEST(ClippingConfigTest, ConfigsRoundTripAndBadArgumentsAreErrors) {
  auto adam = OptimizerFromConfig(nlohmann::json::parse(
      R"({"class_name": "Adam", "config": {"clipnorm": 1.5, "clipvalue": null}})"));
  ASSERT_TRUE(adam.ok()) << adam.status();
  EXPECT_EQ((*adam)->clipping().clipnorm, 1.5);
  EXPECT_FALSE((*adam)->clipping().clipvalue.has_value());
  nlohmann::json config = (*adam)->GetConfig();
  EXPECT_EQ(config["config"]["clipnorm"], 1.5);
  EXPECT_TRUE(config["config"]["global_clipnorm"].is_null());
  auto back = OptimizerFromConfig(config);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->GetConfig(), config);

  AdamW adamw({.global_clipnorm = 2.0});
  EXPECT_EQ(adamw.GetConfig()["config"]["global_clipnorm"], 2.0);

  auto both = OptimizerFromConfig(nlohmann::json::parse(
      R"({"class_name": "SGD", "config": {"clipnorm": 1.0, "global_clipnorm": 2.0}})"));
  EXPECT_EQ(both.status().message(),
            "SGD: at most one of clipnorm and global_clipnorm can be set, got clipnorm=1, "
            "global_clipnorm=2");
  EXPECT_EQ(RMSprop({.clipvalue = -1.0}).status().message(),
            "RMSprop: clipvalue must be >= 0, got -1");
  auto text = OptimizerFromConfig(
      nlohmann::json::parse(R"({"class_name": "Adagrad", "config": {"clipvalue": "big"}})"));
  EXPECT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("clipvalue"), std::string::npos) << text.status();
}

}  // namespace
}  // namespace kiln
