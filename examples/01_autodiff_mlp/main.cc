// Tutorial 1: train a classifier with nothing but graph ops and autodiff.
//
// What it shows: building a graph from ops, differentiating it with Grad,
// writing the SGD update as graph ops too, compiling the whole step once
// into an Executable, and running it batch after batch. The model is a
// 784-256-10 perceptron on Fashion-MNIST (Debian's dataset-fashion-mnist).
// With --profile, every kernel of the run is timed and the table printed at
// the end; --trace=PATH also writes a Chrome trace (codegen/profiler.h).
//
//   autodiff_mlp --epochs=3 --batch_size=100 --learning_rate=0.1
//   autodiff_mlp --epochs=1 --profile --trace=mlp.trace.json
#include <algorithm>
#include <cstring>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "autodiff/grad.h"
#include "codegen/executable.h"
#include "codegen/profiler.h"
#include "examples/common/idx_reader.h"
#include "ops/ops.h"

ABSL_FLAG(int, epochs, 3, "passes over the training set");
ABSL_FLAG(int, batch_size, 100, "examples per step");
ABSL_FLAG(int, steps_per_epoch, 0, "steps per epoch (0: the whole training set)");
ABSL_FLAG(double, learning_rate, 0.1, "SGD step size");
ABSL_FLAG(int, hidden, 256, "hidden units");
ABSL_FLAG(int, threads, 0, "worker threads (0: KILN_NUM_THREADS or all cores)");
ABSL_FLAG(std::string, data_dir, "/usr/share/datasets/fashion-mnist", "IDX files");
ABSL_FLAG(int, seed, 1, "weight initialization seed");
ABSL_FLAG(bool, profile, false, "time every kernel and print the table at the end");
ABSL_FLAG(std::string, trace, "", "with a path: write a Chrome trace of the run there");

namespace kiln {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Glorot-uniform weights, zero biases.
Buffer GlorotUniform(int64_t fan_in, int64_t fan_out, std::mt19937& rng) {
  const float limit = std::sqrt(6.0f / (fan_in + fan_out));
  std::uniform_real_distribution<float> u(-limit, limit);
  Buffer w(DType::kF32, Shape{fan_in, fan_out});
  for (float& v : w.span<float>()) v = u(rng);
  return w;
}

// Rows [begin, begin + count) of `data`, in the order of `index`.
Buffer TakeRows(const Buffer& data, const std::vector<int>& index, int64_t begin,
              int64_t count) {
  const int64_t row = data.num_elements() / data.shape().dim(0);
  std::vector<int64_t> dims = data.shape().dims();
  dims[0] = count;
  Buffer out(data.dtype(), Shape(dims));
  const size_t bytes = row * DTypeSize(data.dtype());
  for (int64_t i = 0; i < count; ++i) {
    std::memcpy(static_cast<char*>(out.raw()) + i * bytes,
                static_cast<const char*>(data.raw()) + index[begin + i] * bytes, bytes);
  }
  return out;
}

absl::Status Main() {
  const std::string dir = absl::GetFlag(FLAGS_data_dir);
  const int batch = absl::GetFlag(FLAGS_batch_size);
  const int hidden = absl::GetFlag(FLAGS_hidden);
  // Step 1: the data.
  KILN_ASSIGN_OR_RETURN(Buffer train_x, ReadIdxImages(dir + "/train-images-idx3-ubyte.gz"));
  KILN_ASSIGN_OR_RETURN(Buffer train_y, ReadIdxLabels(dir + "/train-labels-idx1-ubyte.gz"));
  KILN_ASSIGN_OR_RETURN(Buffer test_x, ReadIdxImages(dir + "/t10k-images-idx3-ubyte.gz"));
  KILN_ASSIGN_OR_RETURN(Buffer test_y, ReadIdxLabels(dir + "/t10k-labels-idx1-ubyte.gz"));
  std::printf("train %s, test %s\n", train_x.shape().ToString().c_str(),
              test_x.shape().ToString().c_str());

  // Step 2: the model and its loss, as a graph with a symbolic batch size.
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 784});
  Tensor labels = Input(g, "labels", DType::kI32, Shape{Shape::kBatch});
  std::vector<Tensor> params = {Variable(g, "w1", DType::kF32, Shape{784, hidden}),
                                Variable(g, "b1", DType::kF32, Shape{hidden}),
                                Variable(g, "w2", DType::kF32, Shape{hidden, 10}),
                                Variable(g, "b2", DType::kF32, Shape{10})};
  Tensor logits = MatMul(Relu(MatMul(x, params[0]) + params[1]), params[2]) + params[3];
  Tensor loss = Mean(-Gather(LogSoftmax(logits, -1), labels, 1), {0});

  // Step 3: gradients and the SGD update are graph nodes too.
  KILN_ASSIGN_OR_RETURN(std::vector<Tensor> grads, Grad(loss, params));
  std::vector<Tensor> step_outputs = {loss};
  for (size_t i = 0; i < params.size(); ++i) {
    step_outputs.push_back(params[i] - grads[i] * absl::GetFlag(FLAGS_learning_rate));
  }

  // Step 4: compile the training step and the prediction once.
  const ExecutableOptions options = {.num_threads = absl::GetFlag(FLAGS_threads)};
  KILN_ASSIGN_OR_RETURN(auto train_step, Executable::Compile(step_outputs, options));
  KILN_ASSIGN_OR_RETURN(auto predict, Executable::Compile({logits}, options));
  std::printf("backend %s, %d threads\n", std::string(BackendName(train_step->backend())).c_str(),
              train_step->num_threads());

  std::mt19937 rng(absl::GetFlag(FLAGS_seed));
  std::vector<Buffer> weights;
  weights.push_back(GlorotUniform(784, hidden, rng));
  weights.push_back(Buffer::Zeros(DType::kF32, Shape{hidden}));
  weights.push_back(GlorotUniform(hidden, 10, rng));
  weights.push_back(Buffer::Zeros(DType::kF32, Shape{10}));
  const char* names[] = {"w1", "b1", "w2", "b2"};

  auto evaluate = [&]() -> absl::StatusOr<double> {
    int correct = 0;
    const int64_t n = test_x.shape().dim(0);
    std::vector<int> all(n);
    std::iota(all.begin(), all.end(), 0);
    for (int64_t begin = 0; begin < n; begin += 1000) {
      const int64_t count = std::min<int64_t>(1000, n - begin);
      Buffer xb = TakeRows(test_x, all, begin, count);
      Feeds feeds = {{"x", &xb}};
      for (int i = 0; i < 4; ++i) feeds[names[i]] = &weights[i];
      KILN_ASSIGN_OR_RETURN(std::vector<Buffer> out, predict->Run(feeds));
      const float* l = out[0].data<float>();
      for (int64_t r = 0; r < count; ++r) {
        const int guess = std::max_element(l + r * 10, l + r * 10 + 10) - (l + r * 10);
        correct += guess == test_y.data<int32_t>()[begin + r];
      }
    }
    return static_cast<double>(correct) / n;
  };

  // Step 5: train.
  const int64_t n = train_x.shape().dim(0);
  int steps = static_cast<int>(n / batch);
  if (absl::GetFlag(FLAGS_steps_per_epoch) > 0) {
    steps = std::min(steps, absl::GetFlag(FLAGS_steps_per_epoch));
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::unique_ptr<ProfileSession> profile;
  if (absl::GetFlag(FLAGS_profile) || !absl::GetFlag(FLAGS_trace).empty()) {
    profile = std::make_unique<ProfileSession>();  // records every Executable run
  }
  const auto start = Clock::now();
  double accuracy = 0;
  for (int epoch = 1; epoch <= absl::GetFlag(FLAGS_epochs); ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    const auto epoch_start = Clock::now();
    double loss_sum = 0;
    for (int s = 0; s < steps; ++s) {
      Buffer xb = TakeRows(train_x, order, int64_t{s} * batch, batch);
      Buffer yb = TakeRows(train_y, order, int64_t{s} * batch, batch);
      Feeds feeds = {{"x", &xb}, {"labels", &yb}};
      for (int i = 0; i < 4; ++i) feeds[names[i]] = &weights[i];
      KILN_ASSIGN_OR_RETURN(std::vector<Buffer> out, train_step->Run(feeds));
      loss_sum += out[0].GetAsDouble(0);
      for (int i = 0; i < 4; ++i) weights[i] = std::move(out[i + 1]);
    }
    const double seconds = Seconds(epoch_start);
    KILN_ASSIGN_OR_RETURN(accuracy, evaluate());
    std::printf("epoch %d/%d: loss %.4f, test accuracy %.4f, %.1f s (%.2f ms/step)\n", epoch,
                absl::GetFlag(FLAGS_epochs), loss_sum / steps, accuracy, seconds,
                1000 * seconds / steps);
  }
  std::printf("RESULT test_accuracy=%.4f epochs=%d train_seconds=%.1f\n", accuracy,
              absl::GetFlag(FLAGS_epochs), Seconds(start));

  // Step 6 (optional): where the time went.
  if (profile != nullptr) {
    ProfileReport report = profile->Stop();
    std::fputs(report.Table().c_str(), stdout);
    if (!absl::GetFlag(FLAGS_trace).empty()) {
      KILN_RETURN_IF_ERROR(report.WriteChromeTrace(absl::GetFlag(FLAGS_trace)));
      std::printf("Chrome trace written to %s\n", absl::GetFlag(FLAGS_trace).c_str());
    }
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = kiln::Main();
  if (!status.ok()) {
    std::fprintf(stderr, "autodiff_mlp: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
