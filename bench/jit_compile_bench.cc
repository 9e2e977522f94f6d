// Compile-time benchmarks of KernelJit (codegen/jit_internal.h) on one
// representative fused elementwise kernel,
//   y[i] = max(x[i]*1.5 + 0.5, 0) * (1 / (1 + exp(-x[i])))
// with exp as an inline polynomial (as the code generator emits it) and
// fast-math flags, so the loop vectorizes.
//
//   BM_JitCompile/cold       fresh cache directory and KernelJit each time:
//                            optimize + codegen + link (target: <= 20 ms, O2)
//   BM_JitCompile/warm_disk  fresh KernelJit each time, entry already on disk
//
//   ./kiln_bench --benchmark_filter=BM_JitCompile
// Both times include creating the KernelJit (its LLJIT); the counters
// compile_ms / load_ms are the JIT's own compile and disk-read times.
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "codegen/jit_internal.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

namespace kiln {
namespace {

constexpr char kKernel[] = "fused_mul_add_relu_sigmoid_mul_k0";
using KernelFn = void (*)(const float*, float*, int64_t);

// exp(x) for floats: Cody-Waite range reduction and the Cephes polynomial.
llvm::Value* Exp(llvm::IRBuilder<>& b, llvm::Value* x) {
  llvm::Type* f32 = b.getFloatTy();
  auto c = [&](double v) { return llvm::ConstantFP::get(f32, v); };
  x = b.CreateMinNum(b.CreateMaxNum(x, c(-87.3)), c(88.7));
  llvm::Value* n = b.CreateUnaryIntrinsic(llvm::Intrinsic::rint,
                                          b.CreateFMul(x, c(1.44269504)));
  llvm::Value* r = b.CreateFSub(x, b.CreateFMul(n, c(0.693359375)));
  r = b.CreateFSub(r, b.CreateFMul(n, c(-2.12194440e-4)));
  llvm::Value* p = c(1.9875691500e-4);
  for (double k : {1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                   1.6666665459e-1, 5.0000001201e-1}) {
    p = b.CreateFAdd(b.CreateFMul(p, r), c(k));
  }
  p = b.CreateFAdd(b.CreateFAdd(b.CreateFMul(b.CreateFMul(p, r), r), r), c(1));
  llvm::Value* bits = b.CreateShl(
      b.CreateAdd(b.CreateFPToSI(n, b.getInt32Ty()), b.getInt32(127)), 23);
  return b.CreateFMul(p, b.CreateBitCast(bits, f32));
}

llvm::orc::ThreadSafeModule FusedModule() {
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = std::make_unique<llvm::Module>("jit_compile_bench", *context);
  llvm::IRBuilder<> b(*context);
  b.setFastMathFlags(llvm::FastMathFlags::getFast());
  llvm::Type* f32 = b.getFloatTy();
  llvm::Type* i64 = b.getInt64Ty();
  auto* fn = llvm::Function::Create(
      llvm::FunctionType::get(b.getVoidTy(), {b.getPtrTy(), b.getPtrTy(), i64},
                              false),
      llvm::Function::ExternalLinkage, kKernel, *module);
  fn->addParamAttr(0, llvm::Attribute::NoAlias);
  fn->addParamAttr(1, llvm::Attribute::NoAlias);
  auto* entry = llvm::BasicBlock::Create(*context, "entry", fn);
  auto* loop = llvm::BasicBlock::Create(*context, "loop", fn);
  auto* exit = llvm::BasicBlock::Create(*context, "exit", fn);
  llvm::Value* n = fn->getArg(2);
  b.SetInsertPoint(entry);
  b.CreateCondBr(b.CreateICmpSGT(n, b.getInt64(0)), loop, exit);
  b.SetInsertPoint(loop);
  llvm::PHINode* i = b.CreatePHI(i64, 2);
  i->addIncoming(b.getInt64(0), entry);
  llvm::Value* x = b.CreateLoad(f32, b.CreateGEP(f32, fn->getArg(0), i));
  auto c = [&](double v) { return llvm::ConstantFP::get(f32, v); };
  llvm::Value* relu =
      b.CreateMaxNum(b.CreateFAdd(b.CreateFMul(x, c(1.5)), c(0.5)), c(0));
  llvm::Value* sigmoid =
      b.CreateFDiv(c(1), b.CreateFAdd(c(1), Exp(b, b.CreateFNeg(x))));
  b.CreateStore(b.CreateFMul(relu, sigmoid),
                b.CreateGEP(f32, fn->getArg(1), i));
  llvm::Value* next = b.CreateAdd(i, b.getInt64(1));
  i->addIncoming(next, loop);
  b.CreateCondBr(b.CreateICmpSLT(next, n), loop, exit);
  b.SetInsertPoint(exit);
  b.CreateRetVoid();
  return llvm::orc::ThreadSafeModule(std::move(module), std::move(context));
}

// Empty if the kernel matches a double-precision reference, else why not.
std::string CheckKernel(void* address) {
  std::vector<float> x(1003), y(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = -12.0f + 0.024f * i;
  reinterpret_cast<KernelFn>(address)(x.data(), y.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    const double want = std::max(v * 1.5 + 0.5, 0.0) / (1 + std::exp(-v));
    if (std::abs(y[i] - want) > 1e-5 * std::abs(want) + 1e-30) {
      return "kernel result " + std::to_string(y[i]) +
             " != " + std::to_string(want) + " at x=" + std::to_string(v);
    }
  }
  return "";
}

std::string TempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "kiln_jit_bench_XXXXXX");
  return mkdtemp(pattern.data()) ? pattern : "";
}

void BM_JitCompile(benchmark::State& state, bool warm) {
  const std::string root = TempDir();
  if (root.empty()) return state.SkipWithError("cannot make a temp dir");
  KernelJitOptions options;
  options.cache_dir = root + "/warm";
  if (warm) {  // fill the disk cache once
    auto jit = KernelJit::Create(options);
    if (!jit.ok() || !(*jit)->Compile(FusedModule(), {kKernel}).ok()) {
      return state.SkipWithError("cannot fill the cache");
    }
  }
  double compile_ms = 0, load_ms = 0;
  int64_t round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (!warm) options.cache_dir = root + "/cold" + std::to_string(round);
    llvm::orc::ThreadSafeModule module = FusedModule();
    state.ResumeTiming();
    absl::StatusOr<std::unique_ptr<KernelJit>> jit = KernelJit::Create(options);
    absl::StatusOr<std::vector<void*>> fns =
        jit.ok() ? (*jit)->Compile(std::move(module), {kKernel})
                 : absl::StatusOr<std::vector<void*>>(jit.status());
    state.PauseTiming();
    if (!fns.ok()) return state.SkipWithError(fns.status().ToString().c_str());
    const KernelJitStats stats = (*jit)->stats();
    if (warm ? stats.disk_hits != 1 || stats.compiles != 0
             : stats.compiles != 1) {
      return state.SkipWithError("the cache did not behave as expected");
    }
    if (round++ == 0) {
      const std::string problem = CheckKernel((*fns)[0]);
      if (!problem.empty()) return state.SkipWithError(problem.c_str());
    }
    compile_ms += stats.compile_ms;
    load_ms += stats.disk_load_ms;
    if (jit.ok()) jit->reset();
    state.ResumeTiming();
  }
  std::filesystem::remove_all(root);
  state.counters["compile_ms"] =
      benchmark::Counter(compile_ms, benchmark::Counter::kAvgIterations);
  state.counters["load_ms"] =
      benchmark::Counter(load_ms, benchmark::Counter::kAvgIterations);
}

BENCHMARK_CAPTURE(BM_JitCompile, cold, false)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_JitCompile, warm_disk, true)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace kiln
