// Keras' weighted_metrics (Compile): the metric against sum(w * v) / sum(w)
// written out here, 0 when the weights sum to 0, the plain mean without
// weights; class_weight reaching them; plain metrics staying unweighted;
// and Keras 2.x's log names ("weighted_<name>" only on a clash, the output
// name first on multi-output models) and order (per output: its metrics,
// then its weighted metrics).
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "graph/evaluate.h"
#include "gtest/gtest.h"
#include "layers/dense.h"
#include "layers/initializers.h"
#include "layers/metrics.h"
#include "layers/model.h"
#include "layers/optimizers.h"
#include "ops/ops.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The metric's weighted value and sum of weights on t, p and w (null: no weights).
std::pair<double, double> EvalWeighted(const Metric& metric, const Buffer& t, const Buffer& p,
                                       const Buffer* w) {
  auto g = Graph::Create();
  Tensor yt = Input(g, "t", t.dtype(), t.shape());
  Tensor yp = Input(g, "p", p.dtype(), p.shape());
  Tensor weights = w == nullptr ? Tensor() : Input(g, "w", w->dtype(), w->shape());
  Metric::Weighted r = metric.WithSampleWeight(yt, yp, weights);
  EXPECT_TRUE(r.value.ok() && r.weight_sum.ok()) << g->status();
  if (!r.value.ok() || !r.weight_sum.ok()) return {-1, -1};
  Feeds feeds = {{"t", &t}, {"p", &p}};
  if (w != nullptr) feeds["w"] = w;
  auto values = EvaluateTensors({r.value, r.weight_sum}, feeds);
  EXPECT_TRUE(values.ok()) << values.status();
  if (!values.ok()) return {-1, -1};
  return {(*values)[0].GetAsDouble(0), (*values)[1].GetAsDouble(0)};
}

TEST(WeightedMetricsTest, WeighEachSampleAndDivideBySumOfWeights) {
  Buffer t = Buffer::FromVector<float>(Shape{4, 1}, {1, 2, 3, 4});
  Buffer p = Buffer::FromVector<float>(Shape{4, 1}, {1.5f, 2, 1, 5});  // |e|: 0.5 0 2 1
  Buffer w = Buffer::FromVector<float>(Shape{4}, {1, 3, 2, 0.5f});
  auto [value, sum] = EvalWeighted("mae", t, p, &w);
  EXPECT_NEAR(value, (0.5 * 1 + 0 * 3 + 2 * 2 + 1 * 0.5) / 6.5, 1e-6);
  EXPECT_NEAR(sum, 6.5, 1e-6);
  // [N,1] weights are squeezed as Keras does.
  Buffer column = Buffer::FromVector<float>(Shape{4, 1}, {1, 3, 2, 0.5f});
  EXPECT_NEAR(EvalWeighted("mae", t, p, &column).first, value, 1e-6);
  // All-zero weights: 0, not NaN (Keras' divide_no_nan).
  Buffer zeros = Buffer::Zeros(DType::kF32, Shape{4});
  auto [zero_value, zero_sum] = EvalWeighted("mae", t, p, &zeros);
  EXPECT_EQ(zero_value, 0);
  EXPECT_EQ(zero_sum, 0);
  // No weights: the plain mean, counting every sample.
  auto [plain, count] = EvalWeighted("mae", t, p, nullptr);
  EXPECT_NEAR(plain, 3.5 / 4, 1e-6);
  EXPECT_EQ(count, 4);
  // Weights that do not lead the per-sample values are a clear error.
  auto g = Graph::Create();
  Tensor yt = Input(g, "t", DType::kF32, Shape{4, 1});
  Tensor bad = Input(g, "w", DType::kF32, Shape{3});
  EXPECT_FALSE(Metric("mae").WithSampleWeight(yt, yt, bad).value.ok());
  EXPECT_THAT(std::string(g->status().message()), HasSubstr("[mae]"));
}

// Dense(1) with a fixed kernel [1, -1] and no bias: y_pred = x0 - x1.
std::unique_ptr<Model> Difference(std::vector<Metric> metrics, CompileOptions options) {
  Tensor in = Input({2});
  auto dense = MakeLayer<Dense>(
      1, DenseOptions{
             .use_bias = false,
             .kernel_initializer = std::make_shared<class Constant>(std::vector<double>{1, -1})});
  auto model = std::make_unique<Model>(in, dense(in));
  KILN_CHECK_OK(model->Compile(std::make_shared<SGD>(), "mse", std::move(metrics), options));
  return model;
}

TEST(WeightedMetricsTest, OnlyWeightedMetricsSeeTheSampleWeights) {
  // Predictions 1, -1, 0.5; targets 0, 0, 0: |e| 1, 1, 0.5.
  Buffer x = Buffer::FromVector<float>(Shape{3, 2}, {1, 0, 0, 1, 1, 0.5f});
  Buffer y = Buffer::Zeros(DType::kF32, Shape{3, 1});
  Buffer w = Buffer::FromVector<float>(Shape{3}, {2, 0, 4});
  auto model = Difference({"mae"}, {.weighted_metrics = {"mae", "mse"}});
  auto logs = model->TestOnBatch(x, y, {.sample_weight = &w});
  ASSERT_TRUE(logs.ok()) << logs.status();
  ASSERT_EQ(logs->size(), 4u);
  EXPECT_EQ((*logs)[0].first, "loss");
  EXPECT_NEAR((*logs)[0].second, (2 * 1 + 0 * 1 + 4 * 0.25) / 3, 1e-6);  // sum_over_batch_size
  EXPECT_EQ((*logs)[1].first, "mae");
  EXPECT_NEAR((*logs)[1].second, 2.5 / 3, 1e-6);
  EXPECT_EQ((*logs)[2].first, "weighted_mae");
  EXPECT_NEAR((*logs)[2].second, (2 * 1 + 4 * 0.5) / 6, 1e-6);
  EXPECT_EQ((*logs)[3].first, "mse");  // no unweighted "mse": keeps its name
  EXPECT_NEAR((*logs)[3].second, (2 * 1 + 4 * 0.25) / 6, 1e-6);
  // Without weights a weighted metric is the plain mean.
  auto unweighted = model->TestOnBatch(x, y);
  ASSERT_TRUE(unweighted.ok()) << unweighted.status();
  EXPECT_NEAR((*unweighted)[2].second, 2.5 / 3, 1e-6);
}

TEST(WeightedMetricsTest, ClassWeightsWeighThemToo) {
  // Two classes from the sign of x0 - x1 (softmax over [z, -z] with z = x0 - x1).
  Tensor in = Input({2});
  auto dense = MakeLayer<Dense>(
      2, DenseOptions{.activation = "softmax",
                      .use_bias = false,
                      .kernel_initializer =
                          std::make_shared<class Constant>(std::vector<double>{1, -1, -1, 1})});
  Model model(in, dense(in));
  ASSERT_TRUE(model
                  .Compile(std::make_shared<SGD>(), "sparse_categorical_crossentropy", {"accuracy"},
                           {.weighted_metrics = {"accuracy"}})
                  .ok());
  // argmax: 0, 1, 0, 1; labels 0, 1, 1, 1: all but row 2 right.
  Buffer x = Buffer::FromVector<float>(Shape{4, 2}, {1, 0, 0, 1, 2, 1, -1, 0});
  Buffer y = Buffer::FromVector<int32_t>(Shape{4}, {0, 1, 1, 1});
  auto logs = model.TestOnBatch(x, y, {.class_weight = {{0, 1.0}, {1, 3.0}}});
  ASSERT_TRUE(logs.ok()) << logs.status();
  ASSERT_EQ(logs->size(), 3u);
  EXPECT_EQ((*logs)[1].first, "accuracy");
  EXPECT_NEAR((*logs)[1].second, 0.75, 1e-6);
  EXPECT_EQ((*logs)[2].first, "weighted_accuracy");
  EXPECT_NEAR((*logs)[2].second, (1.0 + 3 + 3) / (1 + 3 + 3 + 3), 1e-6);
}

TEST(WeightedMetricsTest, MultiOutputNamesAndOrderAreKeras) {
  Tensor in = Input({2});
  Tensor a = MakeLayer<Dense>(1, DenseOptions{.name = "a"})(in);
  Tensor b = MakeLayer<Dense>(1, DenseOptions{.name = "b"})(in);
  Model model(std::vector<Tensor>{in}, std::vector<Tensor>{a, b});
  ASSERT_TRUE(model
                  .Compile(std::make_shared<SGD>(),
                           {OutputTraining{.loss = "mse", .metrics = {"mae"}},
                            OutputTraining{.loss = "mse", .weighted_metrics = {"mse"}}},
                           {.weighted_metrics = {"mae"}})
                  .ok());
  Buffer x = Buffer::Zeros(DType::kF32, Shape{2, 2});
  Buffer y = Buffer::Zeros(DType::kF32, Shape{2, 1});
  const Buffer* inputs[] = {&x};
  const Buffer* targets[] = {&y, &y};
  auto logs = model.TestOnBatch(inputs, targets);
  ASSERT_TRUE(logs.ok()) << logs.status();
  std::vector<std::string> names;
  for (const auto& [name, value] : *logs) names.push_back(name);
  EXPECT_THAT(names,
              ElementsAre("loss", "a_loss", "b_loss", "a_mae", "a_weighted_mae", "b_mse", "b_mae"));
}

TEST(WeightedMetricsTest, TwoMetricsWithOneNameAreAnError) {
  Tensor in = Input({2});
  Model model(in, MakeLayer<Dense>(1)(in));
  absl::Status s = model.Compile(std::make_shared<SGD>(), "mse", {"mae", "mae"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("two metrics with the same name: 'mae'"));
  // As in Keras, a second "mae" becomes "weighted_mae"; a third clashes.
  EXPECT_TRUE(
      model.Compile(std::make_shared<SGD>(), "mse", {}, {.weighted_metrics = {"mae", "mae"}}).ok());
  s = model.Compile(std::make_shared<SGD>(), "mse", {},
                    {.weighted_metrics = {"mae", "mae", "mae"}});
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("two metrics with the same name: 'weighted_mae'"));
  EXPECT_THAT(std::string(model
                              .Compile(std::make_shared<SGD>(), "mse", {},
                                       {.weighted_metrics = {"precision_at_1"}})
                              .message()),
              HasSubstr("unknown metric 'precision_at_1'"));
}

}  // namespace
}  // namespace kiln
