// BM_Gemm/<backend>/1024: C = A B with M = N = K = 1024 (f32), one matmul
// node: /jit runs the JIT GEMM kernel, /interp the Highway GEMM; /jit_at and
// /jit_bt read A or B transposed (a Dense layer's gradients). Counters:
// GFLOP/s (2 M N K flops per run) and peak_fraction, the share of the FMA
// peak measured on this machine with the same thread count (codegen/roofline.h).
// Threads: KILN_NUM_THREADS (default all cores). bench/compare_gemm.py
// times torch.matmul on the same shape beside it.
#include <chrono>
#include <random>
#include <string>

#include "codegen/roofline.h"
#include "benchmark/benchmark.h"
#include "codegen/executable.h"
#include "codegen/thread_pool.h"
#include "ops/ops.h"

namespace kiln {
namespace {

Buffer RandomMatrix(int64_t rows, int64_t cols, uint64_t seed) {
  Buffer b(DType::kF32, Shape{rows, cols});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : b.span<float>()) v = u(rng);
  return b;
}

void RunGemm(benchmark::State& state, Backend backend, bool ta = false, bool tb = false) {
  const int64_t n = state.range(0);
  auto g = Graph::Create();
  Tensor c = MatMul(Input(g, "a", DType::kF32, Shape{n, n}),
                    Input(g, "b", DType::kF32, Shape{n, n}), ta, tb);
  auto exe = Executable::Compile({c}, {.backend = backend});
  if (!exe.ok()) {
    state.SkipWithError(std::string(exe.status().message()).c_str());
    return;
  }
  const Buffer a = RandomMatrix(n, n, 1), b = RandomMatrix(n, n, 2);
  const Feeds feeds = {{"a", &a}, {"b", &b}};
  std::vector<Buffer> out;
  if (absl::Status s = (*exe)->RunInto(feeds, out); !s.ok()) {  // compile and warm up
    state.SkipWithError(std::string(s.message()).c_str());
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    absl::Status s = (*exe)->RunInto(feeds, out);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(out[0].raw());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double gflops = 2.0 * n * n * n * static_cast<double>(state.iterations()) / seconds / 1e9;
  const double peak = MeasuredFmaPeakGflops(ThreadPool::Default());
  state.counters["threads"] = (*exe)->num_threads();
  state.counters["GFLOP/s"] = gflops;
  state.counters["peak_GFLOP/s"] = peak;
  state.counters["peak_fraction"] = gflops / peak;
}

void BM_GemmJit(benchmark::State& state) { RunGemm(state, Backend::kJit); }
void BM_GemmInterp(benchmark::State& state) { RunGemm(state, Backend::kInterp); }
// The layouts of a Dense layer's gradients: dW = x^T dy, dx = dy W^T.
void BM_GemmJitAt(benchmark::State& state) { RunGemm(state, Backend::kJit, true, false); }
void BM_GemmJitBt(benchmark::State& state) { RunGemm(state, Backend::kJit, false, true); }

BENCHMARK(BM_GemmJit)->Name("BM_Gemm/jit")->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemmJitAt)
    ->Name("BM_Gemm/jit_at")
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GemmJitBt)
    ->Name("BM_Gemm/jit_bt")
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GemmInterp)
    ->Name("BM_Gemm/interp")
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace kiln
