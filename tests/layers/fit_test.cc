// Model::Fit and Model::Evaluate (layers/fit.h): each checked against an
// independent computation: a twin model stepped by hand with TrainOnBatch
// over the batches Keras would cut (short last batch, validation rows
// excluded), epoch logs as sample-weighted means of those steps, Evaluate
// against the loss formula on Predict's outputs; plus History contents,
// early stopping, checkpoint files, learning-rate schedules, initial_epoch,
// the printed progress lines, bad arguments, and a tiny classification
// whose loss must fall.
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/checkpoint.h"
#include "layers/dense.h"
#include "layers/fit_data.h"
#include "layers/model.h"
#include "layers/model_checkpoint.h"
#include "layers/monitor_callbacks.h"
#include "layers/optimizers.h"
#include "tests/layers/fit_test_util.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(FitTest, EpochLossIsTheSampleWeightedMeanOfTheBatchesKerasCuts) {
  LinearData data(20);
  auto fitted = LinearModel();
  auto by_hand = LinearModel();
  auto history =
      fitted->Fit(data.x, data.y, Quiet({.epochs = 2, .batch_size = 8, .shuffle = false}));
  ASSERT_TRUE(history.ok()) << history.status();

  // By hand: batches of 8, 8 and 4 rows per epoch.
  std::vector<double> expected;
  ArrayData all = *ArrayData::Make({&data.x}, data.y);
  for (int epoch = 0; epoch < 2; ++epoch) {
    double sum = 0;
    for (auto [begin, end] : {std::pair{0, 8}, {8, 16}, {16, 20}}) {
      ArrayData part = all.Slice(begin, end);
      auto logs = by_hand->TrainOnBatch(part.x[0], part.y[0]);
      ASSERT_TRUE(logs.ok()) << logs.status();
      sum += (*logs)[0].second * (end - begin);
    }
    expected.push_back(sum / 20);
  }
  EXPECT_THAT(history->Names(), ElementsAre("loss"));
  ASSERT_EQ(history->Values("loss").size(), 2u);
  EXPECT_NEAR(history->Values("loss")[0], expected[0], 1e-6);
  EXPECT_NEAR(history->Values("loss")[1], expected[1], 1e-6);
  EXPECT_THAT(history->epochs(), ElementsAre(0, 1));
  EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));
}

TEST(FitTest, StepsPerEpochContinueThroughTheData) {
  LinearData data(20);
  auto fitted = LinearModel();
  auto by_hand = LinearModel();
  // 2 steps per epoch: epoch 0 takes rows 0-7, 8-15; epoch 1 the short
  // batch 16-19, then a new pass from row 0.
  auto history =
      fitted->Fit(data.x, data.y,
                  Quiet({.epochs = 2, .batch_size = 8, .shuffle = false, .steps_per_epoch = 2}));
  ASSERT_TRUE(history.ok()) << history.status();
  ArrayData all = *ArrayData::Make({&data.x}, data.y);
  for (auto [begin, end] : {std::pair{0, 8}, {8, 16}, {16, 20}, {0, 8}}) {
    ArrayData part = all.Slice(begin, end);
    ASSERT_TRUE(by_hand->TrainOnBatch(part.x[0], part.y[0]).ok());
  }
  EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));
}

TEST(FitTest, ClassWeightsReachEveryStep) {
  // Labels 0/1 by the sign of x0; class 1 counts 3 times as much.
  LinearData data(20);
  Buffer labels = SignLabels(data);
  auto fitted = SoftmaxModel(), by_hand = SoftmaxModel(), unweighted = SoftmaxModel();
  const std::map<int64_t, double> class_weight = {{0, 1.0}, {1, 3.0}};
  ASSERT_TRUE(fitted
                  ->Fit(data.x, labels,
                        Quiet({.batch_size = 8, .class_weight = class_weight, .shuffle = false}))
                  .ok());
  ASSERT_TRUE(unweighted->Fit(data.x, labels, Quiet({.batch_size = 8, .shuffle = false})).ok());
  ArrayData all = *ArrayData::Make({&data.x}, labels);
  for (auto [begin, end] : {std::pair{0, 8}, {8, 16}, {16, 20}}) {
    ArrayData part = all.Slice(begin, end);
    ASSERT_TRUE(by_hand->TrainOnBatch(part.x[0], part.y[0], {.class_weight = class_weight}).ok());
  }
  EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));
  EXPECT_NE(WeightValues(*fitted), WeightValues(*unweighted));
}

TEST(FitTest, ValidationSplitHoldsOutTheLastRows) {
  LinearData data(20);
  auto fitted = LinearModel();
  auto by_hand = LinearModel();
  // floor(20 * 0.75) = 15 training rows: batches 0-7, 8-14.
  auto history = fitted->Fit(
      data.x, data.y,
      Quiet({.epochs = 1, .batch_size = 8, .validation_split = 0.25, .shuffle = false}));
  ASSERT_TRUE(history.ok()) << history.status();
  ArrayData all = *ArrayData::Make({&data.x}, data.y);
  for (auto [begin, end] : {std::pair{0, 8}, {8, 15}}) {
    ArrayData part = all.Slice(begin, end);
    ASSERT_TRUE(by_hand->TrainOnBatch(part.x[0], part.y[0]).ok());
  }
  EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));
  EXPECT_THAT(history->Names(), ElementsAre("loss", "val_loss"));

  // val_loss: the mse of the final model on rows 15..19.
  ArrayData held_out = all.Slice(15, 20);
  auto predicted = by_hand->Predict(held_out.x[0]);
  ASSERT_TRUE(predicted.ok());
  double mse = 0;
  for (int i = 0; i < 5; ++i) {
    const double d = predicted->GetAsDouble(i) - held_out.y[0].GetAsDouble(i);
    mse += d * d / 5;
  }
  EXPECT_NEAR(history->Values("val_loss")[0], mse, 1e-6);
}

TEST(FitTest, EvaluateMatchesTheLossOnPredictions) {
  LinearData data(23);
  auto model = LinearModel();
  auto logs = model->Evaluate(data.x, data.y, {.batch_size = 7, .verbose = 0});
  ASSERT_TRUE(logs.ok()) << logs.status();
  auto predicted = model->Predict(data.x);
  ASSERT_TRUE(predicted.ok());
  double mse = 0;
  for (int i = 0; i < 23; ++i) {
    const double d = predicted->GetAsDouble(i) - data.y.GetAsDouble(i);
    mse += d * d / 23;
  }
  ASSERT_EQ(logs->size(), 1u);
  EXPECT_EQ((*logs)[0].first, "loss");
  EXPECT_NEAR((*logs)[0].second, mse, 1e-5);
}

TEST(FitTest, EarlyStoppingEndsTraining) {
  LinearData data(20);
  auto model = LinearModel();
  // The loss falls every epoch, so "max" mode never sees an improvement
  // after epoch 0 and patience 1 stops after epoch 1.
  auto stop = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "loss", .patience = 1, .mode = "max"});
  auto history =
      model->Fit(data.x, data.y, Quiet({.epochs = 10, .batch_size = 5, .callbacks = {stop}}));
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(history->epochs(), ElementsAre(0, 1));
  EXPECT_EQ(stop->stopped_epoch(), 1);
}

TEST(FitTest, CheckpointsEveryEpochAndResumes) {
  LinearData data(20);
  auto model = LinearModel();
  const std::string dir = ::testing::TempDir();
  auto ckpt = std::make_shared<ModelCheckpoint>(dir + "/fit_{epoch:02d}.npz");
  auto history =
      model->Fit(data.x, data.y, Quiet({.epochs = 3, .batch_size = 10, .callbacks = {ckpt}}));
  ASSERT_TRUE(history.ok()) << history.status();
  for (const char* name : {"fit_01.npz", "fit_02.npz", "fit_03.npz"}) {
    EXPECT_TRUE(std::ifstream(dir + "/" + name).good()) << name;
  }
  const std::vector<double> final_weights = WeightValues(*model);
  auto epoch = RestoreCheckpoint(dir + "/fit_02.npz", *model, model->optimizer()->Variables());
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, 2);
  EXPECT_NE(WeightValues(*model), final_weights);
  // Resuming epoch 3 from the epoch-2 checkpoint repeats the same weights.
  auto resumed =
      model->Fit(data.x, data.y, Quiet({.epochs = 3, .batch_size = 10, .initial_epoch = 2}));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_THAT(resumed->epochs(), ElementsAre(2));
  const std::vector<double> again = WeightValues(*model);
  ASSERT_EQ(again.size(), final_weights.size());
  for (size_t i = 0; i < again.size(); ++i) EXPECT_NEAR(again[i], final_weights[i], 1e-6);
}

TEST(FitTest, CheckpointsEverySaveFreqBatchesAcrossEpochs) {
  LinearData data(20);  // batches of 8: 3 per epoch
  auto model = LinearModel();
  const std::string dir = ::testing::TempDir();
  auto ckpt = std::make_shared<ModelCheckpoint>(dir + "/sf_{epoch:02d}_{batch}.npz",
                                                ModelCheckpointOptions{.save_freq = 4});
  auto history = model->Fit(
      data.x, data.y,
      Quiet({.epochs = 3, .batch_size = 8, .callbacks = {ckpt}, .shuffle = false}));
  ASSERT_TRUE(history.ok()) << history.status();
  // 9 batches: the 4th is epoch 2's first, the 8th epoch 3's second.
  EXPECT_TRUE(std::ifstream(dir + "/sf_02_1.npz").good());
  EXPECT_TRUE(std::ifstream(dir + "/sf_03_2.npz").good());
  for (const char* name : {"sf_01_3.npz", "sf_02_3.npz", "sf_03_1.npz", "sf_03_3.npz"}) {
    EXPECT_FALSE(std::ifstream(dir + "/" + name).good()) << name;
  }
  // sf_02_1 holds the weights after 4 steps, and 1 finished epoch.
  auto by_hand = LinearModel();
  ArrayData all = *ArrayData::Make({&data.x}, data.y);
  for (auto [begin, end] : {std::pair{0, 8}, {8, 16}, {16, 20}, {0, 8}}) {
    ArrayData part = all.Slice(begin, end);
    ASSERT_TRUE(by_hand->TrainOnBatch(part.x[0], part.y[0]).ok());
  }
  EXPECT_NE(WeightValues(*model), WeightValues(*by_hand));  // 9 steps
  auto epoch = RestoreCheckpoint(dir + "/sf_02_1.npz", *model, model->optimizer()->Variables());
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, 1);
  EXPECT_EQ(WeightValues(*model), WeightValues(*by_hand));

  for (ModelCheckpointOptions bad : {ModelCheckpointOptions{.save_freq = 0},
                                     ModelCheckpointOptions{.save_freq = "batch"}}) {
    auto checkpoint = std::make_shared<ModelCheckpoint>(dir + "/never.npz", bad);
    EXPECT_THAT(
        std::string(model->Fit(data.x, data.y, Quiet({.callbacks = {checkpoint}})).status().message()),
        HasSubstr("save_freq must be \"epoch\" or a number of batches > 0"));
  }
}

TEST(FitTest, LearningRateSchedulerDrivesTheOptimizer) {
  LinearData data(20);
  auto model = LinearModel(0.1);
  auto schedule = std::make_shared<LearningRateScheduler>(
      [](int epoch, double lr) { return epoch == 0 ? lr : lr / 10; });
  auto history =
      model->Fit(data.x, data.y, Quiet({.epochs = 3, .batch_size = 20, .callbacks = {schedule}}));
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->Values("lr").size(), 3u);
  EXPECT_NEAR(history->Values("lr")[0], 0.1, 1e-7);
  EXPECT_NEAR(history->Values("lr")[1], 0.01, 1e-8);
  EXPECT_NEAR(history->Values("lr")[2], 0.001, 1e-9);
  EXPECT_NEAR(model->optimizer()->learning_rate(), 0.001, 1e-9);
}

TEST(FitTest, TinyClassificationLearns) {
  // Two blobs in 2-D; a softmax layer separates them.
  std::vector<float> xv;
  std::vector<int32_t> yv;
  for (int i = 0; i < 64; ++i) {
    const int label = i % 2;
    xv.push_back((label ? 1.0f : -1.0f) + 0.3f * std::sin(3.1f * i));
    xv.push_back((label ? -0.5f : 0.5f) + 0.3f * std::cos(1.3f * i));
    yv.push_back(label);
  }
  Buffer x = Buffer::FromVector<float>({64, 2}, xv);
  Buffer y = Buffer::FromVector<int32_t>({64}, yv);
  Tensor in = Input({2});
  Model model(in, MakeLayer<Dense>(2, DenseOptions{.activation = "softmax"})(in));
  ASSERT_TRUE(model
                  .Compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 0.05}),
                           "sparse_categorical_crossentropy", {"accuracy"})
                  .ok());
  auto history = model.Fit(x, y, Quiet({.epochs = 15, .batch_size = 16, .seed = 3}));
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(history->Names(), ElementsAre("loss", "accuracy"));
  const std::vector<double>& loss = history->Values("loss");
  EXPECT_LT(loss.back(), 0.5 * loss.front());
  EXPECT_EQ(history->Values("accuracy").back(), 1.0);
}

TEST(FitTest, PrintsKerasProgressLines) {
  LinearData data(20);
  auto model = LinearModel();
  std::ostringstream out;
  double now = 0;
  auto history = model->Fit(data.x, data.y,
                            {.epochs = 2,
                             .batch_size = 8,
                             .validation_split = 0.25,
                             .out = &out,
                             .terminal = false,
                             .clock = [&] { return now += 0.5; }});
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(out.str(),
              MatchesRegex("Epoch 1/2\n2/2 \\[==============================\\] - [0-9]+s "
                           "[0-9]+m?s/step - loss: [0-9.]+ - val_loss: [0-9.]+\n"
                           "Epoch 2/2\n2/2 \\[=+\\] - [0-9]+s [0-9]+m?s/step - loss: [0-9.]+ "
                           "- val_loss: [0-9.]+\n"));
}

TEST(FitTest, BadArgumentsAreErrors) {
  LinearData data(20);
  Tensor in = Input({2});
  Model uncompiled(in, MakeLayer<Dense>(1)(in));
  EXPECT_EQ(uncompiled.Fit(data.x, data.y, Quiet({})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto model = LinearModel();
  EXPECT_THAT(std::string(model->Fit(data.x, data.y, Quiet({.batch_size = 0})).status().message()),
              HasSubstr("batch_size must be > 0"));
  EXPECT_THAT(
      std::string(
          model->Fit(data.x, data.y, Quiet({.epochs = 2, .initial_epoch = 3})).status().message()),
      HasSubstr("initial_epoch must be in [0, epochs=2]"));
  Buffer short_y = Buffer::Zeros(DType::kF32, {19, 1});
  EXPECT_THAT(std::string(model->Fit(data.x, short_y, Quiet({})).status().message()),
              HasSubstr("x has 20 rows [20,2] but y has 19 rows"));
  EXPECT_THAT(
      std::string(model->Fit(data.x, data.y, Quiet({.validation_split = 0.99})).status().message()),
      HasSubstr("not sufficient to split"));
}

// Keras on arrays makes epochs - initial_epoch passes; steps_per_epoch
// asking for more batches than that ends training with a warning.
TEST(FitTest, StepsPerEpochRunningOutOfDataStopsWithAWarning) {
  LinearData data(20);  // batches of 8: 3 per pass
  auto fitted = LinearModel();
  auto by_hand = LinearModel();
  std::ostringstream out;
  // 3 passes hold 9 batches; 3 epochs of 4 steps ask for 12: epochs 0 and
  // 1 run 4 batches, epoch 2 the 1 left.
  auto history = fitted->Fit(data.x, data.y,
                             Quiet({.epochs = 3,
                                    .batch_size = 8,
                                    .shuffle = false,
                                    .steps_per_epoch = 4,
                                    .out = &out}));
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(history->epochs(), ElementsAre(0, 1, 2));
  ArrayData all = *ArrayData::Make({&data.x}, data.y);
  double last_loss = 0;
  for (int pass = 0; pass < 3; ++pass) {
    for (auto [begin, end] : {std::pair{0, 8}, {8, 16}, {16, 20}}) {
      ArrayData part = all.Slice(begin, end);
      auto logs = by_hand->TrainOnBatch(part.x[0], part.y[0]);
      ASSERT_TRUE(logs.ok()) << logs.status();
      last_loss = (*logs)[0].second;
    }
  }
  EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));
  EXPECT_NEAR(history->Values("loss")[2], last_loss, 1e-6);  // epoch 2: one short batch
  EXPECT_THAT(out.str(), HasSubstr("WARNING: Fit: the input ran out of data after 9 batches"));
  EXPECT_THAT(out.str(), HasSubstr("steps_per_epoch * (epochs - initial_epoch) = 12 batches"));

  // Running out exactly at an epoch's end: the next epoch does not start.
  std::ostringstream out2;
  auto whole = LinearModel()->Fit(data.x, data.y,
                                  Quiet({.epochs = 3,
                                         .batch_size = 8,
                                         .shuffle = false,
                                         .steps_per_epoch = 9,
                                         .out = &out2}));
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_THAT(whole->epochs(), ElementsAre(0));
  EXPECT_THAT(out2.str(), HasSubstr("ran out of data after 9 batches"));

  // Enough data, and no steps_per_epoch: no warning.
  std::ostringstream quiet;
  ASSERT_TRUE(LinearModel()
                  ->Fit(data.x, data.y,
                        Quiet({.epochs = 3, .batch_size = 8, .steps_per_epoch = 3, .out = &quiet}))
                  .ok());
  ASSERT_TRUE(
      LinearModel()->Fit(data.x, data.y, Quiet({.epochs = 3, .batch_size = 8, .out = &quiet})).ok());
  EXPECT_EQ(quiet.str(), "");

  // A resumed run has epochs - initial_epoch passes: 1 pass = 3 batches.
  std::ostringstream resumed_out;
  auto resumed = LinearModel()->Fit(data.x, data.y,
                                    Quiet({.epochs = 3,
                                           .batch_size = 8,
                                           .steps_per_epoch = 4,
                                           .initial_epoch = 2,
                                           .out = &resumed_out}));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_THAT(resumed->epochs(), ElementsAre(2));
  EXPECT_THAT(resumed_out.str(), HasSubstr("ran out of data after 3 batches"));
}


// tf.keras' ProgbarLogger finalizes each epoch's bar at its planned target
// (params["steps"]: steps_per_epoch) even when the data ran out mid-epoch,
// so the last epoch below ends on "4/4" and a full bar after 1 batch.
TEST(FitTest, AnEpochCutShortByRunningOutEndsItsBarAtThePlannedSteps) {
  LinearData data(20);  // batches of 8: 3 passes hold 9 batches, 4 + 4 + 1
  for (int verbose : {1, 2}) {
    std::ostringstream out;
    double now = 0;
    auto history = LinearModel()->Fit(data.x, data.y,
                                      {.epochs = 3,
                                       .batch_size = 8,
                                       .verbose = verbose,
                                       .shuffle = false,
                                       .steps_per_epoch = 4,
                                       .out = &out,
                                       .terminal = false,
                                       .clock = [&] { return now += 0.5; }});
    ASSERT_TRUE(history.ok()) << history.status();
    const std::string text = out.str();
    EXPECT_THAT(text,
                HasSubstr("Epoch 3/3\nWARNING: Fit: the input ran out of data after 9 batches"));
    const std::string last_line = text.substr(text.rfind('\n', text.size() - 2) + 1);
    // Keras' times too: the per-step time divides by the planned steps
    // (clock: +0.5 s a call; verbose 1 divides the time after the first
    // step by 4 - 1, verbose 2 the epoch's time by 4).
    EXPECT_THAT(last_line, MatchesRegex(verbose == 1 ? "4/4 \\[" + std::string(30, '=') +
                                                           "\\] - 1s 167ms/step - loss: [0-9.]+\n"
                                                     : "4/4 - 0s - loss: [0-9.]+ - 500ms/epoch - "
                                                       "125ms/step\n"))
        << "verbose " << verbose;
    EXPECT_THAT(last_line, HasSubstr(absl::StrFormat("loss: %.4f", history->Values("loss")[2])));
  }
}

}  // namespace
}  // namespace kiln
