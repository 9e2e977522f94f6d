// Tutorial 2: a Keras-style classifier in a few lines, trained with Fit.
//
// What it shows: a Sequential model of Dense and Dropout layers, Compile
// with an optimizer, a loss and a metric by Keras name, Fit with a
// validation split and two callbacks (EarlyStopping, ModelCheckpoint), the
// History Fit returns, Evaluate, and reloading the best checkpoint. The data
// is Fashion-MNIST (Debian's dataset-fashion-mnist), 784 pixels per image.
//
//   keras_mlp --epochs=3 --checkpoint=/tmp/keras_mlp_best.npz
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "examples/common/idx_reader.h"
#include "examples/common/run_main.h"
#include "layers/checkpoint.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/model.h"
#include "layers/model_checkpoint.h"
#include "layers/monitor_callbacks.h"
#include "layers/optimizers.h"

ABSL_FLAG(int, epochs, 3, "passes over the training set");
ABSL_FLAG(int, batch_size, 128, "examples per step");
ABSL_FLAG(std::string, data_dir, "/usr/share/datasets/fashion-mnist", "the IDX .gz files");
ABSL_FLAG(std::string, checkpoint, "/tmp/keras_mlp_best.npz", "where the best weights go");

namespace kiln {
namespace {

absl::Status Main() {
  // Step 1: the data: f32 [N, 784] in [0, 1] and i32 labels [N].
  KILN_ASSIGN_OR_RETURN(MnistSplits data, ReadMnistSplits(absl::GetFlag(FLAGS_data_dir)));

  // Step 2: the model, layer after layer, as keras.Sequential.
  Sequential model("mlp");
  model.Add(MakeLayer<Dense>(256, DenseOptions{.activation = "relu"}))
      .Add(MakeLayer<Dropout>(0.2))
      .Add(MakeLayer<Dense>(10, DenseOptions{.activation = "softmax"}));
  KILN_RETURN_IF_ERROR(model.Build({784}));
  std::cout << model.Summary();

  // Step 3: compile: the optimizer, the loss and the metrics by Keras name.
  KILN_RETURN_IF_ERROR(model.Compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 1e-3}),
                                     "sparse_categorical_crossentropy", {"accuracy"}));

  // Step 4: fit on 90% of the rows, validating on the last 10%; stop when
  // val_loss stops improving, keep the best weights on disk.
  const std::string best = absl::GetFlag(FLAGS_checkpoint);
  auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.patience = 2});
  auto keep_best = std::make_shared<ModelCheckpoint>(
      best, ModelCheckpointOptions{.verbose = 1, .save_best_only = true});
  KILN_ASSIGN_OR_RETURN(History history, model.Fit(data.train_images, data.train_labels,
                                                   {.epochs = absl::GetFlag(FLAGS_epochs),
                                                    .batch_size = absl::GetFlag(FLAGS_batch_size),
                                                    .callbacks = {stop, keep_best},
                                                    .validation_split = 0.1}));
  for (size_t e = 0; e < history.epochs().size(); ++e) {
    std::printf("epoch %d: loss %.4f, val_accuracy %.4f\n", history.epochs()[e] + 1,
                history.Values("loss")[e], history.Values("val_accuracy")[e]);
  }

  // Step 5: reload the best epoch (weights, Adam's state, epoch) and test.
  KILN_ASSIGN_OR_RETURN(int64_t epochs_done,
                        RestoreCheckpoint(best, model, model.optimizer()->Variables()));
  KILN_ASSIGN_OR_RETURN(Logs test,
                        model.Evaluate(data.test_images, data.test_labels, {.batch_size = 500}));
  std::printf("best checkpoint: epoch %lld; test loss %.4f, test accuracy %.4f\n",
              static_cast<long long>(epochs_done), *FindLog(test, "loss"),
              *FindLog(test, "accuracy"));
  return absl::OkStatus();
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) { return kiln::RunMain(argc, argv, kiln::Main); }
