// BM_TrainStep/<backend>/convnet: one whole compiled training step
// (Model::TrainOnBatch: forward in training mode, loss, gradients, Adam
// update in place) at batch 100 on random data, for the fashion_mnist
// convnet (the MLP's BM_TrainStep/<backend>/mlp is in train_bench.cc). The
// first step (which compiles) runs before timing. bench/compare_training.py
// puts both beside PyTorch.
#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "layers/conv.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/max_pooling.h"
#include "layers/model.h"
#include "layers/optimizers.h"
#include "layers/reshaping.h"

namespace kiln {
namespace {

constexpr int64_t kBatch = 100;

std::unique_ptr<Model> Convnet() {
  Tensor x = Input({28, 28, 1});
  Tensor h =
      MakeLayer<Conv2D>(32, IntList{5, 5}, ConvOptions{.padding = "same", .activation = "relu"})(x);
  h = MakeLayer<MaxPooling2D>(IntList{2, 2})(h);
  h = MakeLayer<Conv2D>(64, IntList{5, 5}, ConvOptions{.padding = "same", .activation = "relu"})(h);
  h = MakeLayer<MaxPooling2D>(IntList{2, 2})(h);
  h = MakeLayer<Flatten>()(h);
  h = MakeLayer<Dense>(1024, DenseOptions{.activation = "relu"})(h);
  h = MakeLayer<Dropout>(0.4)(h);
  return std::make_unique<Model>(x, MakeLayer<Dense>(10)(h));
}

void BM_TrainStep(benchmark::State& state, Backend backend) {
  std::unique_ptr<Model> model = Convnet();
  absl::Status compiled = model->Compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 1e-3}),
                                         SparseCategoricalCrossentropy(/*from_logits=*/true), {},
                                         CompileOptions{.backend = backend});
  if (!compiled.ok()) {
    state.SkipWithError(std::string(compiled.message()).c_str());
    return;
  }
  Buffer x(DType::kF32, Shape{kBatch, 28, 28, 1});
  Buffer y(DType::kI32, Shape{kBatch});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> pixel(0, 1);
  for (float& v : x.span<float>()) v = pixel(rng);
  for (int32_t& v : y.span<int32_t>()) v = static_cast<int32_t>(rng() % 10);
  if (auto first = model->TrainOnBatch(x, y); !first.ok()) {
    state.SkipWithError(std::string(first.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    auto logs = model->TrainOnBatch(x, y);
    benchmark::DoNotOptimize(logs);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// Registered by hand so the names read BM_TrainStep/<backend>/convnet.
const bool kRegistered = [] {
  for (Backend backend : {Backend::kJit, Backend::kInterp}) {
    const std::string name = absl::StrCat("BM_TrainStep/", BackendName(backend), "/convnet");
    benchmark::RegisterBenchmark(name.c_str(), BM_TrainStep, backend)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->MinTime(2.0);
  }
  return true;
}();

}  // namespace
}  // namespace kiln
