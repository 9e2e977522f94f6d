// LocallyConnected1D/2D from tf.keras 2.x JSON configs, and their errors
// (spec 2.16): 'same' with implementation 1, an unknown implementation, the
// input rank, outputs <= 0, no dilation_rate argument, another input size
// after the build.
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "layers/layer_registry.h"
#include "layers/locally_connected.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {
namespace {

absl::StatusOr<std::shared_ptr<Layer>> FromJson(const std::string& class_name,
                                                const std::string& config) {
  return LayerFromKerasConfig(
      nlohmann::json{{"class_name", class_name}, {"config", nlohmann::json::parse(config)}});
}

// The error of the first call on an input of `shape`.
std::string CallError(Layer& layer, const Shape& shape) {
  auto g = Graph::Create();
  Tensor y = layer(Input(g, "x", DType::kF32, shape));
  EXPECT_TRUE(y.poisoned());
  return std::string(g->status().message());
}

TEST(LocallyConnectedConfigTest, ReadsATfKerasConfig) {
  auto layer = FromJson("LocallyConnected2D", R"({"name": "lc", "trainable": true,
      "dtype": "float32", "filters": 4, "kernel_size": [3, 2], "strides": [1, 2],
      "padding": "SAME", "data_format": "channels_first", "activation": "relu",
      "use_bias": false, "kernel_initializer": {"class_name": "Ones", "config": {}},
      "bias_initializer": {"class_name": "Zeros", "config": {}},
      "kernel_regularizer": {"class_name": "L1", "config": {"l1": 0.5}},
      "bias_regularizer": null, "activity_regularizer": null,
      "kernel_constraint": null, "bias_constraint": null, "implementation": 2})");
  ASSERT_TRUE(layer.ok()) << layer.status();
  auto* lc = dynamic_cast<LocallyConnected2D*>(layer->get());
  ASSERT_NE(lc, nullptr);
  EXPECT_EQ(lc->name(), "lc");
  EXPECT_EQ(lc->filters(), 4);
  EXPECT_EQ(lc->implementation(), 2);
  auto g = Graph::Create();
  Tensor y = (*lc)(Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3, 5, 6}));
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 4, 5, 3}));
  ASSERT_EQ(lc->weights().size(), 1u);
  EXPECT_EQ(lc->weights()[0].value.shape(), (Shape{3, 5, 6, 4, 5, 3}));
  EXPECT_EQ(lc->weights()[0].value.GetAsDouble(7), 1.0);
  EXPECT_TRUE(lc->weights()[0].regularizer != nullptr);

  auto lc1 = FromJson("LocallyConnected1D", R"({"filters": 2, "kernel_size": 3,
                                                "implementation": 3, "padding": "same"})");
  ASSERT_TRUE(lc1.ok()) << lc1.status();
  EXPECT_EQ((*lc1)->name().substr(0, 19), "locally_connected1d");
  Tensor z = (**lc1)(Input(g, "z", DType::kF32, Shape{Shape::kBatch, 4, 3}));
  ASSERT_TRUE(z.ok()) << g->status();
  // Windows of 2, 3, 3, 2 cells, 3 channels, 2 filters.
  EXPECT_EQ((*lc1)->weights()[0].value.shape(), (Shape{10 * 3 * 2}));
  EXPECT_EQ((*lc1)->weights()[1].value.shape(), (Shape{4, 2}));
}

TEST(LocallyConnectedConfigTest, BadConfigs) {
  const std::pair<std::string, std::string> bad[] = {
      {R"({"filters": 2, "kernel_size": 3, "padding": "same"})",
       "Invalid border mode for LocallyConnected1D (only \"valid\" is supported if "
       "implementation is 1): same"},
      {R"({"filters": 2, "kernel_size": 3, "padding": "Same", "implementation": 1})",
       "only \"valid\" is supported if implementation is 1"},
      {R"({"filters": 2, "kernel_size": 3, "dilation_rate": 2})",
       "unexpected argument 'dilation_rate'"},
      {R"({"filters": 2, "kernel_size": 0})",
       "The `kernel_size` argument must be a tuple of 1 integers. Received: 0 including {0}"},
      {R"({"filters": 2, "kernel_size": 3, "strides": -1})", "requirement `>= 0`"},
      {R"({"filters": 2, "kernel_size": 3, "strides": 0})", "cannot contain 0(s)"},
      {R"({"filters": 2, "kernel_size": 3, "padding": "causal", "implementation": 2})",
       "Padding type causal not recognized"},
      {R"({"filters": 2, "kernel_size": 3, "data_format": "NWC"})",
       "The `data_format` argument must be one of"},
      {R"({"filters": 0, "kernel_size": 3})", "filters must be a positive integer, got 0"},
      {R"({"filters": 2, "kernel_size": 3, "activation": "nope"})", "nope"},
      {R"({"kernel_size": 3})", "'filters' is required"},
  };
  for (const auto& [config, message] : bad) {
    auto layer = FromJson("LocallyConnected1D", config);
    ASSERT_FALSE(layer.ok()) << config;
    EXPECT_NE(std::string(layer.status().message()).find(message), std::string::npos)
        << layer.status();
  }
}

TEST(LocallyConnectedConfigTest, BuildAndCallErrors) {
  LocallyConnected1D impl4(2, IntList{3}, LocallyConnectedOptions{.implementation = 4});
  EXPECT_NE(
      CallError(impl4, Shape{Shape::kBatch, 6, 2}).find("Unrecognized implementation mode: 4."),
      std::string::npos);
  LocallyConnected1D rank(2, IntList{3});
  EXPECT_NE(CallError(rank, Shape{Shape::kBatch, 6, 6, 2})
                .find("expected ndim=3, found ndim=4. Full shape received: [N,6,6,2]"),
            std::string::npos);
  LocallyConnected2D small(2, IntList{3, 3});
  EXPECT_NE(CallError(small, Shape{Shape::kBatch, 5, 2, 1})
                .find("One of the dimensions in the output is <= 0 due to downsampling"),
            std::string::npos);

  auto g = Graph::Create();
  auto lc = MakeLayer<LocallyConnected2D>(2, IntList{2}, LocallyConnectedOptions{.name = "lc"});
  ASSERT_TRUE(lc(Input(g, "a", DType::kF32, Shape{Shape::kBatch, 4, 4, 1})).ok());
  const int line = __LINE__ + 1;
  EXPECT_TRUE(lc(Input(g, "b", DType::kF32, Shape{Shape::kBatch, 5, 4, 1})).poisoned());
  EXPECT_EQ(g->status().message(),
            "[locally_connected2d] in layer 'lc' (locally_connected_config_test.cc:" +
                std::to_string(line) +
                "): expected an input of shape [N,4,4,1] (the shape the layer was built for), "
                "got [N,5,4,1]");
}

}  // namespace
}  // namespace kiln
