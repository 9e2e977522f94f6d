// Callbacks (layers/callbacks.h, monitor_callbacks.h, model_checkpoint.h,
// python_format.h) driven by hand through the hooks Fit calls, against the
// tf.keras 2.x rules worked out per case: History, call order and errors,
// the progress-bar logger, EarlyStopping (patience, min_delta, baseline,
// modes, restore_best_weights), LearningRateScheduler, ReduceLROnPlateau
// (patience, cooldown, min_lr), ModelCheckpoint files and messages, and
// Python-style number and path formatting.
#include "layers/callbacks.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/checkpoint.h"
#include "layers/dense.h"
#include "layers/model.h"
#include "layers/model_checkpoint.h"
#include "layers/monitor_callbacks.h"
#include "layers/python_format.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A tiny model and a stand-in optimizer learning rate and state.
struct Harness {
  Harness() {
    ClearSession();
    Tensor x = Input({2}, {.name = "x"});
    dense = MakeLayer<Dense>(1, DenseOptions{.name = "d"});
    model = std::make_unique<Model>(x, dense(x), "m");
    run.model = model.get();
    run.out = &out;
    run.learning_rate = [this] { return lr; };
    run.set_learning_rate = [this](double v) { lr = v; };
    run.optimizer_variables = [this] {
      return std::vector<std::pair<std::string, Buffer*>>{{"iterations", &iterations}};
    };
  }
  // Sets the kernel to all `v`.
  void SetKernel(double v) {
    Buffer& k = dense->weights()[0].value;
    for (int64_t i = 0; i < k.num_elements(); ++i) k.SetFromDouble(i, v);
  }
  double Kernel() const { return dense->weights()[0].value.GetAsDouble(0); }

  // Runs epochs with the monitored `name` taking `values`, until a callback
  // stops training; before each epoch end the kernel is set to the epoch.
  // Returns the epochs run.
  int RunEpochs(CallbackList& list, const std::string& name, const std::vector<double>& values) {
    EXPECT_TRUE(list.TrainBegin({}).ok());
    int epoch = 0;
    for (; epoch < static_cast<int>(values.size()) && !run.stop_training; ++epoch) {
      EXPECT_TRUE(list.EpochBegin(epoch, {}).ok());
      SetKernel(epoch);
      Logs logs = {{"loss", 1.0}, {name, values[epoch]}};
      EXPECT_TRUE(list.EpochEnd(epoch, logs).ok());
    }
    EXPECT_TRUE(list.TrainEnd({}).ok());
    return epoch;
  }

  LayerHandle<Dense> dense{nullptr};
  std::unique_ptr<Model> model;
  TrainingRun run;
  std::ostringstream out;
  double lr = 1e-3;
  Buffer iterations = Buffer::Scalar(DType::kI64, 5);
};

TEST(CallbacksTest, HistoryKeepsEveryEpochByName) {
  Harness h;
  auto history = std::make_shared<History>();
  CallbackList list({history}, &h.run);
  ASSERT_TRUE(list.TrainBegin({}).ok());
  Logs e0 = {{"loss", 0.5}, {"accuracy", 0.8}, {"val_loss", 0.6}};
  Logs e1 = {{"loss", 0.4}, {"accuracy", 0.85}, {"val_loss", 0.55}};
  ASSERT_TRUE(list.EpochEnd(0, e0).ok());
  ASSERT_TRUE(list.EpochEnd(1, e1).ok());
  EXPECT_THAT(history->Names(), ElementsAre("loss", "accuracy", "val_loss"));
  EXPECT_THAT(history->Values("loss"), ElementsAre(0.5, 0.4));
  EXPECT_THAT(history->Values("val_loss"), ElementsAre(0.6, 0.55));
  EXPECT_TRUE(history->Values("lr").empty());
  EXPECT_THAT(history->epochs(), ElementsAre(0, 1));
}

TEST(CallbacksTest, HooksRunInOrderAndTheFirstErrorStops) {
  Harness h;
  std::vector<std::string> calls;
  auto first = std::make_shared<LambdaCallback>();
  first->on_epoch_end = [&](Callback& self, int epoch, Logs& logs) {
    calls.push_back("first");
    SetLog(logs, "extra", 7);  // later callbacks see it
    return absl::OkStatus();
  };
  auto failing = std::make_shared<LambdaCallback>();
  failing->on_epoch_end = [&](Callback& self, int epoch, Logs& logs) {
    calls.push_back("failing saw extra=" + std::to_string(int(*FindLog(logs, "extra"))));
    return absl::InternalError("disk full");
  };
  auto never = std::make_shared<LambdaCallback>();
  never->on_epoch_end = [&](Callback&, int, Logs&) {
    calls.push_back("never");
    return absl::OkStatus();
  };
  auto batches = std::make_shared<LambdaCallback>();
  batches->on_batch_end = [&](Callback& self, int64_t batch, const Logs&) {
    calls.push_back("batch " + std::to_string(batch));
    if (batch == 1) self.run().stop_training = true;
    return absl::OkStatus();
  };
  CallbackList list({batches, first, failing, nullptr, never}, &h.run);
  ASSERT_TRUE(list.TrainBatchEnd(0, {}).ok());
  ASSERT_TRUE(list.TrainBatchEnd(1, {}).ok());
  EXPECT_TRUE(h.run.stop_training);
  Logs logs = {{"loss", 1}};
  EXPECT_EQ(list.EpochEnd(0, logs).message(), "disk full");
  EXPECT_THAT(calls, ElementsAre("batch 0", "batch 1", "first", "failing saw extra=7"));
}

TEST(CallbacksTest, ProgressBarLoggerPrintsEpochLinesAndFinalBars) {
  Harness h;
  h.run.epochs = 2;
  h.run.steps = 3;
  double now = 0;
  auto logger =
      std::make_shared<ProgressBarLogger>(ProgressBarOptions{.clock = [&] { return now; }});
  CallbackList list({logger}, &h.run);
  ASSERT_TRUE(list.TrainBegin({}).ok());
  for (int epoch = 0; epoch < 2; ++epoch) {
    ASSERT_TRUE(list.EpochBegin(epoch, {}).ok());
    for (int batch = 0; batch < 3; ++batch) {
      now += 0.1;
      ASSERT_TRUE(list.TrainBatchEnd(batch, {{"loss", 1.0 / (batch + 1)}}).ok());
    }
    Logs logs = {{"loss", 0.6111}, {"val_loss", 0.00042}};
    ASSERT_TRUE(list.EpochEnd(epoch, logs).ok());
  }
  EXPECT_EQ(h.out.str(),
            "Epoch 1/2\n"
            "3/3 [==============================] - 0s 100ms/step - loss: 0.6111"
            " - val_loss: 4.2000e-04\n"
            "Epoch 2/2\n"
            "3/3 [==============================] - 0s 100ms/step - loss: 0.6111"
            " - val_loss: 4.2000e-04\n");
}

TEST(EarlyStoppingTest, StopsAfterPatienceEpochsWithoutImprovement) {
  Harness h;
  auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.patience = 2, .verbose = 1});
  CallbackList list({stop}, &h.run);
  // best at epoch 1; epochs 2 and 3 do not improve: stop after epoch 3.
  EXPECT_EQ(h.RunEpochs(list, "val_loss", {1.0, 0.9, 0.95, 0.96, 0.5}), 4);
  EXPECT_EQ(stop->stopped_epoch(), 3);
  EXPECT_EQ(stop->best(), 0.9);
  EXPECT_EQ(h.Kernel(), 3);  // no restore asked
  EXPECT_EQ(h.out.str(), "Epoch 4: early stopping\n");
}

TEST(EarlyStoppingTest, RestoresTheBestWeights) {
  Harness h;
  auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{
      .monitor = "val_accuracy", .patience = 1, .verbose = 1, .restore_best_weights = true});
  CallbackList list({stop}, &h.run);
  // auto mode maximizes accuracy: best at epoch 1, stop after epoch 2.
  EXPECT_EQ(h.RunEpochs(list, "val_accuracy", {0.5, 0.7, 0.6, 0.9}), 3);
  EXPECT_EQ(stop->best_epoch(), 1);
  EXPECT_EQ(h.Kernel(), 1);
  EXPECT_EQ(h.out.str(),
            "Restoring model weights from the end of the best epoch: 2.\n"
            "Epoch 3: early stopping\n");
}

TEST(EarlyStoppingTest, MinDeltaModeAndBaseline) {
  {
    Harness h;  // 0.9995 is not better than 1.0 by more than 0.001
    auto stop = std::make_shared<EarlyStopping>(
        EarlyStoppingOptions{.monitor = "loss_x", .min_delta = -0.001, .patience = 1});
    CallbackList list({stop}, &h.run);
    EXPECT_EQ(h.RunEpochs(list, "loss_x", {1.0, 0.9995, 0.5}), 2);
  }
  {
    Harness h;  // mode max on a loss-like name: the rising values improve
    auto stop = std::make_shared<EarlyStopping>(
        EarlyStoppingOptions{.monitor = "score", .patience = 1, .mode = "max"});
    CallbackList list({stop}, &h.run);
    EXPECT_EQ(h.RunEpochs(list, "score", {1, 2, 3, 2}), 4);
    EXPECT_EQ(stop->stopped_epoch(), 3);
  }
  {
    Harness h;  // improvements that miss the baseline do not reset the wait
    auto stop =
        std::make_shared<EarlyStopping>(EarlyStoppingOptions{.patience = 2, .baseline = 0.5});
    CallbackList list({stop}, &h.run);
    EXPECT_EQ(h.RunEpochs(list, "val_loss", {0.9, 0.95, 0.3}), 2);
  }
  {
    Harness h;  // without the baseline the same values run on
    auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.patience = 2});
    CallbackList list({stop}, &h.run);
    EXPECT_EQ(h.RunEpochs(list, "val_loss", {0.9, 0.95, 0.3}), 3);
  }
  {
    Harness h;  // a missing monitor is skipped, never stops
    auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.patience = 0});
    CallbackList list({stop}, &h.run);
    EXPECT_EQ(h.RunEpochs(list, "other", {1, 2, 3}), 3);
  }
  Harness h;
  auto bad = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.mode = "up"});
  CallbackList list({bad}, &h.run);
  EXPECT_EQ(list.TrainBegin({}).message(), "EarlyStopping: mode 'up' is not one of auto, min, max");
}

TEST(LearningRateSchedulerTest, SetsTheRateEachEpochAndLogsIt) {
  Harness h;
  auto sched = std::make_shared<LearningRateScheduler>(
      [](int epoch, double lr) { return epoch < 1 ? lr : lr * 0.5; }, /*verbose=*/1);
  auto history = std::make_shared<History>();
  CallbackList list({sched, history}, &h.run);
  h.RunEpochs(list, "val_loss", {1, 1, 1});
  EXPECT_THAT(history->Values("lr"), ElementsAre(1e-3, 5e-4, 2.5e-4));
  EXPECT_EQ(h.out.str(),
            "\nEpoch 1: LearningRateScheduler setting learning rate to 0.001.\n"
            "\nEpoch 2: LearningRateScheduler setting learning rate to 0.0005.\n"
            "\nEpoch 3: LearningRateScheduler setting learning rate to 0.00025.\n");

  auto nan = std::make_shared<LearningRateScheduler>([](int, double) { return std::nan(""); });
  CallbackList bad({nan}, &h.run);
  EXPECT_THAT(std::string(bad.EpochBegin(4, {}).message()),
              HasSubstr("gave learning rate nan for epoch 4"));
  TrainingRun no_optimizer;
  CallbackList orphan({sched}, &no_optimizer);
  EXPECT_EQ(orphan.EpochBegin(0, {}).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ReduceLROnPlateauTest, ReducesAfterPatienceWithCooldownAndFloor) {
  Harness h;
  auto reduce = std::make_shared<ReduceLROnPlateau>(ReduceLROnPlateauOptions{
      .factor = 0.5, .patience = 2, .verbose = 1, .cooldown = 2, .min_lr = 3e-4});
  auto history = std::make_shared<History>();
  CallbackList list({reduce, history}, &h.run);
  // e0 improves; e1, e2 wait -> reduce at e2 (1e-3 -> 5e-4), cooldown 2:
  // e3, e4 cool down (e4 counts again: wait 1); e5 wait 2 -> 3e-4 (floor);
  // e6..e8: already at the floor, no change.
  h.RunEpochs(list, "val_loss", {1, 1, 1, 1, 1, 1, 1, 1, 1});
  EXPECT_THAT(history->Values("lr"),
              ElementsAre(1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 3e-4, 3e-4, 3e-4));
  EXPECT_EQ(h.out.str(),
            "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.0005.\n"
            "\nEpoch 6: ReduceLROnPlateau reducing learning rate to 0.0003.\n");

  auto bad = std::make_shared<ReduceLROnPlateau>(ReduceLROnPlateauOptions{.factor = 1.0});
  CallbackList bad_list({bad}, &h.run);
  EXPECT_THAT(std::string(bad_list.TrainBegin({}).message()), HasSubstr("factor >= 1.0"));
}

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

TEST(ModelCheckpointTest, SavesBestOnlyWithFormattedNames) {
  Harness h;
  const std::string pattern = TempPath("cb_w-{epoch:02d}-{val_loss:.2f}.npz");
  auto ckpt = std::make_shared<ModelCheckpoint>(
      pattern,
      ModelCheckpointOptions{.verbose = 1, .save_best_only = true, .save_weights_only = true});
  CallbackList list({ckpt}, &h.run);
  h.RunEpochs(list, "val_loss", {0.8, 0.9, 0.456});
  EXPECT_TRUE(Exists(TempPath("cb_w-01-0.80.npz")));
  EXPECT_FALSE(Exists(TempPath("cb_w-02-0.90.npz")));
  EXPECT_TRUE(Exists(TempPath("cb_w-03-0.46.npz")));
  EXPECT_EQ(h.out.str(),
            "\nEpoch 1: val_loss improved from inf to 0.80000, saving model to " +
                TempPath("cb_w-01-0.80.npz") +
                "\n\nEpoch 2: val_loss did not improve from 0.80000\n"
                "\nEpoch 3: val_loss improved from 0.80000 to 0.45600, saving model to " +
                TempPath("cb_w-03-0.46.npz") + "\n");
  // The weights file of epoch 3 holds the kernel set during epoch 3 (2).
  h.SetKernel(-1);
  ASSERT_TRUE(h.model->LoadWeights(TempPath("cb_w-03-0.46.npz")).ok());
  EXPECT_EQ(h.Kernel(), 2);
}

TEST(ModelCheckpointTest, FullCheckpointsResumeWithOptimizerStateAndEpoch) {
  Harness h;
  auto ckpt = std::make_shared<ModelCheckpoint>(TempPath("cb_full.npz"));
  CallbackList list({ckpt}, &h.run);
  h.RunEpochs(list, "val_loss", {0.8, 0.9});
  h.SetKernel(-1);
  h.iterations.SetFromDouble(0, 0);
  auto epoch = RestoreCheckpoint(TempPath("cb_full.npz"), *h.model, h.run.optimizer_variables());
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, 2);
  EXPECT_EQ(h.Kernel(), 1);
  EXPECT_EQ(h.iterations.GetAsDouble(0), 5);
}

TEST(ModelCheckpointTest, BadPathFieldsAreErrors) {
  Harness h;
  auto ckpt = std::make_shared<ModelCheckpoint>(TempPath("cb_{val_acc:.2f}.npz"));
  CallbackList list({ckpt}, &h.run);
  ASSERT_TRUE(list.TrainBegin({}).ok());
  Logs logs = {{"loss", 1}, {"val_loss", 2}};
  EXPECT_THAT(std::string(list.EpochEnd(0, logs).message()),
              HasSubstr("names {val_acc}, which is not one of epoch, loss, val_loss"));
}

TEST(PythonFormatTest, FloatsPrintAsPythonStr) {
  EXPECT_EQ(PythonFloatText(0.001), "0.001");
  EXPECT_EQ(PythonFloatText(1e-05), "1e-05");
  EXPECT_EQ(PythonFloatText(0.0001), "0.0001");
  EXPECT_EQ(PythonFloatText(0.1), "0.1");
  EXPECT_EQ(PythonFloatText(2.5), "2.5");
  EXPECT_EQ(PythonFloatText(3.0), "3.0");
  EXPECT_EQ(PythonFloatText(123456789.0), "123456789.0");
  EXPECT_EQ(PythonFloatText(1e16), "1e+16");
  EXPECT_EQ(PythonFloatText(1.5e16), "1.5e+16");
  EXPECT_EQ(PythonFloatText(-1.5e-7), "-1.5e-07");
  EXPECT_EQ(PythonFloatText(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(PythonFloatText(0.00025), "0.00025");
}

TEST(PythonFormatTest, PathsFormatLikeStrFormat) {
  const Logs logs = {{"loss", 0.25}, {"val_loss", 0.4567}, {"tiny", 0.000123}};
  auto f = [&](const std::string& p) { return FormatPath(p, 3, logs); };
  EXPECT_EQ(*f("w.{epoch:02d}-{val_loss:.2f}.npz"), "w.03-0.46.npz");
  EXPECT_EQ(*f("{epoch}_{loss}"), "3_0.25");
  EXPECT_EQ(*f("{epoch:.2f}"), "3.00");
  EXPECT_EQ(*f("{epoch:5d}|{loss:08.3f}|{tiny:.3e}"), "    3|0000.250|1.230e-04");
  EXPECT_EQ(*f("{{x}}"), "{x}");
  EXPECT_THAT(std::string(f("{loss:d}").status().message()), HasSubstr("'d' needs an integer"));
  EXPECT_THAT(std::string(f("{loss:>5}").status().message()), HasSubstr("supported specs"));
  EXPECT_THAT(std::string(f("{nope}").status().message()), HasSubstr("names {nope}"));
  EXPECT_THAT(std::string(f("a{epoch").status().message()), HasSubstr("unclosed '{'"));
  EXPECT_THAT(std::string(f("a}b").status().message()), HasSubstr("single '}'"));
  // {batch} exists only for a save after a batch (Keras' save_freq).
  EXPECT_EQ(*FormatPath("w{epoch}-{batch:03d}", 3, logs, 7), "w3-007");
  EXPECT_THAT(std::string(FormatPath("w{batch}", 3, logs).status().message()),
              HasSubstr("names {batch}, which is not one of epoch, loss"));
}

}  // namespace
}  // namespace kiln
