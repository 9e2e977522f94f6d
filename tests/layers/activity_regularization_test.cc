// ActivityRegularization (spec 2.11): the identity plus (l1·Σ|y| +
// l2·Σy²) / B per call, mask passed through, gradients, configs, errors.
#include "layers/activity_regularization.h"

#include <cmath>

#include "autodiff/gradient_check.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/layer_registry.h"
#include "nlohmann/json.hpp"
#include "tests/layers/core_layers_testing.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using testing_core::BatchInput;
using testing_core::RandomBuffer;
using testing_core::RunLayers;

TEST(ActivityRegularizationTest, IdentityWithAPerSampleL1L2Loss) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {3, 2});
  Tensor m = BatchInput(g, "m", {3}, DType::kBool);
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  auto reg = MakeLayer<ActivityRegularization>(0.01, 0.5);
  Tensor y = reg(x);
  Tensor y2 = reg(y);  // a second call adds a second loss
  ASSERT_TRUE(y2.ok()) << g->status();
  EXPECT_NE(y, x);
  EXPECT_EQ(MaskOf(y), m);
  EXPECT_EQ(MaskOf(y2), m);
  const auto& losses = g->Attachment<LayerGraphState>().activity_losses;
  ASSERT_EQ(losses.size(), 2u);
  Buffer xv = RandomBuffer(Shape{5, 3, 2}, 1);
  auto out = RunLayers({y, g->tensor(losses[0]), g->tensor(losses[1])}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  double l1 = 0, l2 = 0;
  for (int64_t i = 0; i < xv.num_elements(); ++i) {
    const double v = xv.GetAsDouble(i);
    EXPECT_EQ((*out)[0].GetAsDouble(i), v);
    l1 += std::abs(v);
    l2 += v * v;
  }
  EXPECT_NEAR((*out)[1].GetAsDouble(0), (0.01 * l1 + 0.5 * l2) / 5, 1e-5);
  EXPECT_NEAR((*out)[2].GetAsDouble(0), (0.01 * l1 + 0.5 * l2) / 5, 1e-5);
  // The loss reaches x through the layer.
  Feeds feeds = LayerFeeds(g, true);
  feeds["x"] = &xv;
  auto r = CheckGradients(g->tensor(losses[0]) + ReduceSum(y, {0, 1, 2}) * 0.0, {x}, feeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok) << r->worst;
}

TEST(ActivityRegularizationTest, DefaultsAreZeroAndFactorsMustBeFinite) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {2});
  auto reg = MakeLayer<ActivityRegularization>();
  EXPECT_EQ(reg->l1(), 0.0);
  EXPECT_EQ(reg->l2(), 0.0);
  ASSERT_TRUE(reg(x).ok());
  Tensor loss = g->tensor(g->Attachment<LayerGraphState>().activity_losses.at(0));
  Buffer xv = RandomBuffer(Shape{3, 2}, 2);
  auto out = RunLayers({loss}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].GetAsDouble(0), 0.0);
  EXPECT_TRUE(MakeLayer<ActivityRegularization>(NAN, 0.0)(x).poisoned());
  EXPECT_THAT(std::string(g->status().message()),
              HasSubstr("l1 and l2 must be finite numbers, got l1=nan, l2=0"));
}

TEST(ActivityRegularizationTest, FromConfig) {
  using nlohmann::json;
  auto layer = LayerFromKerasConfig(json::parse(
      R"({"class_name": "ActivityRegularization", "config": {"name": "ar", "trainable": true,
          "dtype": "float32", "l1": 0.25, "l2": 2}})"));
  ASSERT_TRUE(layer.ok()) << layer.status();
  auto* reg = dynamic_cast<ActivityRegularization*>(layer->get());
  EXPECT_EQ(reg->l1(), 0.25);
  EXPECT_EQ(reg->l2(), 2.0);
  EXPECT_TRUE(LayerFromKerasConfig(json::parse(
      R"({"class_name": "ActivityRegularization", "config": {"l1": null}})")).ok());
  auto bad = LayerFromKerasConfig(json::parse(
      R"({"class_name": "ActivityRegularization", "config": {"l1": "x"}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("argument 'l1' must be a number"));
}

}  // namespace
}  // namespace kiln
