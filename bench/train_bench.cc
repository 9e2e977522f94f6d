// Issue 6's training-step benchmark, with both backends:
//   BM_TrainStep/<backend>/mlp   784-512-512-10 perceptron (relu), batch 100,
//                                sparse categorical crossentropy on logits, Adam
// One iteration is one Model::TrainOnBatch: the compiled step (forward,
// loss, gradients, Adam update in place) plus the host bookkeeping.
// Counter GFLOP/s counts 6 flops per weight per sample (forward multiply-add,
// two backward multiply-adds). bench/compare_training.py times the same step
// in PyTorch.
#include <chrono>
#include <memory>
#include <random>
#include <string>

#include "benchmark/benchmark.h"
#include "codegen/thread_pool.h"
#include "layers/dense.h"
#include "layers/input_layer.h"
#include "layers/model.h"
#include "layers/optimizers.h"

namespace kiln {
namespace {

constexpr int64_t kBatch = 100;
constexpr int64_t kLayers[] = {784, 512, 512, 10};

void BM_TrainStep(benchmark::State& state, Backend backend) {
  ClearSession();
  Tensor x = Input({kLayers[0]});
  Tensor h = x;
  for (int i = 1; i < 4; ++i) {
    h = MakeLayer<Dense>(kLayers[i], DenseOptions{.activation = i < 3 ? "relu" : ""})(h);
  }
  Model model(x, h);
  absl::Status s = model.Compile(std::make_shared<Adam>(),
                                 SparseCategoricalCrossentropy(/*from_logits=*/true), {},
                                 {.backend = backend});
  Buffer xv(DType::kF32, Shape{kBatch, kLayers[0]});
  Buffer yv(DType::kI32, Shape{kBatch});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  for (float& v : xv.span<float>()) v = u(rng);
  for (int32_t& v : yv.span<int32_t>()) v = static_cast<int32_t>(rng() % 10);
  if (s.ok()) s = model.TrainOnBatch(xv, yv).status();  // compiles
  if (!s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    absl::StatusOr<Logs> logs = model.TrainOnBatch(xv, yv);
    if (!logs.ok()) {
      state.SkipWithError(std::string(logs.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize((*logs)[0].second);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double weights = 0;
  for (int i = 1; i < 4; ++i) weights += static_cast<double>(kLayers[i - 1]) * kLayers[i];
  state.counters["GFLOP/s"] =
      6 * weights * kBatch * static_cast<double>(state.iterations()) / seconds / 1e9;
  state.counters["threads"] = ThreadPool::Default().num_threads();
}

BENCHMARK_CAPTURE(BM_TrainStep, jit/mlp, Backend::kJit)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_TrainStep, interp/mlp, Backend::kInterp)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace kiln
