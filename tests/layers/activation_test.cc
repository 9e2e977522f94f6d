// The Activation layer (spec 2.3): f(x) by Keras name or callable, the
// mask passes through, configs and errors.
#include "layers/activation.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/layer_registry.h"
#include "nlohmann/json.hpp"
#include "tests/layers/core_layers_testing.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using testing_core::BatchInput;
using testing_core::ErrorOf;
using testing_core::RandomBuffer;
using testing_core::RunLayers;

TEST(ActivationLayerTest, AppliesTheNamedFunctionAndPassesTheMask) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {3, 4});
  Tensor m = BatchInput(g, "m", {3}, DType::kBool);
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  Tensor relu = MakeLayer<ActivationLayer>("relu")(x);
  Tensor tanh = MakeLayer<ActivationLayer>(std::string("tanh"))(x);
  Tensor softmax = MakeLayer<ActivationLayer>("softmax")(x);
  Tensor linear = MakeLayer<ActivationLayer>("linear")(x);
  Tensor custom = MakeLayer<ActivationLayer>([](const Tensor& t) { return t * t; })(x);
  ASSERT_TRUE(custom.ok()) << g->status();
  for (const Tensor& y : {relu, tanh, softmax, linear, custom}) {
    EXPECT_EQ(y.shape(), x.shape());
    EXPECT_EQ(MaskOf(y), m);
  }
  EXPECT_NE(linear, x) << "the identity still has an output node of its own";
  Buffer xv = RandomBuffer(Shape{2, 3, 4}, 1, -3, 3);
  auto out = RunLayers({relu, tanh, softmax, linear, custom}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t row = 0; row < 6; ++row) {
    double sum = 0;
    for (int k = 0; k < 4; ++k) sum += std::exp(xv.GetAsDouble(row * 4 + k));
    for (int k = 0; k < 4; ++k) {
      const int64_t i = row * 4 + k;
      const double v = xv.GetAsDouble(i);
      EXPECT_NEAR((*out)[0].GetAsDouble(i), std::max(v, 0.0), 1e-6);
      EXPECT_NEAR((*out)[1].GetAsDouble(i), std::tanh(v), 1e-5);
      EXPECT_NEAR((*out)[2].GetAsDouble(i), std::exp(v) / sum, 1e-5);
      EXPECT_EQ((*out)[3].GetAsDouble(i), v);
      EXPECT_NEAR((*out)[4].GetAsDouble(i), v * v, 1e-5);
    }
  }
}

TEST(ActivationLayerTest, Errors) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {4});
  EXPECT_TRUE(MakeLayer<ActivationLayer>("swoosh")(x).poisoned());
  EXPECT_THAT(ErrorOf(x), HasSubstr("[activation] in layer 'activation"));
  EXPECT_THAT(ErrorOf(x), HasSubstr("unknown activation function: 'swoosh'"));
  auto g2 = Graph::Create();
  Tensor v = Input(g2, "v", DType::kF32, Shape{Shape::kBatch});
  EXPECT_TRUE(MakeLayer<ActivationLayer>("softmax")(v).poisoned());
  EXPECT_THAT(ErrorOf(v), HasSubstr("cannot apply softmax to a tensor that is 1-D"));
}

TEST(ActivationLayerTest, FromConfig) {
  using nlohmann::json;
  auto layer = LayerFromKerasConfig(json::parse(
      R"({"class_name": "Activation", "config": {"name": "act", "trainable": true,
          "dtype": "float32", "activation": "sigmoid"}})"));
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ((*layer)->name(), "act");
  EXPECT_EQ(dynamic_cast<ActivationLayer*>(layer->get())->activation(), "sigmoid");
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {3});
  Tensor y = (**layer)(x);
  Buffer xv = RandomBuffer(Shape{2, 3}, 2);
  auto out = RunLayers({y}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR((*out)[0].GetAsDouble(i), 1 / (1 + std::exp(-xv.GetAsDouble(i))), 1e-6);
  }
  auto error = [](const char* text) {
    auto l = LayerFromKerasConfig(json::parse(text));
    return l.ok() ? std::string("ok") : std::string(l.status().message());
  };
  EXPECT_EQ(error(R"({"class_name": "Activation", "config": {"activation": null}})"), "ok");
  EXPECT_THAT(error(R"({"class_name": "Activation", "config": {}})"),
              HasSubstr("missing required argument 'activation'"));
  EXPECT_THAT(error(R"({"class_name": "Activation", "config": {"activation": "nope"}})"),
              HasSubstr("unknown activation function: 'nope'"));
  EXPECT_THAT(error(R"({"class_name": "Activation", "config": {"activation": 3}})"),
              HasSubstr("argument 'activation' must be an activation name or null"));
}

}  // namespace
}  // namespace kiln
