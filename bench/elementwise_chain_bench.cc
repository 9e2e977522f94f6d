// BM_ElementwiseChain: relu(x * 1.5 + 0.5) * sigmoid(x) over 16,777,216
// floats, the running example of kiln's fusion work, three ways side by
// side: /jit (one fused kernel), /interp (op by op, each a full pass over
// memory) and /hand_fused (one loop by hand, g++ -O3 -march=native
// -ffast-math). Threads: KILN_NUM_THREADS (default all cores).
#include <random>

#include "bench/hand_fused_chain.h"
#include "benchmark/benchmark.h"
#include "codegen/executable.h"
#include "codegen/thread_pool.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int64_t kElements = 16777216;

const Buffer& Inputs() {
  static const Buffer* x = [] {
    auto* b = new Buffer(DType::kF32, Shape{kElements});
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-4, 4);
    for (float& v : b->span<float>()) v = u(rng);
    return b;
  }();
  return *x;
}

void RunChain(benchmark::State& state, Backend backend) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{kElements});
  Tensor y = Relu(x * 1.5 + 0.5) * Sigmoid(x);
  auto exe = Executable::Compile({y}, {.backend = backend});
  if (!exe.ok()) {
    state.SkipWithError(std::string(exe.status().message()).c_str());
    return;
  }
  const Feeds feeds = {{"x", &Inputs()}};
  std::vector<Buffer> out;
  for (auto _ : state) {
    absl::Status s = (*exe)->RunInto(feeds, out);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(out[0].raw());
  }
  state.counters["threads"] = (*exe)->num_threads();
  state.SetBytesProcessed(state.iterations() * kElements * 8);  // read x, write y
}

void BM_ElementwiseChainJit(benchmark::State& state) { RunChain(state, Backend::kJit); }
void BM_ElementwiseChainInterp(benchmark::State& state) { RunChain(state, Backend::kInterp); }

void BM_ElementwiseChainHandFused(benchmark::State& state) {
  Buffer y(DType::kF32, Shape{kElements});
  const ThreadPool& pool = ThreadPool::Default();
  for (auto _ : state) {
    HandFusedChain(Inputs().data<float>(), y.data<float>(), kElements, pool);
    benchmark::DoNotOptimize(y.raw());
  }
  state.counters["threads"] = pool.num_threads();
  state.SetBytesProcessed(state.iterations() * kElements * 8);
}

BENCHMARK(BM_ElementwiseChainJit)->Name("BM_ElementwiseChain/jit")
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ElementwiseChainInterp)->Name("BM_ElementwiseChain/interp")
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ElementwiseChainHandFused)->Name("BM_ElementwiseChain/hand_fused")
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace kiln
