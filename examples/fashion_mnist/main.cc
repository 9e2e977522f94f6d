// The main job: the TensorFlow-tutorial convnet on Fashion-MNIST, built from
// kiln's Keras layers and trained with Compile/Fit/Evaluate.
//
// What it shows: a functional model of Conv2D, MaxPooling2D, Flatten, Dense
// and Dropout layers; sparse categorical cross-entropy from logits with Adam;
// Fit with the Keras progress bar and a callback that times each step;
// Evaluate on the test set. The whole training step (forward, loss,
// gradients, Adam update) is one compiled program.
//
//   fashion_mnist --epochs=5 --batch_size=100
//   ...
//   RESULT test_accuracy=0.91xx epochs=5 train_seconds=... step_ms_median=...
//
// --profile prints the per-kernel table of the training run (with the
// layers each kernel came from and its share of the roofline) and
// --trace=PATH writes its Chrome trace.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "codegen/profiler.h"
#include "examples/common/idx_reader.h"
#include "examples/common/run_main.h"
#include "layers/callbacks.h"
#include "layers/conv.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/initializers.h"
#include "layers/max_pooling.h"
#include "layers/model.h"
#include "layers/optimizers.h"
#include "layers/reshaping.h"

ABSL_FLAG(int, epochs, 5, "passes over the training set");
ABSL_FLAG(int, batch_size, 100, "examples per step");
ABSL_FLAG(int, steps_per_epoch, 0, "steps per epoch (0: the whole training set)");
ABSL_FLAG(int, threads, 0, "worker threads (0: KILN_NUM_THREADS or all cores)");
ABSL_FLAG(std::string, backend, "", "jit or interp (default: KILN_BACKEND, else jit)");
ABSL_FLAG(bool, profile, false, "time every kernel of the training run and print the table");
ABSL_FLAG(std::string, trace, "", "with a path: write a Chrome trace of the training run there");
ABSL_FLAG(std::string, data_dir, "/usr/share/datasets/fashion-mnist", "the IDX .gz files");
ABSL_FLAG(int, seed, 1, "seed of the weights, dropout masks and shuffling");

namespace kiln {
namespace {

using Clock = std::chrono::steady_clock;

double MillisSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Step 1 (in Main): the data, scaled to [0, 1]; the convnet reads the
// [N, 784] pixels as [N, 28, 28, 1] images (a view, no copy).
Buffer AsImages(Buffer& pixels) {
  return Buffer::View(DType::kF32, Shape{pixels.shape().dim(0), 28, 28, 1}, pixels.raw());
}

// Step 2: the convnet of the TensorFlow layers tutorial.
std::unique_ptr<Model> BuildConvnet() {
  Tensor x = Input({28, 28, 1}, {.name = "image"});
  Tensor h =
      MakeLayer<Conv2D>(32, IntList{5, 5}, ConvOptions{.padding = "same", .activation = "relu"})(x);
  h = MakeLayer<MaxPooling2D>(IntList{2, 2})(h);
  h = MakeLayer<Conv2D>(64, IntList{5, 5}, ConvOptions{.padding = "same", .activation = "relu"})(h);
  h = MakeLayer<MaxPooling2D>(IntList{2, 2})(h);
  h = MakeLayer<Flatten>()(h);
  h = MakeLayer<Dense>(1024, DenseOptions{.activation = "relu"})(h);
  h = MakeLayer<Dropout>(0.4)(h);
  Tensor logits = MakeLayer<Dense>(10)(h);
  return std::make_unique<Model>(x, logits, "fashion_convnet");
}

// Times every training step (the first one includes compiling it).
class StepTimer : public Callback {
 public:
  absl::Status OnTrainBatchBegin(int64_t, const Logs&) override {
    start_ = Clock::now();
    return absl::OkStatus();
  }
  absl::Status OnTrainBatchEnd(int64_t, const Logs&) override {
    step_ms_.push_back(MillisSince(start_));
    return absl::OkStatus();
  }
  const std::vector<double>& step_ms() const { return step_ms_; }

 private:
  Clock::time_point start_;
  std::vector<double> step_ms_;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

absl::Status Main() {
  CompileOptions compile_options{.num_threads = absl::GetFlag(FLAGS_threads)};
  if (const std::string b = absl::GetFlag(FLAGS_backend); b == "jit") {
    compile_options.backend = Backend::kJit;
  } else if (b == "interp") {
    compile_options.backend = Backend::kInterp;
  } else if (!b.empty()) {
    return absl::InvalidArgumentError("--backend must be jit or interp, got '" + b + "'");
  }
  KILN_ASSIGN_OR_RETURN(MnistSplits data, ReadMnistSplits(absl::GetFlag(FLAGS_data_dir)));
  Buffer train_images = AsImages(data.train_images), test_images = AsImages(data.test_images);
  std::printf("Fashion-MNIST: %lld training and %lld test images\n",
              static_cast<long long>(data.train_labels.num_elements()),
              static_cast<long long>(data.test_labels.num_elements()));

  const int seed = absl::GetFlag(FLAGS_seed);
  SetGlobalInitializerSeed(seed);
  std::unique_ptr<Model> model = BuildConvnet();
  KILN_RETURN_IF_ERROR(model->status());
  std::cout << model->Summary() << std::flush;

  // Step 3: compile the training step: Adam(1e-3), cross-entropy on logits.
  KILN_RETURN_IF_ERROR(model->Compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 1e-3}),
                                      SparseCategoricalCrossentropy(/*from_logits=*/true),
                                      {"accuracy"}, compile_options));

  // Step 4: train, timing each step.
  // With --profile or --trace, every kernel of the training run is timed
  // (codegen/profiler.h); the session records every compiled program.
  std::unique_ptr<ProfileSession> profile;
  if (absl::GetFlag(FLAGS_profile) || !absl::GetFlag(FLAGS_trace).empty()) {
    profile = std::make_unique<ProfileSession>();
  }
  auto timer = std::make_shared<StepTimer>();
  const auto train_start = Clock::now();
  KILN_ASSIGN_OR_RETURN(History history,
                        model->Fit(train_images, data.train_labels,
                                   {.epochs = absl::GetFlag(FLAGS_epochs),
                                    .batch_size = absl::GetFlag(FLAGS_batch_size),
                                    .callbacks = {timer},
                                    .seed = static_cast<uint64_t>(seed),
                                    .steps_per_epoch = absl::GetFlag(FLAGS_steps_per_epoch)}));
  const double train_seconds = MillisSince(train_start) / 1e3;
  if (profile != nullptr) {
    ProfileReport report = profile->Stop();
    if (absl::GetFlag(FLAGS_profile)) std::cout << report.Table();
    if (!absl::GetFlag(FLAGS_trace).empty()) {
      KILN_RETURN_IF_ERROR(report.WriteChromeTrace(absl::GetFlag(FLAGS_trace)));
      std::printf("Chrome trace written to %s\n", absl::GetFlag(FLAGS_trace).c_str());
    }
  }

  // Step 5: evaluate on the test set.
  KILN_ASSIGN_OR_RETURN(Logs test_logs,
                        model->Evaluate(test_images, data.test_labels,
                                        {.batch_size = absl::GetFlag(FLAGS_batch_size)}));
  // The training program compiles inside the first TrainOnBatch (the API
  // has no separate compile call), so compile_ms is first step - median
  // (about 0 when the on-disk object cache already holds the kernels).
  const std::vector<double>& steps = timer->step_ms();
  const double first_step_ms = steps.empty() ? 0 : steps.front();
  const double median_ms =
      Median(steps.size() > 1 ? std::vector<double>(steps.begin() + 1, steps.end()) : steps);
  std::printf(
      "RESULT test_accuracy=%.4f epochs=%d train_seconds=%.1f step_ms_median=%.2f "
      "first_step_ms=%.1f compile_ms=%.1f\n",
      FindLog(test_logs, "accuracy").value_or(0), static_cast<int>(history.epochs().size()),
      train_seconds, median_ms, first_step_ms, std::max(0.0, first_step_ms - median_ms));
  return absl::OkStatus();
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) { return kiln::RunMain(argc, argv, kiln::Main); }
