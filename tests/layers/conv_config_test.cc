// Conv1D, Conv2D, DepthwiseConv2D and SeparableConv2D from Keras JSON configs
// (as tf.keras 2.x writes them), and the error table of spec 1.6: each bad
// argument gives Keras's ValueError text, from the config or on the first
// call ("[conv2d] in layer 'x' (file.cc:line): ...").
#include <string>

#include "gtest/gtest.h"
#include "layers/conv.h"
#include "layers/depthwise_conv2d.h"
#include "layers/layer_registry.h"
#include "layers/separable_conv2d.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {
namespace {

using nlohmann::json;

absl::StatusOr<std::shared_ptr<Layer>> FromJson(const std::string& class_name,
                                                const std::string& config) {
  return LayerFromKerasConfig(json{{"class_name", class_name}, {"config", json::parse(config)}});
}

TEST(ConvConfigTest, ReadsATfKerasConv2DConfig) {
  auto layer = FromJson("Conv2D", R"({
      "name": "conv_a", "trainable": true, "dtype": "float32", "filters": 4,
      "kernel_size": [3, 2], "strides": [2, 1], "padding": "same",
      "data_format": "channels_first", "dilation_rate": [1, 1], "groups": 2,
      "activation": "relu", "use_bias": true,
      "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": 3}},
      "bias_initializer": {"class_name": "Zeros", "config": {}},
      "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}},
      "bias_regularizer": null, "activity_regularizer": null,
      "kernel_constraint": {"class_name": "MaxNorm", "config": {"max_value": 2, "axis": 0}},
      "bias_constraint": null})");
  ASSERT_TRUE(layer.ok()) << layer.status();
  auto* conv = dynamic_cast<Conv2D*>(layer->get());
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->name(), "conv_a");
  EXPECT_EQ(conv->class_name(), "Conv2D");
  EXPECT_EQ(conv->filters(), 4);
  EXPECT_EQ(conv->kernel_size(), (IntList{3, 2}));
  EXPECT_EQ(conv->strides(), (IntList{2, 1}));
  EXPECT_EQ(conv->padding(), Padding::kSame);
  EXPECT_EQ(conv->data_format(), DataFormat::kChannelsFirst);
  EXPECT_EQ(conv->groups(), 2);
  auto g = Graph::Create();
  Tensor y = (*conv)(Input(g, "x", DType::kF32, Shape{Shape::kBatch, 6, 5, 7}));
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 4, 3, 7}));
  EXPECT_EQ(conv->weights()[0].value.shape(), (Shape{3, 2, 3, 4}));
  EXPECT_TRUE(conv->weights()[0].regularizer != nullptr);
  EXPECT_TRUE(conv->weights()[0].constraint != nullptr);
  EXPECT_TRUE(conv->weights()[1].regularizer == nullptr);
}

TEST(ConvConfigTest, IntArgumentsRepeatAndFiltersAreTruncated) {
  auto layer = FromJson("Conv1D", R"({"filters": 3.9, "kernel_size": 5, "strides": 1,
                                      "padding": "CAUSAL"})");
  ASSERT_TRUE(layer.ok()) << layer.status();
  auto* conv = dynamic_cast<Conv1D*>(layer->get());
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->filters(), 3);
  EXPECT_EQ(conv->kernel_size(), (IntList{5}));
  EXPECT_EQ(conv->padding(), Padding::kCausal);
  EXPECT_EQ(conv->data_format(), DataFormat::kChannelsLast);
  EXPECT_EQ(conv->name().substr(0, 6), "conv1d");
}

TEST(ConvConfigTest, ReadsDepthwiseAndSeparableConfigs) {
  auto dw = FromJson("DepthwiseConv2D", R"({"name": "dw", "kernel_size": [3, 3],
      "strides": [1, 1], "padding": "valid", "depth_multiplier": 2, "data_format": null,
      "dilation_rate": [2, 2], "groups": 1, "activation": "linear", "use_bias": false,
      "depthwise_initializer": "he_normal", "bias_initializer": "zeros",
      "depthwise_regularizer": "l1", "bias_regularizer": null, "activity_regularizer": null,
      "depthwise_constraint": null, "bias_constraint": null})");
  ASSERT_TRUE(dw.ok()) << dw.status();
  auto g = Graph::Create();
  Tensor y = (**dw)(Input(g, "x", DType::kF32, Shape{Shape::kBatch, 7, 7, 3}));
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 3, 3, 6}));
  ASSERT_EQ((*dw)->weights().size(), 1u);
  EXPECT_EQ((*dw)->weights()[0].name, "dw/depthwise_kernel");
  EXPECT_EQ((*dw)->weights()[0].value.shape(), (Shape{3, 3, 3, 2}));

  auto sep = FromJson("SeparableConv2D", R"({"name": "sep", "filters": 5,
      "kernel_size": 3, "strides": 2, "padding": "same", "data_format": "channels_last",
      "dilation_rate": 1, "depth_multiplier": 3, "activation": "tanh",
      "pointwise_initializer": {"class_name": "Ones", "config": {}},
      "pointwise_constraint": "non_neg"})");
  ASSERT_TRUE(sep.ok()) << sep.status();
  Tensor z = (**sep)(Input(g, "z", DType::kF32, Shape{Shape::kBatch, 5, 6, 2}));
  ASSERT_TRUE(z.ok()) << g->status();
  EXPECT_EQ(z.shape(), (Shape{Shape::kBatch, 3, 3, 5}));
  ASSERT_EQ((*sep)->weights().size(), 3u);
  EXPECT_EQ((*sep)->weights()[0].name, "sep/depthwise_kernel");
  EXPECT_EQ((*sep)->weights()[1].name, "sep/pointwise_kernel");
  EXPECT_EQ((*sep)->weights()[1].value.shape(), (Shape{1, 1, 6, 5}));
  EXPECT_EQ((*sep)->weights()[1].value.GetAsDouble(0), 1.0);
  EXPECT_TRUE((*sep)->weights()[1].constraint != nullptr);
  EXPECT_EQ((*sep)->weights()[2].name, "sep/bias");
}

struct BadConfig {
  std::string class_name;
  std::string config;
  std::string message;  // a substring of the error
};

class ConvBadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ConvBadConfigTest, GivesKerasError) {
  const BadConfig& c = GetParam();
  auto layer = FromJson(c.class_name, c.config);
  ASSERT_FALSE(layer.ok()) << c.config;
  EXPECT_NE(std::string(layer.status().message()).find(c.message), std::string::npos)
      << layer.status();
}

INSTANTIATE_TEST_SUITE_P(
    Spec16, ConvBadConfigTest,
    ::testing::Values(
        BadConfig{"Conv2D", R"({"filters": 0, "kernel_size": 3})",
                  "Invalid value for argument `filters`. Expected a strictly positive value. "
                  "Received filters=0."},
        BadConfig{"Conv2D", R"({"filters": 0.5, "kernel_size": 3})", "Received filters=0."},
        BadConfig{"SeparableConv2D", R"({"filters": -2, "kernel_size": 3})",
                  "Received filters=-2."},
        BadConfig{"SeparableConv2D", R"({"kernel_size": 3})", "'filters' is required"},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": [3, 0]})",
                  "The `kernel_size` argument must be a tuple of 2 integers. Received: (3, 0) "
                  "including {0} that does not satisfy the requirement `> 0`."},
        BadConfig{"Conv1D", R"({"filters": 2, "kernel_size": -1})",
                  "including {-1} that does not satisfy the requirement `> 0`."},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": [3, 3, 3]})",
                  "The `kernel_size` argument must be a tuple of 2 integers. "
                  "Received: (3, 3, 3)"},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": 3, "dilation_rate": 0})",
                  "The `dilation_rate` argument must be a tuple of 2 integers. Received: 0 "
                  "including {0}"},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": 3, "strides": [0, 1]})",
                  "The argument `strides` cannot contains 0(s). Received: (0, 1)"},
        BadConfig{"Conv1D", R"({"filters": 2, "kernel_size": 3, "strides": -1})",
                  "requirement `>= 0`"},
        BadConfig{"DepthwiseConv2D", R"({"kernel_size": 3, "strides": 0})", "cannot contains 0(s)"},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": 3, "padding": "causal"})",
                  "Causal padding is only supported for `Conv1D` and `SeparableConv1D`."},
        BadConfig{"DepthwiseConv2D", R"({"kernel_size": 3, "padding": "Causal"})",
                  "Causal padding is only supported"},
        BadConfig{"SeparableConv2D", R"({"filters": 1, "kernel_size": 3, "padding": "causal"})",
                  "Causal padding is only supported"},
        BadConfig{"Conv1D", R"({"filters": 2, "kernel_size": 3, "padding": "full"})",
                  "The `padding` argument must be one of"},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": 3, "data_format": "NHWC"})",
                  "The `data_format` argument must be one of \"channels_first\", "
                  "\"channels_last\". Received: NHWC"},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": 3, "strides": 2,
                                "dilation_rate": 2})",
                  "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                  "Received: strides=(2, 2) and dilation_rate=(2, 2)"},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": 3, "strides": [2, 1],
                                "dilation_rate": [1, 2]})",
                  "`strides > 1` not supported in conjunction with `dilation_rate > 1`"},
        BadConfig{"Conv1D", R"({"filters": 2, "kernel_size": 3, "strides": 2,
                                "dilation_rate": 2, "padding": "causal"})",
                  "`strides > 1` not supported"},
        BadConfig{"DepthwiseConv2D", R"({"kernel_size": 3, "strides": 2, "dilation_rate": 2})",
                  "`strides > 1` not supported"},
        BadConfig{"SeparableConv2D", R"({"filters": 1, "kernel_size": 3, "strides": [1, 3],
                                         "dilation_rate": [2, 1]})",
                  "`strides > 1` not supported"},
        BadConfig{"Conv2D", R"({"filters": 6, "kernel_size": 3, "groups": 4})",
                  "The number of filters must be evenly divisible by the number of groups. "
                  "Received: groups=4, filters=6."},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": 3, "activation": "swoosh"})",
                  "swoosh"},
        BadConfig{"DepthwiseConv2D", R"({"kernel_size": 3, "depth_multiplier": 0})",
                  "depth_multiplier must be a positive integer, got 0"},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": 3, "kernel_initializer": "nope"})",
                  "argument 'kernel_initializer' is invalid"},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": 3, "use_bias": 1})",
                  "must be true or false"},
        BadConfig{"Conv2D", R"({"filters": 2, "kernel_size": 3, "depth_multiplier": 1})",
                  "unexpected argument 'depth_multiplier'"}));

// Build-time errors (spec 1.6): reported when the layer is first called.
std::string CallError(Layer& layer, const Shape& in) {
  auto g = Graph::Create();
  Tensor y = layer(Input(g, "x", DType::kF32, in));
  EXPECT_TRUE(y.poisoned());
  return std::string(g->status().message());
}

TEST(ConvConfigTest, BuildErrorsNameTheLayerAndLine) {
  auto g = Graph::Create();
  auto conv = MakeLayer<Conv2D>(2, IntList{3}, ConvOptions{.padding = "causal", .name = "c"});
  const int line = __LINE__ + 1;
  Tensor y = conv(Input(g, "x", DType::kF32, Shape{Shape::kBatch, 5, 5, 1}));
  EXPECT_TRUE(y.poisoned());
  EXPECT_EQ(g->status().message(),
            "[conv2d] in layer 'c' (conv_config_test.cc:" + std::to_string(line) +
                "): Causal padding is only supported for `Conv1D` and `SeparableConv1D`.");

  Conv2D grouped(4, IntList{3}, ConvOptions{.groups = 2});
  EXPECT_NE(CallError(grouped, Shape{Shape::kBatch, 5, 5, 3})
                .find("The number of input channels must be evenly divisible by the number of "
                      "groups. Received groups=2, but the input has 3 channels"),
            std::string::npos);
  Conv2D rank(4, IntList{3});
  EXPECT_NE(CallError(rank, Shape{Shape::kBatch, 5, 5})
                .find("expected min_ndim=4, found ndim=3. Full shape received: [N,5,5]"),
            std::string::npos);
  Conv1D small(4, IntList{5});
  EXPECT_NE(CallError(small, Shape{Shape::kBatch, 3, 2})
                .find("One of the dimensions in the output is <= 0 due to downsampling"),
            std::string::npos);
  DepthwiseConv2D dw(IntList{3});
  EXPECT_NE(CallError(dw, Shape{Shape::kBatch, 2, 5, 5, 3}).find("expected ndim=4, found ndim=5"),
            std::string::npos);
  SeparableConv2D sep(2, IntList{3});
  EXPECT_NE(CallError(sep, Shape{Shape::kBatch, 5, 3}).find("expected ndim=4, found ndim=3"),
            std::string::npos);
}

TEST(ConvConfigTest, LaterCallsCheckTheChannelAxis) {
  auto g = Graph::Create();
  auto conv = MakeLayer<Conv1D>(2, IntList{3});
  ASSERT_TRUE(conv(Input(g, "a", DType::kF32, Shape{Shape::kBatch, 9, 3})).ok());
  // Another length is fine, another channel count is not.
  ASSERT_TRUE(conv(Input(g, "b", DType::kF32, Shape{Shape::kBatch, 5, 3})).ok());
  EXPECT_TRUE(conv(Input(g, "c", DType::kF32, Shape{Shape::kBatch, 9, 4})).poisoned());
  EXPECT_NE(std::string(g->status().message())
                .find("expected axis -1 of input shape to have value 3, but received input "
                      "with shape [N,9,4]"),
            std::string::npos)
      << g->status();
}

}  // namespace
}  // namespace kiln
