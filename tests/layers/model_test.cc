// Input, functional Model and Sequential: names, layer order and lookup,
// construction errors, and Summary() text exactly as tf_keras prints it
// (the expected tables come from tf_keras's print_summary run by hand on the
// same layers, not from kiln).
#include "layers/model.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/conv.h"
#include "layers/dense.h"
#include "graph/file_io.h"
#include "layers/input_layer.h"
#include "layers/max_pooling.h"
#include "layers/merge.h"
#include "layers/reshaping.h"
#include "ops/ops.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> LayerNames(const Model& m) {
  std::vector<std::string> names;
  for (const auto& l : m.layers()) names.push_back(l->name());
  return names;
}

std::string InputName(const Tensor& t) { return t.node().attrs.GetOr<std::string>("name", ""); }

TEST(InputTest, MakesABatchFirstTensorWithKerasDefaultNames) {
  ClearSession();
  Tensor x = Input({28, 28, 1});
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(x.shape(), (Shape{Shape::kBatch, 28, 28, 1}));
  EXPECT_EQ(x.dtype(), DType::kF32);
  EXPECT_EQ(InputName(x), "input_1");
  ASSERT_NE(InputLayerOf(x), nullptr);
  EXPECT_EQ(InputLayerOf(x)->class_name(), "InputLayer");
  EXPECT_EQ(x.graph(), CurrentGraph());
  Tensor ids = Input({10}, {.name = "ids", .dtype = DType::kI32});
  EXPECT_EQ(InputName(ids), "ids");
  EXPECT_EQ(ids.dtype(), DType::kI32);
  EXPECT_EQ(InputName(Input({3})), "input_2");
  EXPECT_EQ(Input({4}, {.batch_size = 32}).shape(), (Shape{32, 4}));
  EXPECT_EQ(Input({}, {.batch_shape = std::vector<int64_t>{-1, 5}}).shape(),
            (Shape{Shape::kBatch, 5}));
  EXPECT_EQ(Input({}).shape(), (Shape{Shape::kBatch}));
  EXPECT_EQ(InputLayerOf(Exp(x)), nullptr);

  auto old_graph = CurrentGraph();
  ClearSession();
  EXPECT_NE(CurrentGraph(), old_graph);
  EXPECT_EQ(InputName(Input({2})), "input_1");
  EXPECT_EQ(MakeLayer<Dense>(2)->name(), "dense");
}

TEST(InputTest, BadArgumentsPoisonTheGraphWithKerasErrors) {
  struct Case {
    std::vector<int64_t> shape;
    InputOptions options;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{3}, {.batch_shape = std::vector<int64_t>{-1, 3}}, "shape or the batch_shape"},
      {{3}, {.sparse = true, .ragged = true}, "both sparse and ragged"},
      {{3}, {.sparse = true}, "sparse inputs are not supported"},
      {{-1, 3}, {}, "(None, 3) has an unknown dimension at axis 1"},
      {{3}, {.batch_size = 0}, "batch_size must be a positive integer, got 0"},
      {{}, {.batch_shape = std::vector<int64_t>{}}, "batch_shape must start with the batch axis"},
      {{}, {.batch_size = 2, .batch_shape = std::vector<int64_t>{2, 3}}, "batch_size or the"},
  };
  for (const Case& c : cases) {
    ClearSession();
    Tensor t = Input(c.shape, c.options);
    EXPECT_TRUE(t.poisoned()) << c.message;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr("[input] in layer 'input_1'"));
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.message));
  }
  ClearSession();
  ASSERT_TRUE(Input({2}, {.name = "x"}).ok());
  Tensor again = Input({2}, {.name = "x"});
  EXPECT_THAT(std::string(again.status().message()),
              HasSubstr("this graph already has an input named 'x'"));
}

TEST(ModelTest, FunctionalModelWithTwoInputsAndASharedLayer) {
  ClearSession();
  Tensor x1 = Input({4});
  Tensor x2 = Input({4});
  auto shared = MakeLayer<Dense>(3, DenseOptions{.name = "shared"});
  Tensor sum = MakeLayer<AddLayer>()({shared(x1), shared(x2)});
  Tensor y = MakeLayer<Dense>(1)(sum);
  Model model({x1, x2}, {y});
  ASSERT_TRUE(model.status().ok()) << model.status();
  EXPECT_EQ(model.name(), "model");
  EXPECT_THAT(LayerNames(model), ElementsAre("input_1", "input_2", "shared", "add", "dense"));
  ASSERT_TRUE(model.GetLayer("shared").ok());
  EXPECT_EQ(model.GetLayer("shared")->get(), shared.get().get());
  EXPECT_THAT(std::string(model.GetLayer("nope").status().message()),
              HasSubstr("no layer 'nope'; its layers are: input_1, input_2, shared, add, dense"));
  std::vector<std::string> weight_names;
  for (const Weight* w : model.weights()) weight_names.push_back(w->name);
  EXPECT_THAT(weight_names,
              ElementsAre("shared/kernel", "shared/bias", "dense/kernel", "dense/bias"));
  EXPECT_EQ(model.CountParams(), 19);
  // tf_keras's table for this model (tests/data/models/expected/).
  auto expected = ReadFileToString(std::string(KILN_TEST_DATA_DIR) +
                                   "/models/expected/two_input_summary.txt");
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(model.Summary(), *expected);
}

TEST(ModelTest, LayersComeInKerasDepthOrderAndPlainOpsMayJoinThem) {
  ClearSession();
  Tensor x = Input({3}, {.name = "x"});
  Tensor b = MakeLayer<Dense>(2, DenseOptions{.name = "b"})(x);
  Tensor a = MakeLayer<Dense>(2, DenseOptions{.name = "a"})(x * 2.0);
  Tensor unused = MakeLayer<Dense>(2, DenseOptions{.name = "unused"})(x);
  Tensor c = MakeLayer<AddLayer>("c")({Exp(a), b});
  Model model(x, c, "diamond");
  ASSERT_TRUE(model.status().ok()) << model.status();
  // Walking back from c meets a first, then b; both are one step from x.
  EXPECT_THAT(LayerNames(model), ElementsAre("x", "a", "b", "c"));
  EXPECT_EQ(model.name(), "diamond");
  // A model of part of the graph; an input nothing uses still belongs to it.
  Tensor z = Input({1}, {.name = "z"});
  Model part({x, z}, {b});
  ASSERT_TRUE(part.status().ok()) << part.status();
  // Keras puts unconnected inputs first among the layers of depth 0.
  EXPECT_THAT(LayerNames(part), ElementsAre("x", "z", "b"));
}

TEST(ModelTest, ConstructionErrors) {
  ClearSession();
  Tensor x1 = Input({4});
  Tensor x2 = Input({4});
  Model disconnected(x1, MakeLayer<Dense>(2, DenseOptions{.name = "d"})(x2));
  EXPECT_THAT(std::string(disconnected.status().message()),
              HasSubstr("graph disconnected: the outputs need input 'input_2', which is not an "
                        "input of the model (read by layer 'd')"));
  EXPECT_THAT(disconnected.Summary(), HasSubstr("graph disconnected"));

  Tensor raw = Input(CurrentGraph(), "raw", DType::kF32, Shape{Shape::kBatch, 4});
  Model from_raw(raw, MakeLayer<Dense>(2)(raw));
  EXPECT_THAT(std::string(from_raw.status().message()),
              HasSubstr("model input 0 does not come from Input()"));

  Tensor h = MakeLayer<Dense>(2, DenseOptions{.name = "same"})(x1);
  Tensor h2 = MakeLayer<Dense>(2, DenseOptions{.name = "same"})(x1);
  Model twice(x1, MakeLayer<AddLayer>()({h, h2}));
  EXPECT_THAT(std::string(twice.status().message()),
              HasSubstr("the name 'same' is used 2 times in the model"));

  Model repeated({x1, x1}, {h});
  EXPECT_THAT(std::string(repeated.status().message()), HasSubstr("'input_1' is given twice"));

  Tensor other = Input({4}, {.graph = Graph::Create()});
  Model mixed(other, h);
  EXPECT_THAT(std::string(mixed.status().message()), HasSubstr("different graphs"));

  Tensor scalar_rows = Input({});
  Model broken(scalar_rows, MakeLayer<Dense>(2, DenseOptions{.name = "flat"})(scalar_rows));
  EXPECT_THAT(std::string(broken.status().message()),
              HasSubstr("[dense] in layer 'flat'"));
  EXPECT_FALSE(broken.Predict(Buffer::Zeros(DType::kF32, Shape{1})).ok());
}

TEST(SequentialTest, BuildsFromAShapeOrAnInputAndPrintsLikeKeras) {
  ClearSession();
  Sequential seq;
  seq.Add(MakeLayer<Dense>(64, DenseOptions{.activation = "relu"})).Add(MakeLayer<Dense>(10));
  EXPECT_FALSE(seq.built());
  EXPECT_EQ(seq.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(seq.Summary(), HasSubstr("has not been built yet"));
  EXPECT_THAT(LayerNames(seq), ElementsAre("dense", "dense_1"));
  EXPECT_TRUE(seq.weights().empty());
  ASSERT_TRUE(seq.Build({784}).ok());
  EXPECT_EQ(InputName(seq.inputs()[0]), "dense_input");
  EXPECT_EQ(seq.outputs()[0].shape(), (Shape{Shape::kBatch, 10}));
  EXPECT_THAT(LayerNames(seq), ElementsAre("dense", "dense_1"));
  EXPECT_THAT(std::string(seq.Build({784}).message()), HasSubstr("already built"));
  EXPECT_EQ(seq.Summary(),
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      " Layer (type)                Output Shape              Param #   \n"
      "=================================================================\n"
      " dense (Dense)               (None, 64)                50240     \n"
      "                                                                 \n"
      " dense_1 (Dense)             (None, 10)                650       \n"
      "                                                                 \n"
      "=================================================================\n"
      "Total params: 50890 (198.79 KB)\n"
      "Trainable params: 50890 (198.79 KB)\n"
      "Non-trainable params: 0 (0.00 Byte)\n"
      "_________________________________________________________________\n");

  // Layers added after the build are called at once.
  seq.Add(MakeLayer<Dense>(3, DenseOptions{.name = "late"}));
  EXPECT_EQ(seq.outputs()[0].shape(), (Shape{Shape::kBatch, 3}));
  EXPECT_TRUE(seq.GetLayer("late").ok());

  // Frozen weights count as non-trainable and come last in weights().
  for (Weight& w : (*seq.GetLayer("dense"))->weights()) w.trainable = false;
  EXPECT_THAT(seq.Summary(), HasSubstr("Total params: 50923 (198.92 KB)\n"
                                       "Trainable params: 683 (2.67 KB)\n"
                                       "Non-trainable params: 50240 (196.25 KB)\n"));
  EXPECT_EQ(seq.weights().back()->name, "dense/bias");
}

TEST(SequentialTest, ConvnetSummary) {
  ClearSession();
  Sequential seq;
  seq.Add(Input({28, 28, 1}))
      .Add(MakeLayer<Conv2D>(32, IntList{3, 3}, ConvOptions{.activation = "relu"}))
      .Add(MakeLayer<MaxPooling2D>(IntList{2, 2}))
      .Add(MakeLayer<Flatten>())
      .Add(MakeLayer<Dense>(10, DenseOptions{.activation = "softmax"}));
  ASSERT_TRUE(seq.status().ok()) << seq.status();
  EXPECT_EQ(seq.Summary(),
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      " Layer (type)                Output Shape              Param #   \n"
      "=================================================================\n"
      " conv2d (Conv2D)             (None, 26, 26, 32)        320       \n"
      "                                                                 \n"
      " max_pooling2d (MaxPooling2  (None, 13, 13, 32)        0         \n"
      " D)                                                              \n"
      "                                                                 \n"
      " flatten (Flatten)           (None, 5408)              0         \n"
      "                                                                 \n"
      " dense (Dense)               (None, 10)                54090     \n"
      "                                                                 \n"
      "=================================================================\n"
      "Total params: 54410 (212.54 KB)\n"
      "Trainable params: 54410 (212.54 KB)\n"
      "Non-trainable params: 0 (0.00 Byte)\n"
      "_________________________________________________________________\n");
}

TEST(SequentialTest, MisuseIsReported) {
  ClearSession();
  Sequential seq("s");
  seq.Add(MakeLayer<Dense>(2)).Add(Input({3}));
  EXPECT_THAT(std::string(seq.status().message()),
              HasSubstr("model 's': an input can only be added first"));
  Sequential nulls;
  nulls.Add(std::shared_ptr<Layer>());
  EXPECT_THAT(std::string(nulls.status().message()), HasSubstr("the layer is null"));
  Sequential bad_layer;
  bad_layer.Add(Input({3})).Add(MakeLayer<Dense>(2, DenseOptions{.activation = "nope"}));
  EXPECT_THAT(std::string(bad_layer.status().message()), HasSubstr("nope"));
  // The error points at the line that added the layer.
  EXPECT_THAT(std::string(bad_layer.status().message()), HasSubstr("(model_test.cc:"));
}

}  // namespace
}  // namespace kiln
