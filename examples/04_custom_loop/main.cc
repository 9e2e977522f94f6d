// Tutorial 4: your own training loop, with your own layer and your own loss.
//
// What it shows: a Lambda layer (a Swish gate written with ops) inside a
// functional model; a loss written in C++ from ops (cross-entropy with label
// smoothing, built by hand); ValueAndGrad to compile loss + gradients once;
// Optimizer::Apply to update the weights; kiln's batching helpers and the
// Keras progress bar driven by hand; accuracy computed from Predict. The
// data is Fashion-MNIST (Debian's dataset-fashion-mnist).
//
//   custom_loop --epochs=2 --steps_per_epoch=200
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "examples/common/idx_reader.h"
#include "examples/common/run_main.h"
#include "layers/callbacks.h"
#include "layers/dense.h"
#include "layers/fit_data.h"
#include "layers/lambda.h"
#include "layers/model.h"
#include "layers/optimizers.h"
#include "layers/progress_bar.h"
#include "layers/value_and_grad.h"
#include "ops/ops.h"

ABSL_FLAG(int, epochs, 2, "passes over the training set");
ABSL_FLAG(int, steps_per_epoch, 200, "steps per epoch (0: the whole training set)");
ABSL_FLAG(int, batch_size, 100, "examples per step");
ABSL_FLAG(double, smoothing, 0.1, "label smoothing of the hand-written loss");
ABSL_FLAG(std::string, data_dir, "/usr/share/datasets/fashion-mnist", "the IDX .gz files");

namespace kiln {
namespace {

constexpr int kClasses = 10;

// The share of rows where the largest logit is the label.
double Accuracy(const Buffer& logits, const Buffer& labels) {
  int64_t right = 0;
  const int64_t rows = labels.num_elements();
  for (int64_t r = 0; r < rows; ++r) {
    int best = 0;
    for (int c = 1; c < kClasses; ++c) {
      if (logits.GetAsDouble(r * kClasses + c) > logits.GetAsDouble(r * kClasses + best)) best = c;
    }
    right += best == static_cast<int>(labels.GetAsDouble(r));
  }
  return static_cast<double>(right) / rows;
}

absl::Status Main() {
  // Step 1: the data: f32 [N, 784] in [0, 1], i32 labels [N].
  KILN_ASSIGN_OR_RETURN(MnistSplits data, ReadMnistSplits(absl::GetFlag(FLAGS_data_dir)));

  // Step 2: a model with a home-made layer: Lambda gates each unit by its
  // own sigmoid (Swish), using graph ops, so it gets gradients for free.
  Tensor x = Input({784});
  Tensor h = MakeLayer<Dense>(256)(x);
  h = MakeLayer<Lambda>([](const Tensor& t) { return t * Sigmoid(t); })(h);
  Model model(x, MakeLayer<Dense>(kClasses)(h), "swish_mlp");

  // Step 3: a hand-written loss: cross-entropy against smoothed one-hot
  // targets, mean over the batch. ValueAndGrad compiles it with the model
  // into one program returning the loss and every weight's gradient.
  const double eps = absl::GetFlag(FLAGS_smoothing);
  ValueAndGrad loss_and_grads(
      model, [eps](absl::Span<const Tensor> outputs, absl::Span<const Tensor> labels) {
        Tensor targets = OneHot(labels[0], kClasses) * (1.0 - eps) + eps / kClasses;
        Tensor per_row = -ReduceSum(targets * LogSoftmax(outputs[0]), {1});
        return Mean(per_row, {0});
      });
  auto adam = std::make_shared<Adam>(AdamOptions{.learning_rate = 1e-3});

  // Step 4: the loop: shuffled batches, loss + gradients, Adam's update, and
  // the progress bar with the running mean of the loss.
  KILN_ASSIGN_OR_RETURN(ArrayData train, ArrayData::Make({&data.train_images}, data.train_labels));
  const int64_t batch_size = absl::GetFlag(FLAGS_batch_size);
  int64_t steps = absl::GetFlag(FLAGS_steps_per_epoch);
  if (steps <= 0) steps = BatchesPerPass(train.rows, batch_size);
  BatchStream batches(std::move(train), batch_size, /*shuffle=*/true, /*seed=*/1);
  int64_t step_count = 0;
  for (int epoch = 0; epoch < absl::GetFlag(FLAGS_epochs); ++epoch) {
    std::printf("Epoch %d/%d\n", epoch + 1, absl::GetFlag(FLAGS_epochs));
    ProgressBar bar(steps, std::cout, {.dynamic = IsTerminal(std::cout)});
    for (int64_t step = 1; step <= steps; ++step) {
      Batch batch = batches.Next();
      KILN_ASSIGN_OR_RETURN(LossAndGradients result,
                            loss_and_grads(batch.x[0], batch.y[0], step_count++));
      KILN_RETURN_IF_ERROR(adam->Apply(result.GradientPointers(), loss_and_grads.weights()));
      bar.Update(step, {{"loss", result.loss}});  // the bar averages it
    }
  }

  // Step 5: test accuracy from Predict's logits.
  KILN_ASSIGN_OR_RETURN(Buffer logits, model.Predict(data.test_images, {.batch_size = 500}));
  std::printf("test accuracy %.4f\n", Accuracy(logits, data.test_labels));
  return absl::OkStatus();
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) { return kiln::RunMain(argc, argv, kiln::Main); }
