// Issue 4's convolution benchmarks, with both backends:
//   BM_Conv2D/<backend>/fwd      N=8, 56x56, 64->64 channels, 3x3, same, channels_last
//   BM_Conv2D/<backend>/fwdbwd   the forward, the input gradient and the filter gradient
//   BM_DepthwiseConv2D/<backend>/fwd   N=8, 56x56, C=128, 3x3, same
// Counter GFLOP/s counts 2 flops per multiply-add of each convolution.
// bench/compare_conv.py times the same shapes in PyTorch beside it.
#include <chrono>
#include <random>
#include <string>

#include "benchmark/benchmark.h"
#include "codegen/executable.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int64_t kBatch = 8, kSize = 56;

Buffer Random(Shape shape, uint64_t seed) {
  Buffer b(DType::kF32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : b.span<float>()) v = u(rng);
  return b;
}

// Convolution with `groups`, 3x3 "same" (one cell each side), stride 1.
void RunConv(benchmark::State& state, Backend backend, int64_t cin, int64_t cout,
             int64_t groups, bool backward) {
  auto g = Graph::Create();
  const Shape x_shape{kBatch, kSize, kSize, cin};
  const Shape w_shape{3, 3, cin / groups, cout};
  Tensor x = Input(g, "x", DType::kF32, x_shape);
  Tensor w = Input(g, "w", DType::kF32, w_shape);
  const IntList one = {1, 1};
  std::vector<Tensor> outputs = {Conv(x, w, one, one, one, one, groups)};
  if (backward) {
    Tensor dy = Input(g, "dy", DType::kF32, Shape{kBatch, kSize, kSize, cout});
    outputs.push_back(ConvInputGrad(dy, w, x_shape, one, one, one, one, groups));
    outputs.push_back(ConvFilterGrad(x, dy, w_shape, one, one, one, one, groups));
  }
  auto exe = Executable::Compile(outputs, {.backend = backend});
  if (!exe.ok()) {
    state.SkipWithError(std::string(exe.status().message()).c_str());
    return;
  }
  const Buffer xv = Random(x_shape, 1), wv = Random(w_shape, 2);
  const Buffer dyv = Random(Shape{kBatch, kSize, kSize, cout}, 3);
  const Feeds feeds = {{"x", &xv}, {"w", &wv}, {"dy", &dyv}};
  std::vector<Buffer> out;
  if (absl::Status s = (*exe)->RunInto(feeds, out); !s.ok()) {
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
  const double flops_per_conv = 2.0 * kBatch * kSize * kSize * cout * 9 * (cin / groups);
  state.counters["GFLOP/s"] = flops_per_conv * (backward ? 3 : 1) *
                              static_cast<double>(state.iterations()) / seconds / 1e9;
  state.counters["threads"] = (*exe)->num_threads();
}

void Register() {
  for (Backend b : {Backend::kJit, Backend::kInterp}) {
    const std::string name(BackendName(b));
    benchmark::RegisterBenchmark(("BM_Conv2D/" + name + "/fwd").c_str(), RunConv, b, 64, 64, 1,
                                 false)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("BM_Conv2D/" + name + "/fwdbwd").c_str(), RunConv, b, 64, 64,
                                 1, true)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("BM_DepthwiseConv2D/" + name + "/fwd").c_str(), RunConv, b,
                                 128, 128, 128, false)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
  }
}

const bool registered = (Register(), true);

}  // namespace
}  // namespace kiln
