// Dense and the Layer contract it rests on: build on first call, weight
// names and shapes, shared variables, masks, activity losses, errors.
#include "layers/dense.h"

#include <random>

#include "autodiff/gradient_check.h"
#include "graph/evaluate.h"
#include "gtest/gtest.h"
#include "layers/regularizers.h"
#include "ops/ops.h"

namespace kiln {
namespace {

Buffer Random(Shape shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Buffer b(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, u(rng));
  return b;
}

TEST(DenseTest, ComputesActivationOfXTimesKernelPlusBiasOnTheLastAxis) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3, 5});
  auto dense = MakeLayer<Dense>(4, DenseOptions{.activation = "relu"});
  Tensor y = dense(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 3, 4}));
  ASSERT_EQ(dense->weights().size(), 2u);
  EXPECT_EQ(dense->weights()[0].name, dense->name() + "/kernel");
  EXPECT_EQ(dense->weights()[0].value.shape(), (Shape{5, 4}));
  EXPECT_EQ(dense->weights()[1].name, dense->name() + "/bias");
  dense->weights()[1].value = Random(Shape{4}, 3);  // non-zero bias

  Buffer xv = Random(Shape{2, 3, 5}, 1);
  Feeds feeds = LayerFeeds(g, /*training=*/false);
  feeds["x"] = &xv;
  auto out = EvaluateTensors({y}, feeds);
  ASSERT_TRUE(out.ok()) << out.status();
  const Buffer& w = dense->weights()[0].value;
  const Buffer& b = dense->weights()[1].value;
  for (int r = 0; r < 6; ++r) {
    for (int u = 0; u < 4; ++u) {
      double acc = b.GetAsDouble(u);
      for (int i = 0; i < 5; ++i) acc += xv.GetAsDouble(r * 5 + i) * w.GetAsDouble(i * 4 + u);
      EXPECT_NEAR((*out)[0].GetAsDouble(r * 4 + u), std::max(acc, 0.0), 1e-5);
    }
  }
}

TEST(DenseTest, DefaultNamesAreUniqueAndCallsShareTheVariables) {
  auto a = MakeLayer<Dense>(2);
  auto b = MakeLayer<Dense>(2);
  EXPECT_NE(a->name(), b->name());
  EXPECT_EQ(a->name().substr(0, 5), "dense");
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 2});
  Tensor y = a(a(x));
  ASSERT_TRUE(y.ok()) << g->status();
  int variables = 0;
  for (const Node& n : g->nodes()) variables += n.op->name == "variable";
  EXPECT_EQ(variables, 2) << "kernel and bias, once each";
}

TEST(DenseTest, WeightGradientsMatchFiniteDifferences) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 6});
  auto dense = MakeLayer<Dense>(3, DenseOptions{.activation = "tanh"});
  Tensor y = dense(x);
  ASSERT_TRUE(y.ok()) << g->status();
  Buffer xv = Random(Shape{4, 6}, 2);
  Feeds feeds = LayerFeeds(g, false);
  feeds["x"] = &xv;
  std::vector<Tensor> wrt;
  for (NodeId id = 0; id < g->num_nodes(); ++id) {
    if (g->node(id).op->name == "variable") wrt.push_back(g->tensor(id));
  }
  auto r = CheckGradients(y, wrt, feeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok) << r->worst;
}

TEST(DenseTest, PassesTheMaskThroughAndAddsActivityLossPerSample) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 4, 2});
  Tensor m = Input(g, "m", DType::kBool, Shape{Shape::kBatch, 4});
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  auto dense = MakeLayer<Dense>(3, DenseOptions{.activity_regularizer = L2(0.5)});
  Tensor y = dense(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(MaskOf(y), m);
  const auto& losses = g->Attachment<LayerGraphState>().activity_losses;
  ASSERT_EQ(losses.size(), 1u);

  Buffer xv = Random(Shape{5, 4, 2}, 4);
  Feeds feeds = LayerFeeds(g, false);
  feeds["x"] = &xv;
  auto out = EvaluateTensors({y, g->tensor(losses[0])}, feeds);
  ASSERT_TRUE(out.ok()) << out.status();
  double sum_sq = 0;
  for (int64_t i = 0; i < (*out)[0].num_elements(); ++i) {
    sum_sq += (*out)[0].GetAsDouble(i) * (*out)[0].GetAsDouble(i);
  }
  EXPECT_NEAR((*out)[1].GetAsDouble(0), 0.5 * sum_sq / 5, 1e-5);
}

TEST(DenseTest, ErrorsNameTheLayerAndTheLine) {
  {
    auto g = Graph::Create();
    Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 4});
    auto dense = MakeLayer<Dense>(0, DenseOptions{.name = "bad_units"});
    const int line = __LINE__ + 1;
    Tensor y = dense(x);
    EXPECT_TRUE(y.poisoned());
    EXPECT_EQ(g->status().message(),
              "[dense] in layer 'bad_units' (dense_test.cc:" + std::to_string(line) +
                  "): units must be a positive integer, got 0");
  }
  {
    auto g = Graph::Create();
    Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 4});
    Tensor y = MakeLayer<Dense>(2, DenseOptions{.activation = "swoosh"})(x);
    EXPECT_TRUE(y.poisoned());
    EXPECT_NE(g->status().message().find("unknown activation function: 'swoosh'"),
              absl::string_view::npos) << g->status();
  }
  {
    auto g = Graph::Create();
    Tensor v = Input(g, "v", DType::kF32, Shape{Shape::kBatch});
    EXPECT_TRUE(MakeLayer<Dense>(2)(v).poisoned());
    EXPECT_NE(g->status().message().find("expected an input of rank >= 2, got [N]"),
              absl::string_view::npos) << g->status();
  }
  {
    auto g = Graph::Create();
    auto dense = MakeLayer<Dense>(2);
    ASSERT_TRUE(dense(Input(g, "a", DType::kF32, Shape{Shape::kBatch, 4})).ok());
    EXPECT_TRUE(dense(Input(g, "b", DType::kF32, Shape{Shape::kBatch, 5})).poisoned());
    EXPECT_NE(g->status().message().find("expected an input whose last axis is 4, got [N,5]"),
              absl::string_view::npos) << g->status();
  }
}

}  // namespace
}  // namespace kiln
