// TrainOnBatch / TestOnBatch with Keras' sample_weight and class_weight on
// both backends: the loss is sum(w * per-sample loss) / N (not / sum(w)),
// the update follows the weighted gradient (written out here in plain
// C++), metrics stay unweighted, class weights come from class indices or
// one-hot rows, and bad weights give clear Statuses.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "layers/dense.h"
#include "layers/initializers.h"
#include "layers/input_layer.h"
#include "layers/losses.h"
#include "layers/model.h"
#include "layers/optimizers.h"

namespace kiln {
namespace {

constexpr int kBatch = 3, kFeatures = 2, kUnits = 2;
const std::vector<float> kX = {1, 2, -1, 0.5f, 0.25f, -2};
const std::vector<float> kT = {0.5f, -1, 2, 0, 1, 1};
const std::vector<double> kW0 = {0.3, -0.2, 0.7, 0.1};

// Dense(units) without bias, kernel kW0-like, as a one-output model.
std::unique_ptr<Model> LinearModel(const std::vector<double>& kernel, int units) {
  ClearSession();
  Tensor in = Input({kFeatures});
  Tensor out = MakeLayer<Dense>(
      units, DenseOptions{.use_bias = false,
                          .kernel_initializer = std::make_shared<class Constant>(kernel)})(in);
  return std::make_unique<Model>(in, out);
}

double Forward(const std::vector<double>& w, int units, int r, int u) {
  double y = 0;
  for (int f = 0; f < kFeatures; ++f) y += kX[r * kFeatures + f] * w[f * units + u];
  return y;
}

class SampleWeightsTest : public ::testing::TestWithParam<Backend> {};

TEST_P(SampleWeightsTest, MseIsWeightedAndDividedByTheBatchSize) {
  const std::vector<float> sw = {0.5f, 2, 0};
  double loss = 0, unweighted = 0, grad[kFeatures][kUnits] = {};
  for (int r = 0; r < kBatch; ++r) {
    for (int u = 0; u < kUnits; ++u) {
      const double e = Forward(kW0, kUnits, r, u) - kT[r * kUnits + u];
      loss += sw[r] * e * e / kUnits / kBatch;
      unweighted += e * e / kUnits / kBatch;
      for (int f = 0; f < kFeatures; ++f) {
        grad[f][u] += sw[r] * kX[r * kFeatures + f] * 2 * e / kUnits / kBatch;
      }
    }
  }
  Buffer x = Buffer::FromVector<float>(Shape{kBatch, kFeatures}, kX);
  Buffer t = Buffer::FromVector<float>(Shape{kBatch, kUnits}, kT);
  for (const Shape& weight_shape : {Shape{kBatch}, Shape{kBatch, 1}}) {
    auto model = LinearModel(kW0, kUnits);
    ASSERT_TRUE(model
                    ->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 1.0}), "mse",
                              {"mse"}, {.backend = GetParam()})
                    .ok());
    Buffer w = Buffer::FromVector<float>(weight_shape, sw);
    auto test = model->TestOnBatch(x, t, {.sample_weight = &w});
    ASSERT_TRUE(test.ok()) << test.status();
    EXPECT_NEAR((*test)[0].second, loss, 1e-5);
    EXPECT_NEAR((*test)[1].second, unweighted, 1e-5);  // metrics are not weighted
    auto logs = model->TrainOnBatch(x, t, {.sample_weight = &w});
    ASSERT_TRUE(logs.ok()) << logs.status();
    EXPECT_NEAR((*logs)[0].second, loss, 1e-5);
    const Buffer& kernel = model->weights()[0]->value;
    for (int f = 0; f < kFeatures; ++f) {
      for (int u = 0; u < kUnits; ++u) {
        EXPECT_NEAR(kernel.GetAsDouble(f * kUnits + u), kW0[f * kUnits + u] - grad[f][u], 1e-5);
      }
    }
    // Without weights the same model compiles a second program: all ones.
    auto plain = model->TestOnBatch(x, t);
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_EQ(plain->size(), 2u);
  }
}

TEST_P(SampleWeightsTest, ClassWeightsComeFromIndicesOrOneHotRowsAndMultiplySampleWeights) {
  const std::vector<double> kernel = {0.3, -0.2, 0.5, 0.7, 0.1, -0.4};  // [2,3]
  const std::vector<int> ids = {0, 2, 1};
  const std::vector<double> class_weight = {1.0, 3.0, 0.5};
  const std::vector<float> sw = {2, 1, 0.5f};
  double weighted = 0, with_sample_weight = 0;
  for (int r = 0; r < kBatch; ++r) {
    double m = -1e30, s = 0;
    for (int c = 0; c < 3; ++c) m = std::max(m, Forward(kernel, 3, r, c));
    for (int c = 0; c < 3; ++c) s += std::exp(Forward(kernel, 3, r, c) - m);
    const double ce = -(Forward(kernel, 3, r, ids[r]) - m - std::log(s));
    weighted += class_weight[ids[r]] * ce / kBatch;
    with_sample_weight += sw[r] * class_weight[ids[r]] * ce / kBatch;
  }
  Buffer x = Buffer::FromVector<float>(Shape{kBatch, kFeatures}, kX);
  Buffer sparse = Buffer::FromVector<int32_t>(Shape{kBatch}, {0, 2, 1});
  Buffer one_hot = Buffer::FromVector<float>(Shape{kBatch, 3}, {1, 0, 0, 0, 0, 1, 0, 1, 0});
  Buffer w = Buffer::FromVector<float>(Shape{kBatch}, sw);
  const BatchWeights by_class{.class_weight = {{0, 1.0}, {1, 3.0}, {2, 0.5}}};
  const BatchWeights both{.sample_weight = &w, .class_weight = by_class.class_weight};
  const std::pair<Loss, const Buffer*> cases[] = {
      {SparseCategoricalCrossentropy(/*from_logits=*/true), &sparse},
      {CategoricalCrossentropy({.from_logits = true}), &one_hot}};
  for (const auto& [loss, labels] : cases) {
    auto model = LinearModel(kernel, 3);
    ASSERT_TRUE(model->Compile(std::make_shared<SGD>(), loss, {}, {.backend = GetParam()}).ok());
    auto logs = model->TestOnBatch(x, *labels, by_class);
    ASSERT_TRUE(logs.ok()) << logs.status();
    EXPECT_NEAR((*logs)[0].second, weighted, 1e-5) << loss.name();
    logs = model->TestOnBatch(x, *labels, both);
    ASSERT_TRUE(logs.ok()) << logs.status();
    EXPECT_NEAR((*logs)[0].second, with_sample_weight, 1e-5) << loss.name();
  }
}

TEST_P(SampleWeightsTest, RankOneLabelsOfAOneUnitOutputKeepOneLossPerSample) {
  // Dense(1, sigmoid) with labels [N] (Keras' match_dtype_and_rank makes
  // them [N,1]): weights [N] weigh each sample's binary crossentropy.
  const std::vector<double> kernel = {0.8, -0.3};
  const std::vector<float> t = {1, 0, 1};
  const std::vector<float> sw = {1, 4, 0.5f};
  double want = 0;
  for (int r = 0; r < kBatch; ++r) {
    const double p = std::clamp(1 / (1 + std::exp(-Forward(kernel, 1, r, 0))), 1e-7, 1 - 1e-7);
    want += sw[r] * -(t[r] * std::log(p + 1e-7) + (1 - t[r]) * std::log(1 - p + 1e-7)) / kBatch;
  }
  ClearSession();
  Tensor in = Input({kFeatures});
  Tensor out = MakeLayer<Dense>(1, DenseOptions{.activation = "sigmoid",
                                                .use_bias = false,
                                                .kernel_initializer =
                                                    std::make_shared<class Constant>(kernel)})(in);
  Model model(in, out);
  ASSERT_TRUE(model.Compile(std::make_shared<SGD>(), "binary_crossentropy", {"accuracy"},
                            {.backend = GetParam()})
                  .ok());
  Buffer x = Buffer::FromVector<float>(Shape{kBatch, kFeatures}, kX);
  Buffer labels = Buffer::FromVector<float>(Shape{kBatch}, t);
  Buffer w = Buffer::FromVector<float>(Shape{kBatch}, sw);
  auto logs = model.TestOnBatch(x, labels, {.sample_weight = &w});
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_NEAR((*logs)[0].second, want, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Backends, SampleWeightsTest,
                         ::testing::Values(Backend::kJit, Backend::kInterp),
                         [](const auto& info) { return std::string(BackendName(info.param)); });

TEST(SampleWeightsErrorsTest, BadWeightsGiveClearStatuses) {
  auto model = LinearModel(kW0, kUnits);
  ASSERT_TRUE(model->Compile(std::make_shared<SGD>(), "mse").ok());
  Buffer x = Buffer::FromVector<float>(Shape{kBatch, kFeatures}, kX);
  Buffer t = Buffer::FromVector<float>(Shape{kBatch, kUnits}, kT);
  Buffer rows = Buffer::Zeros(DType::kF32, Shape{2});
  EXPECT_EQ(model->TrainOnBatch(x, t, {.sample_weight = &rows}).status().message(),
            "TrainOnBatch: expected numeric sample_weight with 3 rows, got f32[2]");
  Buffer wide = Buffer::Zeros(DType::kF32, Shape{kBatch, 4});
  EXPECT_EQ(model->TestOnBatch(x, t, {.sample_weight = &wide}).status().message(),
            "TestOnBatch: [mean_squared_error] expected float sample weights of shape [N], "
            "[N,1] or the per-sample loss shape [N], got f32[N,4]");
  Buffer ids = Buffer::FromVector<float>(Shape{kBatch, 1}, {0, 1, 5});
  auto sparse = LinearModel(kW0, kUnits);
  ASSERT_TRUE(sparse->Compile(std::make_shared<SGD>(), "sparse_categorical_crossentropy").ok());
  EXPECT_EQ(sparse->TrainOnBatch(x, ids, {.class_weight = {{0, 1.0}, {2, 1.0}}}).status().message(),
            "TrainOnBatch: expected class_weight keys from 0 to one less than the number of "
            "classes, got 2 keys from 0 to 2");
  EXPECT_EQ(sparse->TrainOnBatch(x, ids, {.class_weight = {{0, 1.0}, {1, 2.0}}}).status().message(),
            "TrainOnBatch: the label of row 2 is class 5, which has no class_weight (keys 0 to 1)");
  // Nothing was trained by the failed calls.
  EXPECT_EQ(sparse->optimizer()->iterations(), 0);
}

}  // namespace
}  // namespace kiln
