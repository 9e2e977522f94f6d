// Fit and Evaluate on a model with two outputs, one target array each:
// the steps against a twin stepped by hand with TrainOnBatch on the same
// rows (loss weights and a shared sample_weight included), "loss" as the
// loss-weighted sum of the per-output losses, Keras' log names
// ("<output>_loss", "<output>_<metric>", "val_" for validation), Evaluate
// against the per-output formulas on Predict's outputs, an untrained
// output without targets, and clear errors for the wrong number or rows
// of targets.
#include <cmath>
#include <memory>
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

TEST(FitMultiOutputTest, StepsMatchTrainOnBatchAndLossIsTheWeightedSum) {
  TwoTargets t(20);
  Buffer w = Buffer::FromVector<float>(Shape{20}, std::vector<float>(20, 1.0f));
  for (int i = 0; i < 20; ++i) w.SetFromDouble(i, 1 + i % 4);
  auto fitted = TwoHeads(), by_hand = TwoHeads();
  const Buffer* inputs[] = {&t.data.x};
  const Buffer* targets[] = {&t.data.y, &t.b};
  auto history =
      fitted->Fit(inputs, targets,
                  Quiet({.epochs = 2, .batch_size = 8, .sample_weight = &w, .shuffle = false}));
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(history->Names(), ElementsAre("loss", "a_loss", "b_loss", "a_mae"));
  ArrayData all = *ArrayData::Make(inputs, targets, &w);
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<double> sums(4, 0);
    for (auto [begin, end] : {std::pair{0, 8}, {8, 16}, {16, 20}}) {
      ArrayData part = all.Slice(begin, end);
      const Buffer* x[] = {&part.x[0]};
      const Buffer* y[] = {&part.y[0], &part.y[1]};
      auto logs = by_hand->TrainOnBatch(x, y, {.sample_weight = &*part.sample_weight});
      ASSERT_TRUE(logs.ok()) << logs.status();
      for (int k = 0; k < 4; ++k) sums[k] += (*logs)[k].second * (end - begin);
    }
    for (int k = 0; k < 4; ++k) {
      EXPECT_NEAR(history->Values((*history).Names()[k])[epoch], sums[k] / 20, 1e-6) << k;
    }
    EXPECT_NEAR(history->Values("loss")[epoch],
                0.5 * history->Values("a_loss")[epoch] + 2 * history->Values("b_loss")[epoch],
                1e-6);
  }
  EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));
}

TEST(FitMultiOutputTest, EvaluateAndValidationGiveEachOutputsLoss) {
  TwoTargets t(23);
  auto model = TwoHeads();
  const Buffer* inputs[] = {&t.data.x};
  const Buffer* targets[] = {&t.data.y, &t.b};
  auto logs = model->Evaluate(inputs, targets, {.batch_size = 5, .verbose = 0});
  ASSERT_TRUE(logs.ok()) << logs.status();
  auto predicted = model->Predict(inputs);
  ASSERT_TRUE(predicted.ok()) << predicted.status();
  double mse = 0, mae_a = 0, mae_b = 0;
  for (int i = 0; i < 23; ++i) {
    const double ea = (*predicted)[0].GetAsDouble(i) - t.data.y.GetAsDouble(i);
    const double eb = (*predicted)[1].GetAsDouble(i) - t.b.GetAsDouble(i);
    mse += ea * ea / 23;
    mae_a += std::abs(ea) / 23;
    mae_b += std::abs(eb) / 23;
  }
  ASSERT_EQ(logs->size(), 4u);
  EXPECT_EQ((*logs)[0].first, "loss");
  EXPECT_NEAR((*logs)[0].second, 0.5 * mse + 2 * mae_b, 1e-5);
  EXPECT_EQ((*logs)[1].first, "a_loss");
  EXPECT_NEAR((*logs)[1].second, mse, 1e-5);
  EXPECT_EQ((*logs)[2].first, "b_loss");
  EXPECT_NEAR((*logs)[2].second, mae_b, 1e-5);
  EXPECT_EQ((*logs)[3].first, "a_mae");
  EXPECT_NEAR((*logs)[3].second, mae_a, 1e-5);

  // Validation data with a target per output: "val_" logs equal Evaluate's.
  auto history = model->Fit(
      inputs, targets, Quiet({.validation_x = {&t.data.x}, .validation_ys = {&t.data.y, &t.b}}));
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(history->Names(), ElementsAre("loss", "a_loss", "b_loss", "a_mae", "val_loss",
                                            "val_a_loss", "val_b_loss", "val_a_mae"));
  auto after = model->Evaluate(inputs, targets, {.verbose = 0});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NEAR(history->Values("val_loss")[0], (*after)[0].second, 1e-6);
  EXPECT_NEAR(history->Values("val_b_loss")[0], (*after)[2].second, 1e-6);
}

TEST(FitMultiOutputTest, AnUntrainedOutputTakesNoTargets) {
  TwoTargets t(12);
  auto fitted = TwoHeads(/*train_b=*/false), by_hand = TwoHeads(/*train_b=*/false);
  const Buffer* inputs[] = {&t.data.x};
  const Buffer* targets[] = {&t.data.y, nullptr};
  auto history = fitted->Fit(inputs, targets, Quiet({.batch_size = 12, .shuffle = false}));
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(history->Names(), ElementsAre("loss", "a_loss", "a_mae"));
  ASSERT_TRUE(by_hand->TrainOnBatch(inputs, targets).ok());
  EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));
}

TEST(FitMultiOutputTest, WrongTargetsAreClearErrors) {
  TwoTargets t(20);
  auto model = TwoHeads();
  const Buffer* inputs[] = {&t.data.x};
  const Buffer* one[] = {&t.data.y};
  const std::string name = model->name();
  EXPECT_EQ(
      model->Fit(inputs, one, Quiet({})).status().message(),
      "Fit: model '" + name + "' has 2 outputs, got 1 target arrays (y); give one per output");
  EXPECT_EQ(
      model->Evaluate(t.data.x, t.data.y, {.verbose = 0}).status().message(),
      "Evaluate: model '" + name + "' has 2 outputs, got 1 target arrays (y); give one per output");
  Buffer short_b = Buffer::Zeros(DType::kF32, Shape{19, 1});
  const Buffer* short_targets[] = {&t.data.y, &short_b};
  EXPECT_THAT(std::string(model->Fit(inputs, short_targets, Quiet({})).status().message()),
              HasSubstr("Fit: Data cardinality is ambiguous: y[1] (output 'b') has 19 rows [19,1] but "
                        "y[0] (output 'a') has 20 rows"));
  const Buffer* targets[] = {&t.data.y, &t.b};
  EXPECT_THAT(
      std::string(model
                      ->Fit(inputs, targets,
                            Quiet({.validation_x = {&t.data.x}, .validation_ys = {&t.data.y}}))
                      .status()
                      .message()),
      HasSubstr("Fit: validation: model '" + name + "' has 2 outputs, got 1 target arrays"));
  EXPECT_THAT(std::string(model->Fit(inputs, targets, Quiet({.class_weight = {{0, 2.0}}}))
                              .status()
                              .message()),
              HasSubstr("Fit: class_weight is only supported for models with a single output"));
  const Buffer* missing[] = {&t.data.y, nullptr};
  EXPECT_THAT(std::string(model->Fit(inputs, missing, Quiet({})).status().message()),
              HasSubstr("Fit: labels of output 'b': y needs a batch axis, got no array"));
}

}  // namespace
}  // namespace kiln
