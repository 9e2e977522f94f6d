// MaxPooling1D and MaxPooling2D against the spec (2.17) in plain loops:
// strides defaulting to pool_size, valid and same (asymmetric, padded cells
// never win), both data formats; the gradient to the first maximum; dropped
// masks; configs and errors.
#include "layers/max_pooling.h"

#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "autodiff/grad.h"
#include "autodiff/gradient_check.h"
#include "gtest/gtest.h"
#include "layers/layer_registry.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"
#include "tests/layers/conv_test_util.h"

namespace kiln {
namespace {

struct PoolCase {
  std::string label;
  int rank;
  int64_t h, w, c;
  IntList pool;
  std::optional<IntList> strides;
  std::string padding;
  bool channels_first;
};
void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.label; }

std::vector<double> ReferencePool(const PoolCase& t, int64_t batch, const Buffer& x,
                                  int64_t* oh_out, int64_t* ow_out) {
  const IntList strides = t.strides.value_or(t.pool);
  const int64_t H = t.rank == 1 ? 1 : t.h, W = t.w, C = t.c;
  const int64_t ph = t.rank == 1 ? 1 : t.pool[0], pw = t.pool.back();
  const int64_t sh = t.rank == 1 ? 1 : strides[0], sw = strides.back();
  const int64_t oh = RefOutputLength(H, ph, sh, 1, t.padding);
  const int64_t ow = RefOutputLength(W, pw, sw, 1, t.padding);
  const int64_t bh = RefPadBefore(H, ph, sh, 1, t.padding),
                bw = RefPadBefore(W, pw, sw, 1, t.padding);
  *oh_out = oh;
  *ow_out = ow;
  std::vector<double> y(batch * oh * ow * C);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        for (int64_t c = 0; c < C; ++c) {
          double best = -std::numeric_limits<double>::infinity();
          for (int64_t u = 0; u < ph; ++u) {
            for (int64_t v = 0; v < pw; ++v) {
              const int64_t hi = i * sh + u - bh, wi = j * sw + v - bw;
              if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;  // only real cells
              best =
                  std::max(best, x.GetAsDouble(t.channels_first ? ((b * C + c) * H + hi) * W + wi
                                                                : ((b * H + hi) * W + wi) * C + c));
            }
          }
          y[t.channels_first ? ((b * C + c) * oh + i) * ow + j : ((b * oh + i) * ow + j) * C + c] =
              best;
        }
      }
    }
  }
  return y;
}

Shape InputShape(const PoolCase& t, int64_t batch) {
  std::vector<int64_t> dims{batch};
  if (t.channels_first) dims.push_back(t.c);
  if (t.rank == 2) dims.push_back(t.h);
  dims.push_back(t.w);
  if (!t.channels_first) dims.push_back(t.c);
  return Shape(dims);
}

std::shared_ptr<MaxPooling> MakePool(const PoolCase& t) {
  MaxPoolingOptions o{.strides = t.strides,
                      .padding = t.padding,
                      .data_format = t.channels_first ? "channels_first" : ""};
  if (t.rank == 1) return std::make_shared<MaxPooling1D>(t.pool, o);
  return std::make_shared<MaxPooling2D>(t.pool, o);
}

class MaxPoolingForwardTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(MaxPoolingForwardTest, MatchesTheSpec) {
  const PoolCase& t = GetParam();
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, InputShape(t, Shape::kBatch));
  Tensor y = (*MakePool(t))(x);
  ASSERT_TRUE(y.ok()) << g->status();
  Buffer xv = ConvTestRandom(InputShape(t, 2), 6);
  int64_t oh = 0, ow = 0;
  std::vector<double> want = ReferencePool(t, 2, xv, &oh, &ow);
  std::vector<int64_t> out{Shape::kBatch};
  if (t.channels_first) out.push_back(t.c);
  if (t.rank == 2) out.push_back(oh);
  out.push_back(ow);
  if (!t.channels_first) out.push_back(t.c);
  EXPECT_EQ(y.shape(), Shape(out));
  ExpectValuesNear(RunOnBothBackends(y, {{"x", &xv}}), want, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MaxPoolingForwardTest,
    ::testing::Values(
        PoolCase{"p2d_default_floor", 2, 5, 7, 3, {2, 2}, std::nullopt, "valid", false},
        PoolCase{"p2d_overlapping", 2, 5, 6, 2, {3, 2}, IntList{1}, "valid", false},
        // h: n=7, p=3, s=2 -> out 4, pad_total 2; w: n=5, p=2, s=3 -> out 2, 1 after.
        PoolCase{"p2d_same_asymmetric", 2, 7, 5, 2, {3, 2}, IntList{2, 3}, "Same", false},
        PoolCase{"p2d_cf_same", 2, 6, 7, 3, {2, 3}, std::nullopt, "same", true},
        PoolCase{"p2d_cf_valid_strided", 2, 7, 7, 2, {3, 3}, IntList{2, 1}, "valid", true},
        PoolCase{"p1d_default", 1, 1, 9, 2, {2}, std::nullopt, "valid", false},
        // The spec's example: n=5, p=2, s=2 -> 3 outputs, the last one x[4].
        PoolCase{"p1d_same_spec_example", 1, 1, 5, 1, {2}, std::nullopt, "same", false},
        PoolCase{"p1d_cf_same", 1, 1, 8, 3, {3}, IntList{2}, "same", true}),
    [](const auto& info) { return info.param.label; });

TEST(MaxPoolingTest, GradientGoesToTheFirstMaximum) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{1, 2, 4, 1});
  Tensor y = MakeLayer<MaxPooling2D>()(x);
  ASSERT_TRUE(y.ok()) << g->status();
  auto grads = Grad(ReduceSum(y, {0, 1, 2, 3}), {x});
  ASSERT_TRUE(grads.ok()) << grads.status();
  // Window 0: all equal -> the first (row-major) cell; window 1: a tie
  // between (0, 3) and (1, 2) -> (0, 3).
  Buffer xv = Buffer::FromVector<float>(Shape{1, 2, 4, 1}, {1, 1, 0, 5, 1, 1, 5, 2});
  Feeds feeds = LayerFeeds(g, false);
  feeds["x"] = &xv;
  auto out = EvaluateTensors({(*grads)[0]}, feeds);
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<double> want{1, 0, 0, 1, 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) EXPECT_EQ((*out)[0].GetAsDouble(i), want[i]) << i;
}

TEST(MaxPoolingTest, GradientsMatchFiniteDifferences) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3, 7, 5});
  Tensor y =
      MakeLayer<MaxPooling2D>(IntList{2, 3}, MaxPoolingOptions{.strides = IntList{1, 2},
                                                               .padding = "same",
                                                               .data_format = "channels_first"})(x);
  ASSERT_TRUE(y.ok()) << g->status();
  // Distinct values, so no finite-difference step flips a maximum.
  Buffer xv(DType::kF32, Shape{2, 3, 7, 5});
  for (int64_t i = 0; i < xv.num_elements(); ++i) xv.SetFromDouble(i, ((i * 37) % 211) * 0.01);
  Feeds feeds = LayerFeeds(g, false);
  feeds["x"] = &xv;
  auto r = CheckGradients(y, {x}, feeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok) << r->worst;
}

TEST(MaxPoolingTest, DropsTheMaskAndHasNoWeights) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 6, 2});
  Tensor m = Input(g, "m", DType::kBool, Shape{Shape::kBatch, 6});
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  auto pool = MakeLayer<MaxPooling1D>();
  Tensor y = pool(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_FALSE(MaskOf(y).defined());
  EXPECT_TRUE(pool->weights().empty());
  EXPECT_EQ(pool->name().substr(0, 13), "max_pooling1d");
}

absl::StatusOr<std::shared_ptr<Layer>> FromJson(const std::string& class_name,
                                                const std::string& config) {
  return LayerFromKerasConfig(
      nlohmann::json{{"class_name", class_name}, {"config", nlohmann::json::parse(config)}});
}

TEST(MaxPoolingTest, ReadsTfKerasConfigs) {
  auto p2 = FromJson("MaxPooling2D", R"({"name": "pool", "trainable": true,
      "dtype": "float32", "pool_size": [3, 2], "padding": "same", "strides": [2, 2],
      "data_format": "channels_last"})");
  ASSERT_TRUE(p2.ok()) << p2.status();
  auto* pool = dynamic_cast<MaxPooling2D*>(p2->get());
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->name(), "pool");
  EXPECT_EQ(pool->pool_size(), (IntList{3, 2}));
  EXPECT_EQ(pool->strides(), (IntList{2, 2}));
  EXPECT_EQ(pool->padding(), Padding::kSame);
  auto p1 = FromJson("MaxPooling1D", R"({"pool_size": 3, "strides": null,
                                         "data_format": "channels_first"})");
  ASSERT_TRUE(p1.ok()) << p1.status();
  auto* pool1 = dynamic_cast<MaxPooling1D*>(p1->get());
  ASSERT_NE(pool1, nullptr);
  EXPECT_EQ(pool1->strides(), (IntList{3}));
  EXPECT_EQ(pool1->data_format(), DataFormat::kChannelsFirst);
}

TEST(MaxPoolingTest, BadArgumentsAndInputs) {
  const std::pair<std::string, std::string> bad[] = {
      {R"({"pool_size": [2, 0]})",
       "The `pool_size` argument must be a tuple of 2 integers. "
       "Received: (2, 0) including {0}"},
      {R"({"pool_size": [2, 2, 2]})", "must be a tuple of 2 integers"},
      {R"({"strides": [1, -1]})", "requirement `>= 0`"},
      {R"({"strides": [0, 1]})", "The argument `strides` cannot contain 0(s)"},
      {R"({"padding": "causal"})", "Invalid padding 'causal' for MaxPooling2D"},
      {R"({"padding": "full"})", "The `padding` argument must be one of"},
      {R"({"data_format": "nchw"})", "The `data_format` argument must be one of"},
      {R"({"border_mode": "same"})", "unexpected argument 'border_mode'"},
  };
  for (const auto& [config, message] : bad) {
    auto layer = FromJson("MaxPooling2D", config);
    ASSERT_FALSE(layer.ok()) << config;
    EXPECT_NE(std::string(layer.status().message()).find(message), std::string::npos)
        << layer.status();
  }
  auto g = Graph::Create();
  EXPECT_TRUE(
      MakeLayer<MaxPooling2D>()(Input(g, "a", DType::kF32, Shape{Shape::kBatch, 4, 4})).poisoned());
  EXPECT_NE(std::string(g->status().message()).find("expected ndim=4, found ndim=3"),
            std::string::npos);
  auto g2 = Graph::Create();
  EXPECT_TRUE(
      MakeLayer<MaxPooling1D>(IntList{4})(Input(g2, "a", DType::kF32, Shape{Shape::kBatch, 3, 2}))
          .poisoned());
  EXPECT_NE(std::string(g2->status().message()).find("One of the dimensions in the output is <= 0"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln
