// Masking (spec 2.12): keep = any(x != mask_value) over the last axis,
// y = x * keep, the mask is keep (an incoming mask is replaced); and how
// the mask travels on (spec 1.9): propagated, dropped, consumed.
#include "layers/masking.h"

#include <cmath>

#include "autodiff/grad.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/advanced_activations.h"
#include "layers/dense.h"
#include "layers/layer_registry.h"
#include "layers/reshaping.h"
#include "nlohmann/json.hpp"
#include "tests/layers/core_layers_testing.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using testing_core::BatchInput;
using testing_core::RandomBuffer;
using testing_core::RunLayers;

// [2, 4, 3] with some timesteps entirely equal to `value`.
Buffer Padded(double value) {
  Buffer b = RandomBuffer(Shape{2, 4, 3}, 1, 1, 2);
  for (int f = 0; f < 3; ++f) {
    b.SetFromDouble((0 * 4 + 3) * 3 + f, value);  // b0 t3
    b.SetFromDouble((1 * 4 + 0) * 3 + f, value);  // b1 t0
    b.SetFromDouble((1 * 4 + 2) * 3 + f, value);  // b1 t2
  }
  b.SetFromDouble((0 * 4 + 1) * 3 + 0, value);  // b0 t1: only partly masked
  return b;
}

TEST(MaskingTest, MasksTimestepsWhoseFeaturesAllEqualTheMaskValue) {
  for (double value : {0.0, -1.0}) {
    auto g = Graph::Create();
    Tensor x = BatchInput(g, "x", {4, 3});
    Tensor old = BatchInput(g, "old", {4}, DType::kBool);
    g->Attachment<LayerGraphState>().masks[x.id()] = old.id();
    auto masking = MakeLayer<Masking>(value);
    Tensor y = masking(x);
    ASSERT_TRUE(y.ok()) << g->status();
    Tensor mask = MaskOf(y);
    ASSERT_TRUE(mask.ok());
    EXPECT_NE(mask, old) << "the incoming mask is replaced";
    EXPECT_EQ(mask.dtype(), DType::kBool);
    EXPECT_EQ(mask.shape(), (Shape{Shape::kBatch, 4}));
    Buffer xv = Padded(value);
    auto out = RunLayers({y, mask}, {{"x", &xv}});
    ASSERT_TRUE(out.ok()) << out.status();
    for (int b = 0; b < 2; ++b) {
      for (int t = 0; t < 4; ++t) {
        bool keep = false;
        for (int f = 0; f < 3; ++f) keep |= xv.GetAsDouble((b * 4 + t) * 3 + f) != value;
        EXPECT_EQ((*out)[1].GetAsDouble(b * 4 + t), keep ? 1.0 : 0.0) << b << "," << t;
        for (int f = 0; f < 3; ++f) {
          const int64_t i = (b * 4 + t) * 3 + f;
          EXPECT_EQ((*out)[0].GetAsDouble(i), keep ? xv.GetAsDouble(i) : 0.0);
        }
      }
    }
    // dx = dy * keep (finite differences cannot see it: keep jumps when a
    // masked step is nudged).
    auto dx = Grad(y, {x});
    ASSERT_TRUE(dx.ok()) << dx.status();
    auto grad = RunLayers({(*dx)[0]}, {{"x", &xv}});
    ASSERT_TRUE(grad.ok()) << grad.status();
    for (int64_t i = 0; i < xv.num_elements(); ++i) {
      EXPECT_EQ((*grad)[0].GetAsDouble(i), (*out)[1].GetAsDouble(i / 3)) << i;
    }
  }
}

TEST(MaskingTest, TheMaskIsPropagatedDroppedAndConsumedDownstream) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {4, 4});
  Tensor masked = MakeLayer<Masking>()(x);
  Tensor dense = MakeLayer<Dense>(4)(masked);
  Tensor act = MakeLayer<ActivationLayer>("tanh")(dense);
  Tensor relu = MakeLayer<ReLU>()(act);
  Tensor flat = MakeLayer<Flatten>()(relu);
  ASSERT_TRUE(flat.ok()) << g->status();
  EXPECT_EQ(MaskOf(dense), MaskOf(masked));
  EXPECT_EQ(MaskOf(act), MaskOf(masked));
  EXPECT_EQ(MaskOf(relu), MaskOf(masked));
  EXPECT_FALSE(MaskOf(flat).defined());
  // Softmax over the time axis consumes it: masked steps get ~0.
  Tensor scores = MakeLayer<Masking>()(BatchInput(g, "s", {4, 1}));
  Tensor squeezed = Reshape(scores, Shape{Shape::kBatch, 4});
  g->Attachment<LayerGraphState>().masks[squeezed.id()] = MaskOf(scores).id();
  Tensor p = MakeLayer<SoftmaxLayer>()(squeezed);
  ASSERT_TRUE(p.ok()) << g->status();
  Buffer sv = testing_core::FromValues(Shape{1, 4, 1}, {1.0, 0.0, 2.0, 0.0});
  auto out = RunLayers({p}, {{"s", &sv}});
  ASSERT_TRUE(out.ok()) << out.status();
  const double z = std::exp(1.0) + std::exp(2.0);
  EXPECT_NEAR((*out)[0].GetAsDouble(0), std::exp(1.0) / z, 1e-6);
  EXPECT_NEAR((*out)[0].GetAsDouble(1), 0.0, 1e-6);
  EXPECT_NEAR((*out)[0].GetAsDouble(2), std::exp(2.0) / z, 1e-6);
  EXPECT_NEAR((*out)[0].GetAsDouble(3), 0.0, 1e-6);
}

TEST(MaskingTest, ErrorsAndConfig) {
  auto g = Graph::Create();
  Tensor s = Input(g, "s", DType::kF32, Shape{});
  EXPECT_TRUE(MakeLayer<Masking>()(s).poisoned());
  EXPECT_THAT(std::string(g->status().message()),
              HasSubstr("[masking] in layer 'masking"));
  EXPECT_THAT(std::string(g->status().message()),
              HasSubstr("expected an input of rank >= 1, got []"));
  auto g2 = Graph::Create();
  Tensor i = BatchInput(g2, "i", {3}, DType::kI32);
  EXPECT_TRUE(MakeLayer<Masking>()(i).poisoned());
  EXPECT_THAT(std::string(g2->status().message()), HasSubstr("expected a float32 input"));

  using nlohmann::json;
  auto layer = LayerFromKerasConfig(json::parse(
      R"({"class_name": "Masking", "config": {"name": "m", "trainable": true,
          "dtype": "float32", "mask_value": -1.5}})"));
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ(dynamic_cast<Masking*>(layer->get())->mask_value(), -1.5);
  EXPECT_EQ(dynamic_cast<Masking*>(LayerFromKerasConfig(json::parse(
      R"({"class_name": "Masking", "config": {}})"))->get())->mask_value(), 0.0);
  auto bad = LayerFromKerasConfig(json::parse(
      R"({"class_name": "Masking", "config": {"mask_value": [1]}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("argument 'mask_value' must be a number"));
}

}  // namespace
}  // namespace kiln
