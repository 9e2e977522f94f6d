// Flatten, Reshape, Permute and RepeatVector (spec 2.6-2.9): values against
// index arithmetic, shapes for every option, masks dropped, gradients,
// configs and errors.
#include "layers/reshaping.h"

#include "absl/strings/str_cat.h"
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

// Attaches a [N, ...] bool mask to x.
void AttachMask(const Tensor& x, std::vector<int64_t> dims) {
  Tensor m = BatchInput(x.graph(), absl::StrCat("mask_of_", x.id()), dims, DType::kBool);
  x.graph()->Attachment<LayerGraphState>().masks[x.id()] = m.id();
}

void ExpectGradientsOk(const Tensor& y, const Tensor& x, const Buffer& xv) {
  Feeds feeds = LayerFeeds(y.graph(), false);
  feeds[x.node().attrs.GetOr<std::string>("name", "")] = &xv;
  auto r = CheckGradients(y, {x}, feeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok) << r->worst;
}

TEST(FlattenTest, ChannelsLastIsARowMajorReshape) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {2, 3, 4});
  AttachMask(x, {2, 3});
  Tensor y = MakeLayer<Flatten>()(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 24}));
  EXPECT_FALSE(MaskOf(y).defined()) << "Flatten drops the mask";
  Buffer xv = RandomBuffer(Shape{3, 2, 3, 4}, 1);
  auto out = RunLayers({y}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(testing_core::Values((*out)[0]), testing_core::Values(xv));
}

TEST(FlattenTest, ChannelsFirstFlattensInChannelsLastOrder) {
  auto g = Graph::Create();
  const int C = 3, H = 2, W = 4;
  Tensor x = BatchInput(g, "x", {C, H, W});
  Tensor y = MakeLayer<Flatten>("Channels_First")(x);  // lower-cased
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, C * H * W}));
  Buffer xv = RandomBuffer(Shape{2, C, H, W}, 2);
  auto out = RunLayers({y}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int b = 0; b < 2; ++b) {
    for (int c = 0; c < C; ++c) {
      for (int h = 0; h < H; ++h) {
        for (int w = 0; w < W; ++w) {
          EXPECT_EQ((*out)[0].GetAsDouble(b * C * H * W + (h * W + w) * C + c),
                    xv.GetAsDouble(((b * C + c) * H + h) * W + w));
        }
      }
    }
  }
  ExpectGradientsOk(y, x, xv);
}

TEST(FlattenTest, RankOneAndRankTwoInputs) {
  auto g = Graph::Create();
  Tensor v = BatchInput(g, "v", {});
  Tensor m = BatchInput(g, "m", {5});
  Tensor yv = MakeLayer<Flatten>()(v);
  Tensor ym = MakeLayer<Flatten>("channels_first")(m);  // rank 2: no transpose
  ASSERT_TRUE(ym.ok()) << g->status();
  EXPECT_EQ(yv.shape(), (Shape{Shape::kBatch, 1}));
  EXPECT_EQ(ym.shape(), (Shape{Shape::kBatch, 5}));
  Tensor scalar = Input(g, "s", DType::kF32, Shape{});
  EXPECT_TRUE(MakeLayer<Flatten>()(scalar).poisoned());
  EXPECT_THAT(ErrorOf(scalar), HasSubstr("expected an input of rank >= 1, got []"));
}

TEST(ReshapeTest, ReshapesRowMajorAndInfersTheUnknownDimension) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {6, 4});
  AttachMask(x, {6});
  Tensor a = MakeLayer<ReshapeLayer>(std::vector<int64_t>{3, 8})(x);
  Tensor b = MakeLayer<ReshapeLayer>(std::vector<int64_t>{2, -1, 3})(x);
  Tensor c = MakeLayer<ReshapeLayer>(std::vector<int64_t>{-1})(x);
  ASSERT_TRUE(c.ok()) << g->status();
  EXPECT_EQ(a.shape(), (Shape{Shape::kBatch, 3, 8}));
  EXPECT_EQ(b.shape(), (Shape{Shape::kBatch, 2, 4, 3}));
  EXPECT_EQ(c.shape(), (Shape{Shape::kBatch, 24}));
  EXPECT_FALSE(MaskOf(a).defined());
  Buffer xv = RandomBuffer(Shape{2, 6, 4}, 3);
  auto out = RunLayers({a, b, c}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (const Buffer& o : *out) EXPECT_EQ(testing_core::Values(o), testing_core::Values(xv));
  ExpectGradientsOk(b, x, xv);
}

std::string ReshapeError(std::vector<int64_t> in, std::vector<int64_t> target) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", std::move(in));
  EXPECT_TRUE(MakeLayer<ReshapeLayer>(std::move(target))(x).poisoned());
  return ErrorOf(x);
}

TEST(ReshapeTest, Errors) {
  EXPECT_THAT(ReshapeError({6}, {-1, -1}),
              HasSubstr("there must be at most one unknown dimension in target_shape, got "
                        "(-1, -1)"));
  EXPECT_THAT(ReshapeError({6}, {4}),
              HasSubstr("total size of new array must be unchanged, input_shape = (6), "
                        "output_shape = (4)"));
  EXPECT_THAT(ReshapeError({6}, {4, -1}), HasSubstr("total size of new array must be unchanged"));
  EXPECT_THAT(ReshapeError({6}, {0, -1}), HasSubstr("total size of new array must be unchanged"));
  EXPECT_THAT(ReshapeError({6}, {2, 2}), HasSubstr("[reshape] in layer 'reshape"));
}

TEST(PermuteTest, OutputAxisIPlusOneIsInputAxisDimsI) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {2, 3, 4});
  AttachMask(x, {2, 3});
  Tensor y = MakeLayer<Permute>(std::vector<int>{3, 1, 2})(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 4, 2, 3}));
  EXPECT_FALSE(MaskOf(y).defined());
  Buffer xv = RandomBuffer(Shape{2, 2, 3, 4}, 4);
  auto out = RunLayers({y}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int b = 0; b < 2; ++b) {
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 2; ++j) {
        for (int k = 0; k < 3; ++k) {
          EXPECT_EQ((*out)[0].GetAsDouble(((b * 4 + i) * 2 + j) * 3 + k),
                    xv.GetAsDouble(((b * 2 + j) * 3 + k) * 4 + i));
        }
      }
    }
  }
  ExpectGradientsOk(y, x, xv);
  Tensor seq = BatchInput(g, "seq", {10, 64});
  EXPECT_EQ(MakeLayer<Permute>(std::vector<int>{2, 1})(seq).shape(),
            (Shape{Shape::kBatch, 64, 10}));
}

TEST(PermuteTest, Errors) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {2, 3});
  EXPECT_TRUE(MakeLayer<Permute>(std::vector<int>{0, 1})(x).poisoned());
  EXPECT_THAT(ErrorOf(x), HasSubstr("invalid permutation dims=(0, 1): the indices must be "
                                    "consecutive and start from 1"));
  auto g2 = Graph::Create();
  Tensor x2 = BatchInput(g2, "x", {2, 3});
  EXPECT_TRUE(MakeLayer<Permute>(std::vector<int>{1, 1})(x2).poisoned());
  EXPECT_THAT(ErrorOf(x2), HasSubstr("invalid permutation dims=(1, 1)"));
  auto g3 = Graph::Create();
  Tensor x3 = BatchInput(g3, "x", {2, 3});
  EXPECT_TRUE(MakeLayer<Permute>(std::vector<int>{2, 3, 1})(x3).poisoned());
  EXPECT_THAT(ErrorOf(x3), HasSubstr("expected ndim=4, found ndim=3 (input shape [N,2,3])"));
}

TEST(RepeatVectorTest, RepeatsEachRowAndTheGradientSums) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {5});
  AttachMask(x, {});
  Tensor y = MakeLayer<RepeatVector>(3)(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 3, 5}));
  EXPECT_FALSE(MaskOf(y).defined());
  Buffer xv = RandomBuffer(Shape{2, 5}, 5);
  auto out = RunLayers({y}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int b = 0; b < 2; ++b) {
    for (int r = 0; r < 3; ++r) {
      for (int f = 0; f < 5; ++f) {
        EXPECT_EQ((*out)[0].GetAsDouble((b * 3 + r) * 5 + f), xv.GetAsDouble(b * 5 + f));
      }
    }
  }
  ExpectGradientsOk(y, x, xv);
  Tensor seq = BatchInput(g, "seq", {2, 5});
  EXPECT_TRUE(MakeLayer<RepeatVector>(2)(seq).poisoned());
  EXPECT_THAT(ErrorOf(seq), HasSubstr("expected ndim=2, found ndim=3"));
  auto g2 = Graph::Create();
  EXPECT_TRUE(MakeLayer<RepeatVector>(-1)(BatchInput(g2, "x", {5})).poisoned());
  EXPECT_THAT(std::string(g2->status().message()), HasSubstr("n must be >= 0, got -1"));
}

std::string ConfigError(const char* text) {
  auto l = LayerFromKerasConfig(nlohmann::json::parse(text));
  return l.ok() ? std::string("ok") : std::string(l.status().message());
}

TEST(ReshapingTest, FromConfig) {
  using nlohmann::json;
  auto flatten = LayerFromKerasConfig(json::parse(
      R"({"class_name": "Flatten", "config": {"name": "f", "trainable": true,
          "dtype": "float32", "data_format": "channels_first"}})"));
  ASSERT_TRUE(flatten.ok()) << flatten.status();
  EXPECT_TRUE(dynamic_cast<Flatten*>(flatten->get())->channels_first());
  EXPECT_EQ((*flatten)->name(), "f");
  auto reshape = LayerFromKerasConfig(json::parse(
      R"({"class_name": "Reshape", "config": {"target_shape": [2, -1]}})"));
  ASSERT_TRUE(reshape.ok()) << reshape.status();
  EXPECT_EQ(dynamic_cast<ReshapeLayer*>(reshape->get())->target_shape(),
            (std::vector<int64_t>{2, -1}));
  auto permute = LayerFromKerasConfig(json::parse(
      R"({"class_name": "Permute", "config": {"dims": [2, 1]}})"));
  ASSERT_TRUE(permute.ok()) << permute.status();
  EXPECT_EQ(dynamic_cast<Permute*>(permute->get())->dims(), (std::vector<int>{2, 1}));
  auto repeat = LayerFromKerasConfig(json::parse(
      R"({"class_name": "RepeatVector", "config": {"n": 4}})"));
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ(dynamic_cast<RepeatVector*>(repeat->get())->n(), 4);

  EXPECT_EQ(ConfigError(R"({"class_name": "Flatten", "config": {"data_format": null}})"), "ok");
  EXPECT_THAT(ConfigError(R"({"class_name": "Flatten", "config": {"data_format": "nchw"}})"),
              HasSubstr("data_format must be one of 'channels_first', 'channels_last', got "
                        "'nchw'"));
  EXPECT_THAT(ConfigError(R"({"class_name": "Reshape", "config": {}})"),
              HasSubstr("missing required argument 'target_shape'"));
  EXPECT_THAT(ConfigError(R"({"class_name": "Reshape", "config": {"target_shape": [2, null]}})"),
              HasSubstr("argument 'target_shape' must be a list of ints"));
  EXPECT_THAT(ConfigError(R"({"class_name": "Permute", "config": {"dims": [1, 3]}})"),
              HasSubstr("invalid permutation dims=(1, 3)"));
  EXPECT_THAT(ConfigError(R"({"class_name": "RepeatVector", "config": {"n": 2.5}})"),
              HasSubstr("layer RepeatVector: layer 'RepeatVector': argument 'n' must be an "
                        "integer, got 2.5"));
  EXPECT_THAT(ConfigError(R"({"class_name": "RepeatVector", "config": {"n": 2, "m": 1}})"),
              HasSubstr("unexpected argument 'm'"));
}

}  // namespace
}  // namespace kiln
