// Issue 4's convolution benchmarks, with both backends:
//   BM_Conv2D/<backend>/fwd      N=8, 56x56, 64->64 channels, 3x3, same, channels_last
//   BM_Conv2D/<backend>/fwdbwd   the forward, the input gradient and the filter gradient
//   BM_DepthwiseConv2D/<backend>/fwd   N=8, 56x56, C=128, 3x3, same
// and the issue-6 convnet's layers at batch 100 (fwd and fwdbwd):
//   BM_ConvnetConv1  28x28, 1->32, 5x5 same     BM_ConvnetConv2  14x14, 32->64, 5x5 same
//   BM_ConvnetPool1  2x2 stride 2 on 28x28x32   BM_ConvnetPool2  2x2 stride 2 on 14x14x64
// Counter GFLOP/s counts 2 flops per multiply-add of each convolution;
// Gcmp/s counts a pool's window cells visited. CPU time is the process's
// (every thread), which a shared machine disturbs less than wall time.
// bench/compare_conv.py times the same shapes in PyTorch beside it.
#include <chrono>
#include <random>
#include <string>

#include "benchmark/benchmark.h"
#include "codegen/executable.h"
#include "ops/ops.h"

namespace kiln {
namespace {

// One benchmarked shape: a convolution (k x k, "same", stride 1) or, with
// pool > 0, a pool x pool max pool of stride pool.
struct Shape2D {
  int64_t batch, size, cin, cout, groups, kernel, pool = 0;
};

Buffer Random(Shape shape, uint64_t seed) {
  Buffer b(DType::kF32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : b.span<float>()) v = u(rng);
  return b;
}

// The graph of one case: its outputs and the multiply-adds (or window
// comparisons) they take.
std::vector<Tensor> Build(const std::shared_ptr<Graph>& g, const Shape2D& c, bool backward,
                          double* flops) {
  const Shape x_shape{c.batch, c.size, c.size, c.cin};
  Tensor x = Input(g, "x", DType::kF32, x_shape);
  if (c.pool > 0) {
    const IntList window = {c.pool, c.pool}, none = {0, 0};
    const int64_t out = c.size / c.pool;
    *flops = static_cast<double>(c.batch) * out * out * c.cin * c.pool * c.pool;
    std::vector<Tensor> outputs = {MaxPool(x, window, window, none, none)};
    if (backward) {
      Tensor dy = Input(g, "dy", DType::kF32, Shape{c.batch, out, out, c.cin});
      outputs.push_back(MaxPoolGrad(x, dy, window, window, none, none));
    }
    return outputs;
  }
  const Shape w_shape{c.kernel, c.kernel, c.cin / c.groups, c.cout};
  Tensor w = Input(g, "w", DType::kF32, w_shape);
  const IntList one = {1, 1}, pad = {(c.kernel - 1) / 2, (c.kernel - 1) / 2};
  *flops = 2.0 * c.batch * c.size * c.size * c.cout * c.kernel * c.kernel * (c.cin / c.groups) *
           (backward ? 3 : 1);
  std::vector<Tensor> outputs = {Conv(x, w, one, one, pad, pad, c.groups)};
  if (backward) {
    Tensor dy = Input(g, "dy", DType::kF32, Shape{c.batch, c.size, c.size, c.cout});
    outputs.push_back(ConvInputGrad(dy, w, x_shape, one, one, pad, pad, c.groups));
    outputs.push_back(ConvFilterGrad(x, dy, w_shape, one, one, pad, pad, c.groups));
  }
  return outputs;
}

void RunCase(benchmark::State& state, Backend backend, Shape2D c, bool backward) {
  auto g = Graph::Create();
  double flops = 0;
  std::vector<Tensor> outputs = Build(g, c, backward, &flops);
  auto exe = Executable::Compile(outputs, {.backend = backend});
  if (!exe.ok()) {
    state.SkipWithError(std::string(exe.status().message()).c_str());
    return;
  }
  const int64_t out = c.pool > 0 ? c.size / c.pool : c.size;
  const Buffer xv = Random(Shape{c.batch, c.size, c.size, c.cin}, 1);
  const Buffer wv = Random(Shape{c.kernel, c.kernel, c.cin / c.groups, c.cout}, 2);
  const Buffer dyv = Random(Shape{c.batch, out, out, c.pool > 0 ? c.cin : c.cout}, 3);
  Feeds feeds = {{"x", &xv}};
  if (c.pool == 0) feeds["w"] = &wv;
  if (backward) feeds["dy"] = &dyv;
  std::vector<Buffer> results;
  if (absl::Status s = (*exe)->RunInto(feeds, results); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    absl::Status s = (*exe)->RunInto(feeds, results);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(results[0].raw());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  state.counters[c.pool > 0 ? "Gcmp/s" : "GFLOP/s"] =
      flops * static_cast<double>(state.iterations()) / seconds / 1e9;
  state.counters["threads"] = (*exe)->num_threads();
}

void Register() {
  struct Named {
    const char* name;
    Shape2D shape;
    bool backward_too;
  };
  const Named cases[] = {
      {"BM_Conv2D", {8, 56, 64, 64, 1, 3}, true},
      {"BM_DepthwiseConv2D", {8, 56, 128, 128, 128, 3}, false},
      {"BM_ConvnetConv1", {100, 28, 1, 32, 1, 5}, true},
      {"BM_ConvnetConv2", {100, 14, 32, 64, 1, 5}, true},
      {"BM_ConvnetPool1", {100, 28, 32, 32, 1, 0, 2}, true},
      {"BM_ConvnetPool2", {100, 14, 64, 64, 1, 0, 2}, true},
  };
  for (Backend b : {Backend::kJit, Backend::kInterp}) {
    const std::string backend(BackendName(b));
    for (const Named& c : cases) {
      const std::string prefix = std::string(c.name) + "/" + backend;
      benchmark::RegisterBenchmark((prefix + "/fwd").c_str(), RunCase, b, c.shape, false)
          ->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
      if (c.backward_too) {
        benchmark::RegisterBenchmark((prefix + "/fwdbwd").c_str(), RunCase, b, c.shape, true)
            ->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
      }
    }
  }
}

const bool registered = (Register(), true);

}  // namespace
}  // namespace kiln
