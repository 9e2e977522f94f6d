// Tests of KernelJit (codegen/jit_internal.h): host targeting, results of
// compiled loops, the memory cache, the disk cache (warm hit, corrupt
// entries, two processes at once, unwritable directories) and errors.
// Modules are built with llvm::IRBuilder here; every test gets its own
// temporary cache directory.
#include "codegen/jit_internal.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using ScaleFn = void (*)(float*, int64_t);

// void <name>(float* x, int64_t n) { for (i < n) x[i] *= factor; }
llvm::orc::ThreadSafeModule ScaleModule(float factor,
                                        const std::string& name = "scale") {
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = std::make_unique<llvm::Module>("scale_test", *context);
  llvm::IRBuilder<> b(*context);
  llvm::Type* f32 = b.getFloatTy();
  llvm::Type* i64 = b.getInt64Ty();
  auto* fn = llvm::Function::Create(
      llvm::FunctionType::get(b.getVoidTy(), {b.getPtrTy(), i64}, false),
      llvm::Function::ExternalLinkage, name, *module);
  auto* entry = llvm::BasicBlock::Create(*context, "entry", fn);
  auto* loop = llvm::BasicBlock::Create(*context, "loop", fn);
  auto* exit = llvm::BasicBlock::Create(*context, "exit", fn);
  llvm::Value* n = fn->getArg(1);
  b.SetInsertPoint(entry);
  b.CreateCondBr(b.CreateICmpSGT(n, b.getInt64(0)), loop, exit);
  b.SetInsertPoint(loop);
  llvm::PHINode* i = b.CreatePHI(i64, 2);
  i->addIncoming(b.getInt64(0), entry);
  llvm::Value* p = b.CreateGEP(f32, fn->getArg(0), i);
  b.CreateStore(
      b.CreateFMul(b.CreateLoad(f32, p), llvm::ConstantFP::get(f32, factor)),
      p);
  llvm::Value* next = b.CreateAdd(i, b.getInt64(1));
  i->addIncoming(next, loop);
  b.CreateCondBr(b.CreateICmpSLT(next, n), loop, exit);
  b.SetInsertPoint(exit);
  b.CreateRetVoid();
  return llvm::orc::ThreadSafeModule(std::move(module), std::move(context));
}

// Runs a compiled scale kernel over lengths with vector tails; true if every
// element is exactly x * factor.
bool ScalesBy(void* address, float factor) {
  for (int n : {1, 37, 1000}) {
    std::vector<float> x(n);
    for (int i = 0; i < n; ++i) x[i] = static_cast<float>(i) - 7.25f;
    reinterpret_cast<ScaleFn>(address)(x.data(), n);
    for (int i = 0; i < n; ++i) {
      if (x[i] != (static_cast<float>(i) - 7.25f) * factor) return false;
    }
  }
  return true;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

class JitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "kiln_jit_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<KernelJit> NewJit(const std::string& cache_dir,
                                    JitOptLevel level = JitOptLevel::kO2) {
    KernelJitOptions options;
    options.cache_dir = cache_dir;
    options.opt_level = level;
    absl::StatusOr<std::unique_ptr<KernelJit>> jit = KernelJit::Create(options);
    EXPECT_TRUE(jit.ok()) << jit.status();
    return jit.ok() ? std::move(*jit) : nullptr;
  }

  std::string Key(const KernelJit& jit, float factor) {
    llvm::orc::ThreadSafeModule tsm = ScaleModule(factor);
    return tsm.withModuleDo([&](llvm::Module& m) { return jit.CacheKey(m); });
  }

  std::string dir_;
};

TEST_F(JitTest, TargetsTheHostCpu) {
  auto jit = NewJit(dir_);
  ASSERT_NE(jit, nullptr);
  EXPECT_FALSE(jit->cpu_name().empty());
  EXPECT_NE(jit->cpu_name(), "generic");
#if defined(__x86_64__)
  EXPECT_NE(jit->cpu_features().find("+sse2"), std::string::npos)
      << jit->cpu_features();
  const bool avx512f = __builtin_cpu_supports("avx512f");
  const bool avx = __builtin_cpu_supports("avx");
  EXPECT_EQ(jit->HasFeature("avx512f"), avx512f);
  EXPECT_EQ(jit->vector_bits(), avx512f ? 512 : (avx ? 256 : 128));
  EXPECT_EQ(jit->target_triple().rfind("x86_64", 0), 0u)
      << jit->target_triple();
#endif
}

TEST_F(JitTest, CompiledLoopComputesTheRightNumbers) {
  auto jit = NewJit(dir_);
  ASSERT_NE(jit, nullptr);
  absl::StatusOr<std::vector<void*>> fns =
      jit->Compile(ScaleModule(2.5f), {"scale"});
  ASSERT_TRUE(fns.ok()) << fns.status();
  ASSERT_EQ(fns->size(), 1u);
  EXPECT_TRUE(ScalesBy((*fns)[0], 2.5f));
  EXPECT_EQ(jit->stats().compiles, 1);
  EXPECT_GT(jit->stats().compile_ms, 0.0);
}

TEST_F(JitTest, VectorizableLoopUsesZmmRegisters) {
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx512f")) {
    GTEST_SKIP() << "the host has no avx512f, so no zmm registers to check";
  }
#else
  GTEST_SKIP() << "zmm registers exist only on x86-64";
#endif
  auto jit = NewJit(dir_);
  ASSERT_NE(jit, nullptr);
  llvm::orc::ThreadSafeModule tsm = ScaleModule(3.0f);
  absl::StatusOr<std::string> assembly =
      tsm.withModuleDo([&](llvm::Module& m) { return jit->EmitAssembly(m); });
  ASSERT_TRUE(assembly.ok()) << assembly.status();
  EXPECT_NE(assembly->find("zmm"), std::string::npos) << *assembly;
  absl::StatusOr<std::string> ir = tsm.withModuleDo(
      [&](llvm::Module& m) { return jit->EmitOptimizedIR(m); });
  ASSERT_TRUE(ir.ok()) << ir.status();
  EXPECT_NE(ir->find("<16 x float>"), std::string::npos) << *ir;
  // Emitting clones: the module still compiles and runs afterwards.
  absl::StatusOr<std::vector<void*>> fns =
      jit->Compile(std::move(tsm), {"scale"});
  ASSERT_TRUE(fns.ok()) << fns.status();
  EXPECT_TRUE(ScalesBy((*fns)[0], 3.0f));
}

TEST_F(JitTest, KernelsMayCallProcessFunctions) {
  // float call_expf(float x) { return expf(x); }: links against libm.
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = std::make_unique<llvm::Module>("libm_call", *context);
  llvm::IRBuilder<> b(*context);
  auto* type = llvm::FunctionType::get(b.getFloatTy(), {b.getFloatTy()}, false);
  llvm::FunctionCallee expf = module->getOrInsertFunction("expf", type);
  auto* fn = llvm::Function::Create(type, llvm::Function::ExternalLinkage,
                                    "call_expf", *module);
  b.SetInsertPoint(llvm::BasicBlock::Create(*context, "entry", fn));
  b.CreateRet(b.CreateCall(expf, {fn->getArg(0)}));
  auto jit = NewJit(dir_);
  ASSERT_NE(jit, nullptr);
  auto fns = jit->Compile(
      llvm::orc::ThreadSafeModule(std::move(module), std::move(context)),
      {"call_expf"});
  ASSERT_TRUE(fns.ok()) << fns.status();
  volatile float x = 0.75f;
  EXPECT_EQ(reinterpret_cast<float (*)(float)>((*fns)[0])(x), std::exp(x));
}

TEST_F(JitTest, IdenticalIrHitsTheMemoryCache) {
  auto jit = NewJit(dir_);
  ASSERT_NE(jit, nullptr);
  auto first = jit->Compile(ScaleModule(2.0f), {"scale"});
  auto second = jit->Compile(ScaleModule(2.0f), {"scale"});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  const KernelJitStats stats = jit->stats();
  EXPECT_EQ(stats.compiles, 1);
  EXPECT_EQ(stats.memory_hits, 1);
  EXPECT_EQ(stats.disk_hits, 0);
  EXPECT_EQ(Key(*jit, 2.0f), Key(*jit, 2.0f));
  EXPECT_NE(Key(*jit, 2.0f), Key(*jit, 4.0f));
}

TEST_F(JitTest, ModulesMayDefineTheSameSymbol) {
  auto jit = NewJit(dir_);
  ASSERT_NE(jit, nullptr);
  auto two = jit->Compile(ScaleModule(2.0f), {"scale"});
  auto three = jit->Compile(ScaleModule(3.0f), {"scale"});
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_NE((*two)[0], (*three)[0]);
  EXPECT_TRUE(ScalesBy((*two)[0], 2.0f));
  EXPECT_TRUE(ScalesBy((*three)[0], 3.0f));
  EXPECT_EQ(jit->stats().compiles, 2);
}

TEST_F(JitTest, SecondInstanceLoadsFromDisk) {
  auto writer = NewJit(dir_);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Compile(ScaleModule(1.5f), {"scale"}).ok());
  EXPECT_EQ(writer->stats().disk_writes, 1);
  EXPECT_TRUE(writer->disk_cache_status().ok());
  EXPECT_TRUE(fs::is_regular_file(writer->CachePath(Key(*writer, 1.5f))));

  auto reader = NewJit(dir_);
  ASSERT_NE(reader, nullptr);
  auto fns = reader->Compile(ScaleModule(1.5f), {"scale"});
  ASSERT_TRUE(fns.ok()) << fns.status();
  EXPECT_TRUE(ScalesBy((*fns)[0], 1.5f));
  const KernelJitStats stats = reader->stats();
  EXPECT_EQ(stats.disk_hits, 1);
  EXPECT_EQ(stats.compiles, 0);
  EXPECT_EQ(stats.disk_writes, 0);
}

TEST_F(JitTest, OptLevelIsPartOfTheKey) {
  auto o2 = NewJit(dir_);
  auto o3 = NewJit(dir_, JitOptLevel::kO3);
  ASSERT_TRUE(o2 != nullptr && o3 != nullptr);
  EXPECT_NE(Key(*o2, 2.0f), Key(*o3, 2.0f));
  ASSERT_TRUE(o2->Compile(ScaleModule(2.0f), {"scale"}).ok());
  auto fns = o3->Compile(ScaleModule(2.0f), {"scale"});
  ASSERT_TRUE(fns.ok()) << fns.status();
  EXPECT_TRUE(ScalesBy((*fns)[0], 2.0f));
  EXPECT_EQ(o3->stats().compiles, 1);  // no hit on the O2 entry
}

TEST_F(JitTest, CorruptEntriesAreDetectedAndRebuilt) {
  // Each damage turns the entry of scale-by-2 into something else.
  enum Damage {
    kFlipPayload,
    kFlipMagic,
    kHalf,
    kShort,
    kEmpty,
    kAppend,
    kOtherKernel
  };
  for (Damage damage : {kFlipPayload, kFlipMagic, kHalf, kShort, kEmpty,
                        kAppend, kOtherKernel}) {
    SCOPED_TRACE(damage);
    const std::string dir = dir_ + "/d" + std::to_string(damage);
    auto writer = NewJit(dir);
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(writer->Compile(ScaleModule(2.0f), {"scale"}).ok());
    ASSERT_TRUE(writer->Compile(ScaleModule(5.0f), {"scale"}).ok());
    const std::string path = writer->CachePath(Key(*writer, 2.0f));
    std::string bytes = ReadAll(path);
    ASSERT_GT(bytes.size(), 200u);
    switch (damage) {
      case kFlipPayload:
        bytes[bytes.size() / 2] ^= 0x5a;
        break;
      case kFlipMagic:
        bytes[1] ^= 0x01;
        break;
      case kHalf:
        bytes.resize(bytes.size() / 2);
        break;
      case kShort:
        bytes.resize(10);
        break;
      case kEmpty:
        bytes.clear();
        break;
      case kAppend:
        bytes += "trailing";
        break;
      case kOtherKernel:
        bytes = ReadAll(writer->CachePath(Key(*writer, 5.0f)));
        break;
    }
    WriteAll(path, bytes);

    auto rebuilder = NewJit(dir);
    ASSERT_NE(rebuilder, nullptr);
    auto fns = rebuilder->Compile(ScaleModule(2.0f), {"scale"});
    ASSERT_TRUE(fns.ok()) << fns.status();
    EXPECT_TRUE(ScalesBy((*fns)[0], 2.0f));
    KernelJitStats stats = rebuilder->stats();
    EXPECT_EQ(stats.disk_rejects, 1);
    EXPECT_EQ(stats.disk_hits, 0);
    EXPECT_EQ(stats.compiles, 1);

    // The rebuilt entry is sound again.
    auto reader = NewJit(dir);
    ASSERT_NE(reader, nullptr);
    fns = reader->Compile(ScaleModule(2.0f), {"scale"});
    ASSERT_TRUE(fns.ok()) << fns.status();
    EXPECT_TRUE(ScalesBy((*fns)[0], 2.0f));
    EXPECT_EQ(reader->stats().disk_hits, 1);
    EXPECT_EQ(reader->stats().compiles, 0);
  }
}

TEST_F(JitTest, TwoProcessesFillTheSameCacheAtOnce) {
  const std::string dir = dir_ + "/shared";  // neither child finds it
  int gate[2];
  ASSERT_EQ(pipe(gate), 0);
  pid_t children[2];
  for (pid_t& child : children) {
    child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(gate[1]);
      char c;
      (void)!read(gate[0], &c, 1);  // wait until both children exist
      absl::StatusOr<std::unique_ptr<KernelJit>> jit =
          KernelJit::Create({.cache_dir = dir});
      if (!jit.ok()) _exit(2);
      auto fns = (*jit)->Compile(ScaleModule(7.0f), {"scale"});
      if (!fns.ok()) _exit(3);
      if (!ScalesBy((*fns)[0], 7.0f)) _exit(4);
      _exit(0);
    }
  }
  close(gate[0]);
  close(gate[1]);  // releases both children
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().extension(), ".kobj") << entry.path();  // no temps
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  auto reader = NewJit(dir);
  ASSERT_NE(reader, nullptr);
  auto fns = reader->Compile(ScaleModule(7.0f), {"scale"});
  ASSERT_TRUE(fns.ok()) << fns.status();
  EXPECT_TRUE(ScalesBy((*fns)[0], 7.0f));
  EXPECT_EQ(reader->stats().disk_hits, 1);
  EXPECT_EQ(reader->stats().disk_rejects, 0);
}

TEST_F(JitTest, UncreatableCacheDirStillCompiles) {
  WriteAll(dir_ + "/file", "not a directory");
  auto jit = NewJit(dir_ + "/file/cache");
  ASSERT_NE(jit, nullptr);
  EXPECT_FALSE(jit->disk_cache_status().ok());
  EXPECT_NE(jit->disk_cache_status().message().find("file/cache"),
            std::string::npos)
      << jit->disk_cache_status();
  EXPECT_EQ(jit->cache_dir(), "");
  auto fns = jit->Compile(ScaleModule(2.0f), {"scale"});
  ASSERT_TRUE(fns.ok()) << fns.status();
  EXPECT_TRUE(ScalesBy((*fns)[0], 2.0f));
  EXPECT_EQ(jit->stats().compiles, 1);
  EXPECT_EQ(jit->stats().disk_writes, 0);
}

TEST_F(JitTest, UnwritableCacheDirStillCompiles) {
  const std::string dir = dir_ + "/cache";
  auto jit = NewJit(dir);
  ASSERT_NE(jit, nullptr);
  ASSERT_TRUE(jit->disk_cache_status().ok());
  // The directory turns into a file after creation: writes fail (even as
  // root, where permission bits would not stop them).
  fs::remove_all(dir);
  WriteAll(dir, "not a directory");
  auto fns = jit->Compile(ScaleModule(2.0f), {"scale"});
  ASSERT_TRUE(fns.ok()) << fns.status();
  EXPECT_TRUE(ScalesBy((*fns)[0], 2.0f));
  EXPECT_TRUE(absl::IsUnavailable(jit->disk_cache_status()))
      << jit->disk_cache_status();
  EXPECT_EQ(jit->stats().disk_writes, 0);
  fns = jit->Compile(ScaleModule(3.0f), {"scale"});
  ASSERT_TRUE(fns.ok()) << fns.status();
  EXPECT_TRUE(ScalesBy((*fns)[0], 3.0f));
}

TEST_F(JitTest, CacheDirComesFromTheEnvironment) {
  const char* saved = std::getenv("KILN_CACHE_DIR");
  const std::string old = saved ? saved : "";
  setenv("KILN_CACHE_DIR", (dir_ + "/env").c_str(), 1);
  auto jit = NewJit("");
  if (saved)
    setenv("KILN_CACHE_DIR", old.c_str(), 1);
  else
    unsetenv("KILN_CACHE_DIR");
  ASSERT_NE(jit, nullptr);
  EXPECT_EQ(jit->cache_dir(), dir_ + "/env");
  EXPECT_TRUE(fs::is_directory(dir_ + "/env"));
}

TEST_F(JitTest, ConcurrentCompilesInOneInstance) {
  auto jit = NewJit(dir_);
  ASSERT_NE(jit, nullptr);
  std::vector<std::thread> threads;
  std::vector<int> ok(6, 0);
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      const float factor = 2.0f + static_cast<float>(t % 2);
      auto fns = jit->Compile(ScaleModule(factor), {"scale"});
      ok[t] = fns.ok() && ScalesBy((*fns)[0], factor);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 6; ++t) EXPECT_TRUE(ok[t]) << t;
  const KernelJitStats stats = jit->stats();
  EXPECT_EQ(stats.memory_hits + stats.disk_hits + stats.compiles, 6);
  EXPECT_GE(stats.compiles, 2);
}

TEST_F(JitTest, InvalidIrAndMissingSymbolsAreErrors) {
  auto jit = NewJit(dir_);
  ASSERT_NE(jit, nullptr);
  auto missing = jit->Compile(ScaleModule(2.0f), {"scale", "no_such_kernel"});
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("no_such_kernel"),
            std::string::npos);

  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = std::make_unique<llvm::Module>("broken", *context);
  auto* fn = llvm::Function::Create(
      llvm::FunctionType::get(llvm::Type::getVoidTy(*context), false),
      llvm::Function::ExternalLinkage, "broken", *module);
  llvm::BasicBlock::Create(*context, "entry", fn);  // no terminator
  auto broken = jit->Compile(
      llvm::orc::ThreadSafeModule(std::move(module), std::move(context)),
      {"broken"});
  EXPECT_TRUE(absl::IsInvalidArgument(broken.status())) << broken.status();

  EXPECT_TRUE(absl::IsInvalidArgument(
      jit->Compile(llvm::orc::ThreadSafeModule(), {"x"}).status()));
}

}  // namespace
}  // namespace kiln
