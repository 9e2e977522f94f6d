// What profiling costs: a training step of a 784-256-128-10 perceptron
// (forward, softmax cross-entropy, gradients, SGD update, all in one JIT
// program; batch 64) timed without a ProfileSession (BM_MlpStep/plain) and
// with one recording every kernel and thread-pool chunk
// (BM_MlpStep/profiled). BM_MlpStepProfilingRatio alternates the two in
// one loop, which cancels most of the noise of a shared machine, and
// reports profiled / plain step time as the counter `ratio` (the budget is
// 1.05). BM_ProfileRecord is the cost behind it, free of that noise: one
// timed step record (two clock reads and an append to this thread's log).
#include <chrono>
#include <random>

#include "autodiff/grad.h"
#include "benchmark/benchmark.h"
#include "codegen/executable.h"
#include "codegen/profile_recorder_internal.h"
#include "codegen/profiler.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int64_t kBatch = 64;

struct MlpStep {
  std::unique_ptr<Executable> exe;
  std::vector<Buffer> values;
  Feeds feeds;
  std::vector<Buffer> out;
};

Buffer Random(Shape shape, uint64_t seed, double scale) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  Buffer b(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, u(rng));
  return b;
}

absl::StatusOr<MlpStep> BuildMlpStep() {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 784});
  Tensor labels = Input(g, "labels", DType::kI32, Shape{Shape::kBatch});
  const std::vector<Shape> shapes = {Shape{784, 256}, Shape{256}, Shape{256, 128},
                                     Shape{128}, Shape{128, 10}, Shape{10}};
  const char* names[] = {"w1", "b1", "w2", "b2", "w3", "b3"};
  std::vector<Tensor> p;
  for (size_t i = 0; i < shapes.size(); ++i) p.push_back(Variable(g, names[i], DType::kF32, shapes[i]));
  Tensor h = Relu(MatMul(x, p[0]) + p[1]);
  h = Relu(MatMul(h, p[2]) + p[3]);
  Tensor logits = MatMul(h, p[4]) + p[5];
  Tensor loss = Mean(-Gather(LogSoftmax(logits, -1), labels, 1), {0});
  absl::StatusOr<std::vector<Tensor>> grads = Grad(loss, p);
  if (!grads.ok()) return grads.status();
  std::vector<Tensor> outputs = {loss};
  for (size_t i = 0; i < p.size(); ++i) outputs.push_back(p[i] - (*grads)[i] * 0.01);
  MlpStep step;
  auto exe = Executable::Compile(outputs, {.backend = Backend::kJit});
  if (!exe.ok()) return exe.status();
  step.exe = std::move(*exe);
  step.values.push_back(Random(Shape{kBatch, 784}, 1, 1.0));
  Buffer l(DType::kI32, Shape{kBatch});
  for (int i = 0; i < kBatch; ++i) l.data<int32_t>()[i] = (i * 7) % 10;
  step.values.push_back(std::move(l));
  for (size_t i = 0; i < shapes.size(); ++i) step.values.push_back(Random(shapes[i], 2 + i, 0.05));
  step.feeds["x"] = &step.values[0];
  step.feeds["labels"] = &step.values[1];
  for (size_t i = 0; i < shapes.size(); ++i) step.feeds[names[i]] = &step.values[2 + i];
  return step;
}

void BM_MlpStep(benchmark::State& state) {
  const bool profiled = state.range(0) == 1;
  absl::StatusOr<MlpStep> step = BuildMlpStep();
  if (!step.ok() || !step->exe->RunInto(step->feeds, step->out).ok()) {
    state.SkipWithError("cannot build or run the MLP step");
    return;
  }
  std::unique_ptr<ProfileSession> session;
  if (profiled) session = std::make_unique<ProfileSession>();
  for (auto _ : state) {
    if (!step->exe->RunInto(step->feeds, step->out).ok()) {
      state.SkipWithError("run failed");
      return;
    }
    benchmark::DoNotOptimize(step->out[0].raw());
  }
  if (session != nullptr) {
    ProfileReport report = session->Stop();
    state.counters["kernels"] = static_cast<double>(report.kernels.size());
  }
  state.SetLabel(profiled ? "profiled" : "plain");
}
BENCHMARK(BM_MlpStep)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Blocks of steps, plain and profiled in turn; the counter is the ratio of
// their total times.
void BM_MlpStepProfilingRatio(benchmark::State& state) {
  constexpr int kStepsPerBlock = 20;
  absl::StatusOr<MlpStep> step = BuildMlpStep();
  if (!step.ok() || !step->exe->RunInto(step->feeds, step->out).ok()) {
    state.SkipWithError("cannot build or run the MLP step");
    return;
  }
  double plain_s = 0, profiled_s = 0;
  auto block = [&](double& seconds) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kStepsPerBlock; ++i) {
      if (!step->exe->RunInto(step->feeds, step->out).ok()) return false;
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return true;
  };
  for (auto _ : state) {
    if (!block(plain_s)) {
      state.SkipWithError("run failed");
      return;
    }
    ProfileSession session;
    if (!block(profiled_s)) {
      state.SkipWithError("run failed");
      return;
    }
    session.Stop();
  }
  state.counters["ratio"] = plain_s > 0 ? profiled_s / plain_s : 0;
  state.counters["plain_us_per_step"] = 1e6 * plain_s / (state.iterations() * kStepsPerBlock);
  state.counters["profiled_us_per_step"] =
      1e6 * profiled_s / (state.iterations() * kStepsPerBlock);
}
BENCHMARK(BM_MlpStepProfilingRatio)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ProfileRecord(benchmark::State& state) {
  ProfileSession session;
  ProfiledRun run(nullptr, 1);
  ProfileRecorder* recorder = CurrentRecorder();
  ChunkRecordingParallelism chunks(SerialParallelism(), recorder);
  KernelProfileInfo info;
  info.id = ~uint64_t{0};
  info.name = "bench_kernel";
  for (auto _ : state) {
    StepTimer timer(recorder, info, chunks);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProfileRecord);

}  // namespace
}  // namespace kiln
