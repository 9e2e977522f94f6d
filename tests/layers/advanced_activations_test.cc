// LeakyReLU, PReLU, ELU, ThresholdedReLU, ReLU and Softmax (spec 2.19):
// values against the spec's formulas, PReLU's weight shape, sharing and
// gradients, Softmax's mask, masks passed through, configs and errors.
#include "layers/advanced_activations.h"

#include <cmath>
#include <functional>

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
using testing_core::ErrorOf;
using testing_core::RandomBuffer;
using testing_core::RunLayers;

// Runs `layer` on a [2, 3, 4] input in [-3, 3) (with exact 0 and 1 and
// the threshold values among them) and compares with f elementwise.
template <typename T>
void ExpectElementwise(LayerHandle<T> layer, const std::function<double(double)>& f) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {3, 4});
  Tensor m = BatchInput(g, "m", {3}, DType::kBool);
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  Tensor y = layer(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_EQ(MaskOf(y), m);
  Buffer xv = RandomBuffer(Shape{2, 3, 4}, 1, -3, 3);
  const double specials[] = {0.0, 1.0, 0.5, -0.5, 2.0, 6.0, 7.5, -2.0};
  for (int i = 0; i < 8; ++i) xv.SetFromDouble(i, specials[i]);
  auto out = RunLayers({y}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t i = 0; i < xv.num_elements(); ++i) {
    EXPECT_NEAR((*out)[0].GetAsDouble(i), f(xv.GetAsDouble(i)), 1e-5)
        << layer->name() << " at x = " << xv.GetAsDouble(i);
  }
}

TEST(AdvancedActivationsTest, ElementwiseFormulas) {
  ExpectElementwise(MakeLayer<LeakyReLU>(), [](double x) { return x > 0 ? x : 0.3 * x; });
  ExpectElementwise(MakeLayer<LeakyReLU>(0.1), [](double x) { return x > 0 ? x : 0.1 * x; });
  ExpectElementwise(MakeLayer<ELU>(), [](double x) { return x > 0 ? x : std::expm1(x); });
  ExpectElementwise(MakeLayer<ELU>(0.5), [](double x) { return x > 0 ? x : 0.5 * std::expm1(x); });
  ExpectElementwise(MakeLayer<ThresholdedReLU>(), [](double x) { return x > 1.0 ? x : 0.0; });
  ExpectElementwise(MakeLayer<ThresholdedReLU>(0.5), [](double x) { return x > 0.5 ? x : 0.0; });
  ExpectElementwise(MakeLayer<ReLU>(), [](double x) { return std::max(x, 0.0); });
  ExpectElementwise(MakeLayer<ReLU>(ReLUOptions{.max_value = 6.0}),
                    [](double x) { return std::min(std::max(x, 0.0), 6.0); });
  ExpectElementwise(MakeLayer<ReLU>(ReLUOptions{.negative_slope = 0.2}),
                    [](double x) { return x > 0 ? x : 0.2 * x; });
  // The spec's exact form: min(x, max) if x > thr, else ns * (x - thr).
  for (double thr : {0.0, 0.5, 2.0}) {
    for (std::optional<double> max : {std::optional<double>(), std::optional<double>(1.5)}) {
      for (double ns : {0.0, 0.25}) {
        ExpectElementwise(
            MakeLayer<ReLU>(ReLUOptions{.max_value = max, .negative_slope = ns, .threshold = thr}),
            [=](double x) {
              return x > thr ? (max ? std::min(x, *max) : x) : ns * (x - thr);
            });
      }
    }
  }
}

TEST(AdvancedActivationsTest, GradientsMatchFiniteDifferences) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {6});
  std::vector<Tensor> ys = {
      MakeLayer<LeakyReLU>(0.2)(x), MakeLayer<ELU>(0.7)(x), MakeLayer<ThresholdedReLU>(0.3)(x),
      MakeLayer<ReLU>(ReLUOptions{.max_value = 0.6, .negative_slope = 0.1, .threshold = 0.2})(x),
      MakeLayer<SoftmaxLayer>()(x)};
  Buffer xv = testing_core::FromValues(Shape{2, 6},
                                       {-0.9, -0.35, 0.1, 0.45, 0.8, 1.3, 0.9, -0.6, 0.05, 0.35,
                                        -0.15, 0.7});  // away from the kinks
  Feeds feeds = LayerFeeds(g, false);
  feeds["x"] = &xv;
  for (const Tensor& y : ys) {
    ASSERT_TRUE(y.ok()) << g->status();
    auto r = CheckGradients(y, {x}, feeds);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->ok) << r->worst;
  }
}

TEST(PReLUTest, LearnsOneSlopePerUnsharedPosition) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {3, 2, 4});
  Tensor m = BatchInput(g, "m", {3, 2}, DType::kBool);
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  auto prelu = MakeLayer<PReLU>(PReLUOptions{.shared_axes = {1, 2}});
  Tensor y = prelu(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(MaskOf(y), m);
  ASSERT_EQ(prelu->weights().size(), 1u);
  EXPECT_EQ(prelu->weights()[0].name, prelu->name() + "/alpha");
  EXPECT_EQ(prelu->weights()[0].value.shape(), (Shape{1, 1, 4}));
  EXPECT_EQ(testing_core::Values(prelu->weights()[0].value), (std::vector<double>(4, 0.0)));
  prelu->weights()[0].value = RandomBuffer(Shape{1, 1, 4}, 9, 0.1, 0.9);
  const Buffer& alpha = prelu->weights()[0].value;
  Buffer xv = RandomBuffer(Shape{2, 3, 2, 4}, 2);
  auto out = RunLayers({y}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t i = 0; i < xv.num_elements(); ++i) {
    const double v = xv.GetAsDouble(i), a = alpha.GetAsDouble(i % 4);
    EXPECT_NEAR((*out)[0].GetAsDouble(i), std::max(v, 0.0) - a * std::max(-v, 0.0), 1e-6);
  }
  Feeds feeds = LayerFeeds(g, false);
  feeds["x"] = &xv;
  const Tensor alpha_var = g->tensor(g->Attachment<LayerGraphState>().variables.at(
      prelu->weights()[0].name));
  auto r = CheckGradients(y, {x, alpha_var}, feeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok) << r->worst;
}

TEST(PReLUTest, WeightShapesInitializerRegularizerAndErrors) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {3, 5});
  auto full = MakeLayer<PReLU>(PReLUOptions{.alpha_initializer = std::make_shared<class Constant>(0.25),
                                            .alpha_regularizer = L1(0.5)});
  auto one = MakeLayer<PReLU>(PReLUOptions{.shared_axes = {2}});
  ASSERT_TRUE(full(x).ok() && one(x).ok()) << g->status();
  EXPECT_EQ(full->weights()[0].value.shape(), (Shape{3, 5}));
  EXPECT_EQ(testing_core::Values(full->weights()[0].value), std::vector<double>(15, 0.25));
  ASSERT_TRUE(full->weights()[0].regularizer);
  EXPECT_EQ(one->weights()[0].value.shape(), (Shape{3, 1}));
  // Later calls must match the built shape except on shared axes.
  EXPECT_TRUE(one(BatchInput(g, "x2", {3, 7})).ok()) << g->status();
  EXPECT_TRUE(one(BatchInput(g, "x3", {4, 5})).poisoned());
  EXPECT_THAT(std::string(g->status().message()),
              HasSubstr("built for inputs of shape [N,3,5] (shared axes may differ), got "
                        "[N,4,5]"));
  for (int axis : {0, 3}) {
    auto g2 = Graph::Create();
    Tensor x2 = BatchInput(g2, "x", {3, 5});
    EXPECT_TRUE(MakeLayer<PReLU>(PReLUOptions{.shared_axes = {axis}})(x2).poisoned());
    EXPECT_THAT(ErrorOf(x2), HasSubstr("out of range for the input shape [N,3,5] (axes 1..2"));
  }
}

TEST(SoftmaxLayerTest, OneAxisSeveralAxesAndAMask) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {3, 4});
  Tensor m = BatchInput(g, "m", {3, 4}, DType::kBool);
  Tensor xm = Reshape(x, x.shape());
  g->Attachment<LayerGraphState>().masks[xm.id()] = m.id();
  Tensor last = MakeLayer<SoftmaxLayer>()(x);
  Tensor first = MakeLayer<SoftmaxLayer>(1)(x);
  Tensor both = MakeLayer<SoftmaxLayer>(std::vector<int>{1, 2})(x);
  Tensor masked = MakeLayer<SoftmaxLayer>()(xm);
  ASSERT_TRUE(masked.ok()) << g->status();
  EXPECT_EQ(MaskOf(masked), m) << "Softmax also passes its mask on";
  Buffer xv = RandomBuffer(Shape{2, 3, 4}, 3, -2, 2);
  Buffer mv(DType::kBool, Shape{2, 3, 4});
  for (int64_t i = 0; i < 24; ++i) mv.SetFromDouble(i, (i * 7) % 3 != 0);
  auto out = RunLayers({last, first, both, masked}, {{"x", &xv}, {"m", &mv}});
  ASSERT_TRUE(out.ok()) << out.status();
  auto at = [&](int n, int i, int j) { return xv.GetAsDouble((n * 3 + i) * 4 + j); };
  for (int n = 0; n < 2; ++n) {
    double total = 0;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 4; ++j) total += std::exp(at(n, i, j));
    }
    for (int i = 0; i < 3; ++i) {
      double row = 0, masked_row = 0;
      for (int j = 0; j < 4; ++j) {
        row += std::exp(at(n, i, j));
        masked_row += mv.GetAsDouble((n * 3 + i) * 4 + j) ? std::exp(at(n, i, j)) : 0.0;
      }
      for (int j = 0; j < 4; ++j) {
        double col = 0;
        for (int k = 0; k < 3; ++k) col += std::exp(at(n, k, j));
        const int64_t idx = (n * 3 + i) * 4 + j;
        const double e = std::exp(at(n, i, j));
        EXPECT_NEAR((*out)[0].GetAsDouble(idx), e / row, 1e-6);
        EXPECT_NEAR((*out)[1].GetAsDouble(idx), e / col, 1e-6);
        EXPECT_NEAR((*out)[2].GetAsDouble(idx), e / total, 1e-6);
        EXPECT_NEAR((*out)[3].GetAsDouble(idx), mv.GetAsDouble(idx) ? e / masked_row : 0.0,
                    1e-6);
      }
    }
  }
}

std::string ConstructionError(std::function<Tensor(const Tensor&)> call) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {4});
  EXPECT_TRUE(call(x).poisoned());
  return ErrorOf(x);
}

TEST(AdvancedActivationsTest, ArgumentErrors) {
  EXPECT_THAT(ConstructionError([](const Tensor& x) { return MakeLayer<ThresholdedReLU>(-1)(x); }),
              HasSubstr("[thresholded_re_lu] in layer 'thresholded_re_lu"));
  EXPECT_THAT(ConstructionError([](const Tensor& x) { return MakeLayer<ThresholdedReLU>(-1)(x); }),
              HasSubstr("theta must be >= 0, got -1"));
  EXPECT_THAT(ConstructionError([](const Tensor& x) {
                return MakeLayer<ReLU>(ReLUOptions{.max_value = -1.0})(x);
              }),
              HasSubstr("max_value of a ReLU layer must be >= 0, got -1"));
  EXPECT_THAT(ConstructionError([](const Tensor& x) {
                return MakeLayer<ReLU>(ReLUOptions{.negative_slope = -0.5})(x);
              }),
              HasSubstr("negative_slope of a ReLU layer must be >= 0, got -0.5"));
  EXPECT_THAT(ConstructionError([](const Tensor& x) {
                return MakeLayer<ReLU>(ReLUOptions{.threshold = -2})(x);
              }),
              HasSubstr("threshold of a ReLU layer must be >= 0, got -2"));
  EXPECT_THAT(ConstructionError([](const Tensor& x) { return MakeLayer<LeakyReLU>(NAN)(x); }),
              HasSubstr("alpha must be a number"));
  EXPECT_THAT(ConstructionError([](const Tensor& x) { return MakeLayer<SoftmaxLayer>(2)(x); }),
              HasSubstr("axis 2 is out of range for an input of shape [N,4]"));
  EXPECT_THAT(ConstructionError([](const Tensor& x) {
                return MakeLayer<SoftmaxLayer>(std::vector<int>{})(x);
              }),
              HasSubstr("axis must name at least one axis"));
  auto g = Graph::Create();
  Tensor i = BatchInput(g, "i", {4}, DType::kI32);
  EXPECT_TRUE(MakeLayer<ELU>()(i).poisoned());
  EXPECT_THAT(ErrorOf(i), HasSubstr("expected a float32 input, got i32[N,4]"));
}

std::string ConfigError(const nlohmann::json& j) {
  auto l = LayerFromKerasConfig(j);
  return l.ok() ? std::string("ok") : std::string(l.status().message());
}

TEST(AdvancedActivationsTest, FromConfig) {
  using nlohmann::json;
  auto get = [](const char* text) {
    auto l = LayerFromKerasConfig(json::parse(text));
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *l : nullptr;
  };
  auto leaky = get(R"({"class_name": "LeakyReLU", "config": {"name": "l", "trainable": true,
                       "dtype": "float32", "alpha": 0.05}})");
  EXPECT_EQ(dynamic_cast<LeakyReLU*>(leaky.get())->alpha(), 0.05);
  EXPECT_EQ(dynamic_cast<LeakyReLU*>(get(R"({"class_name": "LeakyReLU", "config":
      {"negative_slope": 0.2}})").get())->alpha(), 0.2);
  EXPECT_EQ(dynamic_cast<ELU*>(get(R"({"class_name": "ELU", "config": {}})").get())->alpha(), 1.0);
  EXPECT_EQ(dynamic_cast<ThresholdedReLU*>(get(R"({"class_name": "ThresholdedReLU",
      "config": {"theta": 0.5}})").get())->theta(), 0.5);
  auto relu = get(R"({"class_name": "ReLU", "config": {"max_value": 6.0, "negative_slope": 0.1,
                      "threshold": 0.5}})");
  const ReLUOptions& o = dynamic_cast<ReLU*>(relu.get())->options();
  EXPECT_EQ(o.max_value, 6.0);
  EXPECT_EQ(o.negative_slope, 0.1);
  EXPECT_EQ(o.threshold, 0.5);
  EXPECT_FALSE(dynamic_cast<ReLU*>(get(R"({"class_name": "ReLU", "config":
      {"max_value": null}})").get())->options().max_value.has_value());
  EXPECT_EQ(dynamic_cast<SoftmaxLayer*>(get(R"({"class_name": "Softmax", "config":
      {"axis": [1, 2]}})").get())->axes(), (std::vector<int>{1, 2}));
  EXPECT_EQ(dynamic_cast<SoftmaxLayer*>(get(R"({"class_name": "Softmax", "config":
      {"axis": -1}})").get())->axes(), (std::vector<int>{-1}));
  auto prelu = get(R"({"class_name": "PReLU", "config": {"name": "p",
      "alpha_initializer": {"class_name": "Constant", "config": {"value": 0.5}},
      "alpha_regularizer": {"class_name": "L2", "config": {"l2": 0.1}},
      "alpha_constraint": {"class_name": "NonNeg", "config": {}}, "shared_axes": 1}})");
  auto g = Graph::Create();
  ASSERT_TRUE((*prelu)(BatchInput(g, "x", {3, 2})).ok()) << g->status();
  const Weight& alpha = prelu->weights()[0];
  EXPECT_EQ(alpha.name, "p/alpha");
  EXPECT_EQ(alpha.value.shape(), (Shape{1, 2}));
  EXPECT_EQ(testing_core::Values(alpha.value), (std::vector<double>{0.5, 0.5}));
  EXPECT_TRUE(alpha.regularizer);
  EXPECT_TRUE(alpha.constraint);

  EXPECT_THAT(ConfigError(json::parse(R"({"class_name": "LeakyReLU", "config": {"alpha": null}})")),
              HasSubstr("argument 'alpha' cannot be None"));
  EXPECT_THAT(ConfigError(json::parse(R"({"class_name": "ELU", "config": {"alpha": null}})")),
              HasSubstr("argument 'alpha' cannot be None"));
  EXPECT_THAT(ConfigError(json::parse(
                  R"({"class_name": "ThresholdedReLU", "config": {"theta": null}})")),
              HasSubstr("argument 'theta' cannot be None"));
  EXPECT_THAT(ConfigError(json::parse(
                  R"({"class_name": "ThresholdedReLU", "config": {"theta": -0.5}})")),
              HasSubstr("theta must be >= 0, got -0.5"));
  EXPECT_THAT(ConfigError(json::parse(
                  R"({"class_name": "ReLU", "config": {"negative_slope": null}})")),
              HasSubstr("argument 'negative_slope' cannot be None"));
  EXPECT_THAT(ConfigError(json::parse(R"({"class_name": "ReLU", "config": {"threshold": null}})")),
              HasSubstr("argument 'threshold' cannot be None"));
  EXPECT_THAT(ConfigError(json::parse(R"({"class_name": "ReLU", "config": {"max_value": -3}})")),
              HasSubstr("max_value of a ReLU layer must be >= 0, got -3"));
  EXPECT_THAT(ConfigError(json::parse(
                  R"({"class_name": "PReLU", "config": {"shared_axes": [1, "2"]}})")),
              HasSubstr("argument 'shared_axes' must be an int or a list of ints"));
  EXPECT_THAT(ConfigError(json::parse(
                  R"({"class_name": "PReLU", "config": {"alpha_initializer": "nope"}})")),
              HasSubstr("nope"));
  EXPECT_THAT(ConfigError(json::parse(R"({"class_name": "Softmax", "config": {"axis": 1.5}})")),
              HasSubstr("argument 'axis' must be an int or a list of ints"));
}

}  // namespace
}  // namespace kiln
