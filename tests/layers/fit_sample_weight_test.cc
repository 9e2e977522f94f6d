// Fit and Evaluate with Keras' sample_weight arrays and weighted_metrics:
// each step against a twin stepped by hand with TrainOnBatch and the same
// rows' weights; Evaluate's logs against the formulas over all rows
// written out here (the loss sum(w e^2) / rows, a weighted metric
// sum(w |e|) / sum(w) across batches, a plain metric unweighted);
// validation_split keeping the held-out rows' weights; clear errors.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/fit_data.h"
#include "layers/model.h"
#include "tests/layers/fit_test_util.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// 1, 2, 3, 1, 2, 3, ... with rows [zero_begin, zero_end) at 0.
Buffer RowWeights(int n, int zero_begin = 0, int zero_end = 0) {
  std::vector<float> w;
  for (int i = 0; i < n; ++i) w.push_back(i >= zero_begin && i < zero_end ? 0 : 1 + i % 3);
  return Buffer::FromVector<float>(Shape{n}, w);
}

TEST(FitSampleWeightTest, EveryStepWeighsItsRows) {
  LinearData data(20);
  Buffer w = RowWeights(20);
  auto fitted = LinearModel(), by_hand = LinearModel(), unweighted = LinearModel();
  auto history =
      fitted->Fit(data.x, data.y, Quiet({.batch_size = 8, .sample_weight = &w, .shuffle = false}));
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_TRUE(unweighted->Fit(data.x, data.y, Quiet({.batch_size = 8, .shuffle = false})).ok());
  ArrayData all = *ArrayData::Make({&data.x}, data.y, &w);
  double sum = 0;
  for (auto [begin, end] : {std::pair{0, 8}, {8, 16}, {16, 20}}) {
    ArrayData part = all.Slice(begin, end);
    auto logs =
        by_hand->TrainOnBatch(part.x[0], part.y[0], {.sample_weight = &*part.sample_weight});
    ASSERT_TRUE(logs.ok()) << logs.status();
    sum += (*logs)[0].second * (end - begin);  // Keras: "loss" is a mean over rows
  }
  EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));
  EXPECT_NE(WeightValues(*fitted), WeightValues(*unweighted));
  EXPECT_NEAR(history->Values("loss")[0], sum / 20, 1e-6);
}

// The errors of `model` on `data`'s rows, by Predict.
std::vector<double> Errors(Model& model, const Buffer& x, const Buffer& y) {
  auto predicted = model.Predict(x);
  KILN_CHECK_OK(predicted.status());
  std::vector<double> e;
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    e.push_back(predicted->GetAsDouble(i) - y.GetAsDouble(i));
  }
  return e;
}

TEST(FitSampleWeightTest, EvaluateWeighsTheLossAndTheWeightedMetricsOnly) {
  LinearData data(23);
  Buffer w = RowWeights(23, /*zero_begin=*/7, /*zero_end=*/14);  // batch 2 weighs nothing
  auto model = LinearModel(0.1, {"mae"}, {.weighted_metrics = {"mae"}});
  auto logs = model->Evaluate(data.x, data.y, {.batch_size = 7, .sample_weight = &w, .verbose = 0});
  ASSERT_TRUE(logs.ok()) << logs.status();
  const std::vector<double> e = Errors(*model, data.x, data.y);
  double loss = 0, mae = 0, weighted = 0, weights = 0;
  for (int i = 0; i < 23; ++i) {
    const double wi = w.GetAsDouble(i);
    loss += wi * e[i] * e[i] / 23;
    mae += std::abs(e[i]) / 23;
    weighted += wi * std::abs(e[i]);
    weights += wi;
  }
  ASSERT_EQ(logs->size(), 3u);
  EXPECT_EQ((*logs)[0].first, "loss");
  EXPECT_NEAR((*logs)[0].second, loss, 1e-5);
  EXPECT_EQ((*logs)[1].first, "mae");
  EXPECT_NEAR((*logs)[1].second, mae, 1e-5);
  EXPECT_EQ((*logs)[2].first, "weighted_mae");
  EXPECT_NEAR((*logs)[2].second, weighted / weights, 1e-5);
}

TEST(FitSampleWeightTest, ValidationSplitKeepsTheHeldOutRowsWeights) {
  LinearData data(20);
  Buffer w = RowWeights(20);
  auto model = LinearModel(0.1, {}, {.weighted_metrics = {"mae"}});
  auto history = model->Fit(
      data.x, data.y, Quiet({.batch_size = 8, .validation_split = 0.25, .sample_weight = &w}));
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(history->Names(), ElementsAre("loss", "mae", "val_loss", "val_mae"));
  // Rows 15..19 with weights 1 + i % 3.
  ArrayData held_out = ArrayData::Make({&data.x}, data.y, &w)->Slice(15, 20);
  const std::vector<double> e = Errors(*model, held_out.x[0], held_out.y[0]);
  double loss = 0, weighted = 0, weights = 0;
  for (int i = 0; i < 5; ++i) {
    const double wi = 1 + (15 + i) % 3;
    loss += wi * e[i] * e[i] / 5;
    weighted += wi * std::abs(e[i]);
    weights += wi;
  }
  EXPECT_NEAR(history->Values("val_loss")[0], loss, 1e-5);
  EXPECT_NEAR(history->Values("val_mae")[0], weighted / weights, 1e-5);

  // Explicit validation data takes its own weights.
  Buffer val_w = RowWeights(20, 0, 10);
  auto explicit_run = model->Fit(data.x, data.y,
                                 Quiet({.validation_x = {&data.x},
                                        .validation_y = &data.y,
                                        .validation_sample_weight = &val_w,
                                        .shuffle = false}));
  ASSERT_TRUE(explicit_run.ok()) << explicit_run.status();
  auto evaluated = model->Evaluate(data.x, data.y, {.sample_weight = &val_w, .verbose = 0});
  ASSERT_TRUE(evaluated.ok()) << evaluated.status();
  EXPECT_NEAR(explicit_run->Values("val_mae")[0], (*evaluated)[1].second, 1e-6);
}

TEST(FitSampleWeightTest, BadWeightsAreClearErrors) {
  LinearData data(20);
  auto model = LinearModel();
  Buffer short_w = RowWeights(19);
  EXPECT_THAT(
      std::string(
          model->Fit(data.x, data.y, Quiet({.sample_weight = &short_w})).status().message()),
      HasSubstr("sample_weight has 19 rows [19] but y has 20 rows"));
  EXPECT_THAT(std::string(model->Evaluate(data.x, data.y, {.sample_weight = &short_w, .verbose = 0})
                              .status()
                              .message()),
              HasSubstr("sample_weight has 19 rows"));
  Buffer wide_w = Buffer::Zeros(DType::kF32, Shape{20, 3});
  EXPECT_THAT(
      std::string(model->Fit(data.x, data.y, Quiet({.sample_weight = &wide_w})).status().message()),
      HasSubstr("Fit: [mean_squared_error] expected float sample weights of shape [N], [N,1]"));
  Buffer w = RowWeights(20);
  EXPECT_THAT(
      std::string(
          model->Fit(data.x, data.y, Quiet({.validation_sample_weight = &w})).status().message()),
      HasSubstr("validation_sample_weight is set but validation_y is not"));
}

}  // namespace
}  // namespace kiln
