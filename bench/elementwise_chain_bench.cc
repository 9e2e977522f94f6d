// BM_ElementwiseChain: relu(x * 1.5 + 0.5) * sigmoid(x) over 16,777,216
// floats, the running example of kiln's fusion work. /interp runs the ops
// one by one (each a full pass over memory); the JIT of issue 3 fuses them.
// Threads: KILN_NUM_THREADS (default all cores).
#include <random>

#include "benchmark/benchmark.h"
#include "codegen/executable.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int64_t kElements = 16777216;

void BM_ElementwiseChainInterp(benchmark::State& state) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{kElements});
  Tensor y = Relu(x * 1.5 + 0.5) * Sigmoid(x);
  auto exe = Executable::Compile({y}, {.backend = Backend::kInterp});
  if (!exe.ok()) {
    state.SkipWithError(std::string(exe.status().message()).c_str());
    return;
  }
  Buffer xv(DType::kF32, Shape{kElements});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-4, 4);
  for (float& v : xv.span<float>()) v = u(rng);
  for (auto _ : state) {
    auto out = (*exe)->Run({{"x", &xv}});
    if (!out.ok()) {
      state.SkipWithError(std::string(out.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize((*out)[0].raw());
  }
  state.counters["threads"] = (*exe)->num_threads();
  state.SetItemsProcessed(state.iterations() * kElements);
  state.SetBytesProcessed(state.iterations() * kElements * 8);  // read x, write y
}
BENCHMARK(BM_ElementwiseChainInterp)->Name("BM_ElementwiseChain/interp")
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace kiln
