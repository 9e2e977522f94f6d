// Keras JSON model import: Sequential and Functional configs as tf.keras 2.x
// writes them (tests/data/models/), and a table of malformed configs.
#include "layers/keras_json.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "graph/file_io.h"
#include "nlohmann/json.hpp"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kModels = std::string(KILN_TEST_DATA_DIR) + "/models/";

std::vector<std::string> LayerNames(const Model& m) {
  std::vector<std::string> names;
  for (const auto& l : m.layers()) names.push_back(l->name());
  return names;
}

TEST(KerasJsonTest, SequentialWithInputLayerRegularizersAndConstraints) {
  auto model = LoadKerasModel(kModels + "mlp_reg.json");
  ASSERT_TRUE(model.ok()) << model.status();
  Model& m = **model;
  EXPECT_EQ(m.name(), "mlp_reg");
  EXPECT_THAT(LayerNames(m), ElementsAre("hidden", "out"));
  EXPECT_EQ(m.inputs()[0].node().attrs.GetOr<std::string>("name", ""), "x");
  EXPECT_EQ(m.outputs()[0].shape(), (Shape{Shape::kBatch, 2}));
  EXPECT_TRUE(m.HasRegularization());
  std::vector<std::string> weights;
  for (const Weight* w : m.weights()) weights.push_back(w->name);
  EXPECT_THAT(weights, ElementsAre("hidden/kernel", "hidden/bias", "out/kernel", "out/bias"));
  EXPECT_TRUE(m.weights()[0]->regularizer);
  EXPECT_TRUE(m.weights()[0]->constraint);
  EXPECT_TRUE(m.weights()[1]->constraint);
  EXPECT_FALSE(m.weights()[2]->constraint);

  // Forward pass with the fixture weights: relu(x W1 + b1) W2 + b2 by hand.
  ASSERT_TRUE(m.LoadWeights(kModels + "mlp_reg_weights.npz").ok());
  Buffer x = Buffer::FromVector<float>(Shape{2, 3}, {1, 2, 0.5f, -1, 0.5f, 2});
  for (Backend backend : {Backend::kJit, Backend::kInterp}) {
    auto y = m.Predict(x, {.backend = backend});
    ASSERT_TRUE(y.ok()) << y.status();
    // h = relu([0.7, 1.4; -1.5, 0.95]) = [0.7, 1.4; 0, 0.95]
    const double want[] = {0.7 * 1.0 + 1.4 * 0.3 + 0.05, 0.7 * -0.5 + 1.4 * 0.7 - 0.1,
                           0.95 * 0.3 + 0.05, 0.95 * 0.7 - 0.1};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(y->GetAsDouble(i), want[i], 1e-5) << i;
  }
}

TEST(KerasJsonTest, FunctionalWithTwoInputsTwoOutputsAndASharedLayer) {
  auto model = LoadKerasModel(kModels + "shared_two_io.json");
  ASSERT_TRUE(model.ok()) << model.status();
  Model& m = **model;
  EXPECT_THAT(LayerNames(m), ElementsAre("a", "b", "shared", "sum", "head"));
  ASSERT_EQ(m.inputs().size(), 2u);
  ASSERT_EQ(m.outputs().size(), 2u);
  EXPECT_EQ(m.outputs()[0].shape(), (Shape{Shape::kBatch, 2}));
  EXPECT_EQ(m.outputs()[1].shape(), (Shape{Shape::kBatch, 1}));
  EXPECT_FALSE(m.HasRegularization());
  EXPECT_EQ(m.CountParams(), 9);
  EXPECT_THAT(m.Summary(), HasSubstr(" shared (Dense)              (None, 2)                    6 "
                                     "        ['a[0][0]',                   \n"));
}

TEST(KerasJsonTest, ConvnetSummaryAndLegacyBatchInputShape) {
  auto model = LoadKerasModel(kModels + "small_convnet.json");
  ASSERT_TRUE(model.ok()) << model.status();
  auto expected = ReadFileToString(kModels + "expected/small_convnet_summary.txt");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ((*model)->Summary(), *expected);

  // tf.keras < 2.4 put the input shape on the first layer.
  nlohmann::json legacy = nlohmann::json::parse(R"({"class_name": "Sequential",
      "config": {"name": "legacy", "layers": [{"class_name": "Dense", "config": {
      "name": "first", "batch_input_shape": [null, 5], "dtype": "float32", "units": 2,
      "trainable": false}}]}})");
  auto old = ModelFromKerasJson(legacy.dump());
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ((*old)->inputs()[0].node().attrs.GetOr<std::string>("name", ""), "first_input");
  EXPECT_EQ((*old)->inputs()[0].shape(), (Shape{Shape::kBatch, 5}));
  EXPECT_TRUE((*old)->trainable_weights().empty()) << "\"trainable\": false";
  EXPECT_EQ((*old)->non_trainable_weights().size(), 2u);

  // A model built with model.build(shape) records the shape on the model.
  auto built = ModelFromKerasJson(R"({"class_name": "Sequential", "config": {"name": "b",
      "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2}}],
      "build_input_shape": [null, 7]}})");
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ((*built)->inputs()[0].shape(), (Shape{Shape::kBatch, 7}));
  EXPECT_EQ((*built)->inputs()[0].node().attrs.GetOr<std::string>("name", ""), "d_input");
}

// Wraps functional layer entries into a model config.
std::string Functional(const std::string& layers, const std::string& ins = R"([["in", 0, 0]])",
                       const std::string& outs = R"([["d", 0, 0]])") {
  return R"({"class_name": "Functional", "config": {"name": "f", "layers": [)" + layers +
         R"(], "input_layers": )" + ins + R"(, "output_layers": )" + outs + "}}";
}
const char kIn[] =
    R"({"class_name": "InputLayer", "name": "in", "inbound_nodes": [],
        "config": {"batch_input_shape": [null, 3], "dtype": "float32", "name": "in"}})";
std::string DenseOn(const std::string& inbound, const std::string& name = "d") {
  return R"({"class_name": "Dense", "name": ")" + name + R"(", "config": {"name": ")" + name +
         R"(", "units": 2}, "inbound_nodes": )" + inbound + "}";
}
std::string Seq(const std::string& layers) {
  return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)" + layers + "]}}";
}
std::string InputWith(const std::string& config) {
  return Seq(R"({"class_name": "InputLayer", "config": )" + config + "}, " +
             R"({"class_name": "Dense", "config": {"name": "d", "units": 1}})");
}

TEST(KerasJsonTest, MalformedConfigsGiveMessagesNamingTheProblem) {
  const std::string ok_dense = DenseOn(R"([[["in", 0, 0, {}]]])");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "malformed JSON"},
      {R"({"class_name": "Sequential", "config": {)", "malformed JSON"},
      {"[1, 2]", "expected {\"class_name\": ..., \"config\": {...}} at the top level"},
      {R"({"class_name": "Functional"})", "Functional: missing \"config\""},
      {R"({"class_name": "Pipeline", "config": {}})", "unknown model class 'Pipeline'"},
      {R"({"class_name": "Sequential", "config": {"name": "s"}})", "needs a \"layers\" list"},
      {Seq(R"({"class_name": "Dense", "config": {"name": "d", "units": 1}})"),
       "Sequential model 's' has no input shape"},
      {Seq("7"), "layers[0] must be an object"},
      {Seq(R"({"config": {"name": "nameless"}})"),
       "layer 'nameless': needs a string \"class_name\""},
      {Seq(std::string(
               R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3]}}, )") +
           R"({"class_name": "Nope", "config": {"name": "mystery"}})"),
       "layer 'mystery': unknown layer class 'Nope'"},
      {Seq(R"({"class_name": "Sequential", "config": {"name": "inner", "layers": []}})"),
       "layer 'inner': nested models (Sequential inside a model) are not supported"},
      {InputWith(R"({"batch_input_shape": [null, 3], "input_shape": [3]})"), "only provide"},
      {InputWith(R"({"batch_input_shape": [null, 3], "colour": "red"})"),
       "unexpected argument 'colour'"},
      {InputWith(R"({"batch_input_shape": [null, null, 3]})"), "unknown dimension at axis 1"},
      {InputWith(R"({"batch_input_shape": [null, 3], "dtype": "float64"})"), "dtype 'float64'"},
      {InputWith(R"({"batch_input_shape": [null, 3], "sparse": true, "ragged": true})"),
       "both sparse and ragged"},
      {InputWith(R"({"dtype": "float32"})"), "needs a shape"},
      {InputWith(R"({"batch_input_shape": "3"})"), "'batch_input_shape' must be a list"},
      {Functional(std::string(kIn) + ", " + R"({"class_name": "Dense", "name": "d", "config":
          {"name": "d", "units": "ten"}, "inbound_nodes": [[["in", 0, 0, {}]]]})"),
       "layer Dense 'd': layer 'Dense': argument 'units' must be an integer"},
      {Functional(std::string(kIn) + ", " + DenseOn(R"([[["ghost", 0, 0, {}]]])")),
       "layer 'd': inbound layer 'ghost' is not defined"},
      {Functional(std::string(kIn) + ", " + DenseOn(R"([[["in", 1, 0, {}]]])")),
       "layer 'd': inbound layer 'in' never gets node 1"},
      {Functional(std::string(kIn) + ", " + DenseOn(R"([[["in", 0, 0, {"training": true}]]])")),
       "passes call arguments {\"training\":true}"},
      {Functional(std::string(kIn) + ", " + DenseOn(R"([{"args": [], "kwargs": {}}])")),
       "layer 'd': each inbound node must be a list"},
      {Functional(std::string(kIn) + ", " + DenseOn(R"([[["in", 0, 1, {}]]])")),
       "layer 'in' has one output, not tensor 1"},
      {Functional(std::string(kIn) + ", " + ok_dense + ", " + ok_dense),
       "layer 'd': the name is used twice"},
      {Functional(std::string(kIn) + ", " + ok_dense, R"([["in", 0, 0]])", R"([["e", 0, 0]])"),
       "output_layers: unknown layer 'e'"},
      {Functional(std::string(kIn) + ", " + ok_dense, R"(["in", 0])"),
       "input_layers must be [\"layer\", node_index, tensor_index]"},
      {Functional(std::string(kIn) + ", " +
                      R"({"class_name": "InputLayer", "name": "in2", "inbound_nodes": [],
                          "config": {"batch_input_shape": [null, 3], "name": "in2"}}, )" +
                      DenseOn(R"([[["in2", 0, 0, {}]]])")),
       "graph disconnected: the outputs need input 'in2'"},
  };
  for (const auto& [text, message] : cases) {
    auto model = ModelFromKerasJson(text, "case.json");
    ASSERT_FALSE(model.ok()) << text;
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
    EXPECT_THAT(std::string(model.status().message()), HasSubstr("case.json: ")) << text;
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(message)) << text;
  }
  EXPECT_THAT(std::string(LoadKerasModel(kModels + "absent.json").status().message()),
              HasSubstr("absent.json"));
}

}  // namespace
}  // namespace kiln
