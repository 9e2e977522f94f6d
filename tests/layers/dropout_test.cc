// Dropout and SpatialDropout1D/2D/3D (spec 2.4, 2.5): identity in
// inference, inverted dropout in training with the exact Philox draws,
// statistics, seeds and steps, noise_shape sharing, masks, gradients,
// configs and errors.
#include "layers/dropout.h"

#include <cmath>

#include "autodiff/gradient_check.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/layer_registry.h"
#include "nlohmann/json.hpp"
#include "ops/philox.h"
#include "tests/layers/core_layers_testing.h"

namespace kiln {
namespace {

using testing_core::BatchInput;
using testing_core::ErrorOf;
using testing_core::RandomBuffer;
using testing_core::RunLayers;

// The uniform draw of element i of a random_uniform node (ops/philox.h).
double Uniform(int64_t seed, int64_t stream, int64_t step, int64_t i) {
  return PhiloxUnitFloat(Philox4x32x10(PhiloxBlockFor(seed, stream, step, i / 4))[i % 4]);
}

TEST(DropoutTest, IsTheIdentityInInference) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {6});
  Tensor y = MakeLayer<Dropout>(0.5)(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_NE(y, x);
  Buffer xv = RandomBuffer(Shape{4, 6}, 1);
  auto out = RunLayers({y}, {{"x", &xv}}, /*training=*/false);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t i = 0; i < xv.num_elements(); ++i) {
    EXPECT_EQ((*out)[0].GetAsDouble(i), xv.GetAsDouble(i));
  }
}

TEST(DropoutTest, TrainingKeepsWhereTheDrawIsAtLeastTheRateAndScales) {
  for (int64_t step : {0, 7}) {
    auto g = Graph::Create();
    Tensor x = BatchInput(g, "x", {3, 5});
    auto drop = MakeLayer<Dropout>(0.3, DropoutOptions{.seed = 11});
    Tensor y = drop(x);
    ASSERT_TRUE(y.ok()) << g->status();
    Buffer xv = RandomBuffer(Shape{4, 3, 5}, 2);
    auto out = RunLayers({y}, {{"x", &xv}}, /*training=*/true, step);
    ASSERT_TRUE(out.ok()) << out.status();
    int dropped = 0;
    for (int64_t i = 0; i < xv.num_elements(); ++i) {
      const bool keep = Uniform(11, 0, step, i) >= 0.3;
      dropped += !keep;
      const double expected = keep ? xv.GetAsDouble(i) * (1.0 / 0.7) : 0.0;
      EXPECT_NEAR((*out)[0].GetAsDouble(i), expected, 1e-6) << "element " << i;
    }
    EXPECT_GT(dropped, 0);
  }
}

TEST(DropoutTest, KeepFractionAndMeanMatchTheRate) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {1000});
  Tensor y = MakeLayer<Dropout>(0.25)(x);
  Buffer ones = Buffer::Zeros(DType::kF32, Shape{100, 1000});
  for (int64_t i = 0; i < ones.num_elements(); ++i) ones.SetFromDouble(i, 1.0);
  auto out = RunLayers({y}, {{"x", &ones}}, true, 3);
  ASSERT_TRUE(out.ok()) << out.status();
  const double n = ones.num_elements();
  double kept = 0, sum = 0;
  for (int64_t i = 0; i < ones.num_elements(); ++i) {
    const double v = (*out)[0].GetAsDouble(i);
    ASSERT_TRUE(v == 0.0 || std::abs(v - 1.0 / 0.75) < 1e-6) << v;
    kept += v != 0.0;
    sum += v;
  }
  const double sigma = std::sqrt(0.25 * 0.75 / n);
  EXPECT_NEAR(kept / n, 0.75, 5 * sigma);
  EXPECT_NEAR(sum / n, 1.0, 5 * sigma / 0.75);  // inverted dropout keeps the mean
}

// The outputs of Dropout(rate, seed) in training at `step`.
std::vector<double> DropoutValues(std::optional<int64_t> seed, int64_t step, const Buffer& xv) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {xv.shape().dim(1)});
  Tensor y = MakeLayer<Dropout>(0.5, DropoutOptions{.seed = seed})(x);
  auto out = RunLayers({y}, {{"x", &xv}}, true, step);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? testing_core::Values((*out)[0]) : std::vector<double>();
}

TEST(DropoutTest, ASeedReproducesTheMasksAndTheStepChangesThem) {
  Buffer xv = RandomBuffer(Shape{8, 64}, 3, 1.0, 2.0);
  EXPECT_EQ(DropoutValues(5, 0, xv), DropoutValues(5, 0, xv));
  EXPECT_NE(DropoutValues(5, 0, xv), DropoutValues(5, 1, xv));
  EXPECT_NE(DropoutValues(5, 0, xv), DropoutValues(6, 0, xv));
  // Unseeded layers get distinct seeds of their own.
  auto a = MakeLayer<Dropout>(0.5), b = MakeLayer<Dropout>(0.5);
  EXPECT_NE(a->seed(), b->seed());
  EXPECT_NE(DropoutValues(std::nullopt, 0, xv), DropoutValues(std::nullopt, 0, xv));
}

TEST(DropoutTest, EachCallOfALayerDrawsItsOwnMask) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {64});
  auto drop = MakeLayer<Dropout>(0.5, DropoutOptions{.seed = 1});
  Tensor y1 = drop(x), y2 = drop(x);
  Buffer xv = RandomBuffer(Shape{4, 64}, 4, 1.0, 2.0);
  auto out = RunLayers({y1, y2}, {{"x", &xv}}, true);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(testing_core::Values((*out)[0]), testing_core::Values((*out)[1]));
  for (int64_t i = 0; i < xv.num_elements(); ++i) {
    EXPECT_EQ((*out)[1].GetAsDouble(i) != 0.0, Uniform(1, 1, 0, i) >= 0.5) << i;
  }
}

TEST(DropoutTest, NoiseShapeSharesOneDrawAlongSizeOneAxes) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {5, 8});
  Tensor y = MakeLayer<Dropout>(
      0.5, DropoutOptions{.noise_shape = {Dropout::kNone, 1, Dropout::kNone}, .seed = 9})(x);
  ASSERT_TRUE(y.ok()) << g->status();
  Buffer xv = RandomBuffer(Shape{3, 5, 8}, 5, 1.0, 2.0);
  auto out = RunLayers({y}, {{"x", &xv}}, true, 2);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int b = 0; b < 3; ++b) {
    for (int f = 0; f < 8; ++f) {
      const bool keep = Uniform(9, 0, 2, b * 8 + f) >= 0.5;  // noise [3, 1, 8]
      for (int t = 0; t < 5; ++t) {
        const int64_t i = (b * 5 + t) * 8 + f;
        EXPECT_NEAR((*out)[0].GetAsDouble(i), keep ? 2 * xv.GetAsDouble(i) : 0.0, 1e-6);
      }
    }
  }
}

// Element (b, c, s) of an input with `spatial` positions per channel map is
// kept iff its noise cell (b, c) is.
void ExpectWholeChannels(const Buffer& x, const Buffer& y, int batch, int channels, int spatial,
                         bool channels_first) {
  int kept_maps = 0;
  for (int b = 0; b < batch; ++b) {
    for (int c = 0; c < channels; ++c) {
      int kept = 0;
      for (int s = 0; s < spatial; ++s) {
        const int64_t i = channels_first ? (b * channels + c) * spatial + s
                                         : (b * spatial + s) * channels + c;
        const double v = y.GetAsDouble(i);
        if (v != 0.0) {
          ++kept;
          EXPECT_NEAR(v, 2 * x.GetAsDouble(i), 1e-6);
        }
      }
      EXPECT_TRUE(kept == 0 || kept == spatial) << "map " << b << "," << c << ": " << kept;
      kept_maps += kept == spatial;
    }
  }
  EXPECT_GT(kept_maps, 0);
  EXPECT_LT(kept_maps, batch * channels);
}

TEST(SpatialDropoutTest, DropsWholeFeatureMaps) {
  auto g = Graph::Create();
  Tensor x1 = BatchInput(g, "x1", {6, 8});
  Tensor x2 = BatchInput(g, "x2", {3, 4, 8});
  Tensor x2f = BatchInput(g, "x2f", {8, 3, 4});
  Tensor x3 = BatchInput(g, "x3", {2, 3, 2, 8});
  Tensor x3f = BatchInput(g, "x3f", {8, 2, 3, 2});
  Tensor y1 = MakeLayer<SpatialDropout1D>(0.5)(x1);
  Tensor y2 = MakeLayer<SpatialDropout2D>(0.5)(x2);
  Tensor y2f = MakeLayer<SpatialDropout2D>(0.5, SpatialDropoutOptions{
                                                    .data_format = "channels_first"})(x2f);
  Tensor y3 = MakeLayer<SpatialDropout3D>(0.5)(x3);
  Tensor y3f = MakeLayer<SpatialDropout3D>(0.5, SpatialDropoutOptions{
                                                    .data_format = "channels_first"})(x3f);
  ASSERT_TRUE(y3f.ok()) << g->status();
  Buffer v1 = RandomBuffer(Shape{4, 6, 8}, 1, 1, 2), v2 = RandomBuffer(Shape{4, 3, 4, 8}, 2, 1, 2);
  Buffer v2f = RandomBuffer(Shape{4, 8, 3, 4}, 3, 1, 2);
  Buffer v3 = RandomBuffer(Shape{4, 2, 3, 2, 8}, 4, 1, 2);
  Buffer v3f = RandomBuffer(Shape{4, 8, 2, 3, 2}, 5, 1, 2);
  auto out = RunLayers({y1, y2, y2f, y3, y3f},
                 {{"x1", &v1}, {"x2", &v2}, {"x2f", &v2f}, {"x3", &v3}, {"x3f", &v3f}}, true);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectWholeChannels(v1, (*out)[0], 4, 8, 6, false);
  ExpectWholeChannels(v2, (*out)[1], 4, 8, 12, false);
  ExpectWholeChannels(v2f, (*out)[2], 4, 8, 12, true);
  ExpectWholeChannels(v3, (*out)[3], 4, 8, 12, false);
  ExpectWholeChannels(v3f, (*out)[4], 4, 8, 12, true);
  auto inference = RunLayers({y2}, {{"x1", &v1}, {"x2", &v2}}, false);
  ASSERT_TRUE(inference.ok()) << inference.status();
  EXPECT_EQ(testing_core::Values((*inference)[0]), testing_core::Values(v2));
}

TEST(DropoutTest, PassesTheMaskAndTheGradientIsTheScaledMask) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {4, 3});
  Tensor m = BatchInput(g, "m", {4}, DType::kBool);
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  Tensor y = MakeLayer<Dropout>(0.4, DropoutOptions{.seed = 2})(x);
  Tensor s = MakeLayer<SpatialDropout1D>(0.4)(x);
  ASSERT_TRUE(s.ok()) << g->status();
  EXPECT_EQ(MaskOf(y), m);
  EXPECT_EQ(MaskOf(s), m);
  Buffer xv = RandomBuffer(Shape{3, 4, 3}, 6);
  for (bool training : {false, true}) {
    Feeds feeds = LayerFeeds(g, training, 4);
    feeds["x"] = &xv;
    auto r = CheckGradients(y, {x}, feeds);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->ok) << r->worst;
  }
}

TEST(DropoutTest, RateZeroIsTheIdentityEvenInTraining) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {5});
  Tensor y = MakeLayer<Dropout>(0.0)(x);
  Buffer xv = RandomBuffer(Shape{2, 5}, 7);
  auto out = RunLayers({y}, {{"x", &xv}}, true);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(testing_core::Values((*out)[0]), testing_core::Values(xv));
}

// The error a layer gives when called on an input of `dims` (batch first).
template <typename T, typename... Args>
std::string CallError(std::vector<int64_t> dims, Args&&... args) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", std::move(dims));
  Tensor y = MakeLayer<T>(std::forward<Args>(args)...)(x);
  EXPECT_TRUE(y.poisoned());
  return ErrorOf(x);
}

TEST(DropoutTest, Errors) {
  using ::testing::HasSubstr;
  EXPECT_THAT(CallError<Dropout>({4}, 1.5), HasSubstr("expected a float value between 0 and 1, "
                                                      "got rate=1.5"));
  EXPECT_THAT(CallError<Dropout>({4}, -0.1), HasSubstr("got rate=-0.1"));
  EXPECT_THAT(CallError<Dropout>({4}, 1.0), HasSubstr("rate must be in [0, 1) to run, got 1"));
  EXPECT_THAT(CallError<Dropout>({4}, 0.5, DropoutOptions{.noise_shape = {-2, 4}}),
              HasSubstr("noise_shape (-2, 4) has a negative size"));
  EXPECT_THAT(CallError<Dropout>({4}, 0.5, DropoutOptions{.noise_shape = {1, 4, 1}}),
              HasSubstr("noise_shape (1, 4, 1) has 3 entries but the input [N,4] has rank 2"));
  EXPECT_THAT(CallError<Dropout>({4}, 0.5, DropoutOptions{.noise_shape = {Dropout::kNone, 3}}),
              HasSubstr("noise_shape (None, 3) does not broadcast to the input shape [N,4]"));
  EXPECT_THAT(CallError<Dropout>({4}, 0.5, DropoutOptions{.noise_shape = {32, 4}}),
              HasSubstr("the batch size is not known when the graph is built"));
  EXPECT_THAT(CallError<SpatialDropout1D>({4}, 0.5),
              HasSubstr("[spatial_dropout1d] in layer 'spatial_dropout1d"));
  EXPECT_THAT(CallError<SpatialDropout1D>({4}, 0.5), HasSubstr("expected ndim=3, found ndim=2"));
  EXPECT_THAT(CallError<SpatialDropout2D>({4, 4}, 0.5), HasSubstr("expected ndim=4, found ndim=3"));
  EXPECT_THAT(CallError<SpatialDropout3D>({4, 4, 4}, 0.5),
              HasSubstr("expected ndim=5, found ndim=4"));
  // Not lower-cased, unlike Flatten and the conv layers.
  EXPECT_THAT(CallError<SpatialDropout2D>({2, 2, 2}, 0.5,
                                          SpatialDropoutOptions{.data_format = "Channels_Last"}),
              HasSubstr("data_format must be 'channels_last' or 'channels_first', got "
                        "'Channels_Last'"));
  EXPECT_THAT(CallError<SpatialDropout1D>({2, 2}, 0.5,
                                          SpatialDropoutOptions{.data_format = "channels_last"}),
              HasSubstr("SpatialDropout1D takes no data_format"));
}

TEST(DropoutTest, FromConfig) {
  using nlohmann::json;
  auto layer = LayerFromKerasConfig(json::parse(R"({"class_name": "Dropout", "config":
      {"name": "drop", "trainable": true, "dtype": "float32", "rate": 0.5,
       "noise_shape": [null, 1, null], "seed": 9}})"));
  ASSERT_TRUE(layer.ok()) << layer.status();
  auto* drop = dynamic_cast<Dropout*>(layer->get());
  ASSERT_NE(drop, nullptr);
  EXPECT_EQ(drop->name(), "drop");
  EXPECT_EQ(drop->rate(), 0.5);
  EXPECT_EQ(drop->seed(), 9);
  // It behaves like the C++-built layer: shared along axis 1, seed 9.
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {5, 8});
  Tensor y = (**layer)(x);
  Tensor ref = MakeLayer<Dropout>(
      0.5, DropoutOptions{.noise_shape = {Dropout::kNone, 1, Dropout::kNone}, .seed = 9})(x);
  Buffer xv = RandomBuffer(Shape{3, 5, 8}, 8);
  auto out = RunLayers({y, ref}, {{"x", &xv}}, true);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(testing_core::Values((*out)[0]), testing_core::Values((*out)[1]));

  auto spatial = LayerFromKerasConfig(json::parse(R"({"class_name": "SpatialDropout2D",
      "config": {"name": "sd", "rate": 0.1, "noise_shape": null, "seed": null,
                 "data_format": "channels_first"}})"));
  ASSERT_TRUE(spatial.ok()) << spatial.status();
  EXPECT_TRUE(dynamic_cast<SpatialDropout2D*>(spatial->get())->channels_first());
  EXPECT_TRUE(LayerFromKerasConfig(json::parse(
      R"({"class_name": "SpatialDropout1D", "config": {"rate": 0.2}})")).ok());
  EXPECT_TRUE(LayerFromKerasConfig(json::parse(
      R"({"class_name": "SpatialDropout3D", "config": {"rate": 0.2, "data_format": null}})")).ok());

  auto error = [](const char* text) {
    auto l = LayerFromKerasConfig(json::parse(text));
    return l.ok() ? std::string("ok") : std::string(l.status().message());
  };
  using ::testing::HasSubstr;
  EXPECT_THAT(error(R"({"class_name": "Dropout", "config": {}})"),
              HasSubstr("missing required argument 'rate'"));
  EXPECT_THAT(error(R"({"class_name": "Dropout", "config": {"rate": "half"}})"),
              HasSubstr("argument 'rate' must be a number"));
  EXPECT_THAT(error(R"({"class_name": "Dropout", "config": {"rate": 2}})"),
              HasSubstr("got rate=2"));
  EXPECT_THAT(error(R"({"class_name": "Dropout", "config": {"rate": 0.1, "noise_shape": 3}})"),
              HasSubstr("argument 'noise_shape' must be null or a list"));
  EXPECT_THAT(error(R"({"class_name": "Dropout", "config": {"rate": 0.1, "seed": 1.5}})"),
              HasSubstr("argument 'seed' must be an integer or null"));
  EXPECT_THAT(error(R"({"class_name": "Dropout", "config": {"rate": 0.1, "data_format": null}})"),
              HasSubstr("unexpected argument 'data_format'"));
  EXPECT_THAT(error(R"({"class_name": "SpatialDropout2D",
                        "config": {"rate": 0.1, "data_format": "NHWC"}})"),
              HasSubstr("data_format must be 'channels_last' or 'channels_first', got 'NHWC'"));
}

}  // namespace
}  // namespace kiln
