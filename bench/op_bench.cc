// BM_Op/<op>/interp: every elementwise op of the catalog over 1,048,576
// elements, registered from the op list (a new op needs no bench code).
// Inputs take the dtypes of the op's first conformance case.
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "codegen/executable.h"
#include "ops/catalog.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int64_t kElements = 1 << 20;

void RunOp(benchmark::State& state, const OpDef* op) {
  const TestCase tc = op->tests().cases.front();
  auto g = Graph::Create();
  std::vector<Tensor> inputs;
  std::vector<Buffer> values;
  Feeds feeds;
  std::mt19937 rng(1);
  for (size_t i = 0; i < tc.inputs.size(); ++i) {
    const TestInput& in = tc.inputs[i];
    inputs.push_back(Input(g, absl::StrCat("in", i), in.type.dtype, Shape{kElements}));
    Buffer b(in.type.dtype, Shape{kElements});
    std::uniform_real_distribution<double> u(in.lo, in.hi);
    for (int64_t e = 0; e < kElements; ++e) {
      const double v = u(rng);
      b.SetFromDouble(e, in.type.dtype == DType::kF32 ? v : std::round(v));
    }
    values.push_back(std::move(b));
  }
  for (size_t i = 0; i < values.size(); ++i) feeds[absl::StrCat("in", i)] = &values[i];
  Tensor y = g->Apply(*op, inputs, tc.attrs);
  auto exe = Executable::Compile({y}, {.backend = Backend::kInterp});
  if (!exe.ok()) {
    state.SkipWithError(std::string(exe.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    auto out = (*exe)->Run(feeds);
    if (!out.ok()) {
      state.SkipWithError(std::string(out.status().message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kElements);
}

const bool registered = [] {
  for (const OpDef* op : Ops().All()) {
    if (op->fusion != FusionKind::kElementwise || op->tests == nullptr) continue;
    benchmark::RegisterBenchmark(absl::StrCat("BM_Op/", op->name, "/interp").c_str(),
                                 RunOp, op)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
}  // namespace kiln
