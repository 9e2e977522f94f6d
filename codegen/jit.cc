// KernelJit: host targeting, the optimization pipeline, the memory cache
// and linking into ORC LLJIT (the disk cache is in jit_cache.cc). See
// jit_internal.h for the contract; usage:
//
//   KILN_ASSIGN_OR_RETURN(std::unique_ptr<KernelJit> jit, KernelJit::Create());
//   KILN_ASSIGN_OR_RETURN(auto fns, jit->Compile(std::move(tsm), {"k0"}));
#include "codegen/jit_internal.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/Cloning.h"

#ifndef KILN_VERSION_STRING
#error "KILN_VERSION_STRING must be defined by the build"
#endif

namespace kiln {
namespace {

// Bump when the pipeline (passes, attributes, codegen options) changes in a
// way that changes the object made from the same IR.
constexpr char kPipelineRevision[] = "kiln-jit-pipeline-1";

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

absl::string_view OptName(JitOptLevel level) {
  return level == JitOptLevel::kO3 ? "O3" : "O2";
}

absl::Status Verify(const llvm::Module& module) {
  std::string problems;
  llvm::raw_string_ostream out(problems);
  if (llvm::verifyModule(module, &out)) {
    out.flush();
    return absl::InvalidArgumentError(
        absl::StrCat("JIT: module '", module.getModuleIdentifier(),
                     "' does not verify: ", problems));
  }
  return absl::OkStatus();
}

// True when environment variable `name` is "1".
bool EnvironmentFlag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && absl::string_view(value) == "1";
}

}  // namespace

absl::Status FromLlvm(llvm::Error error, absl::string_view context) {
  if (!error) return absl::OkStatus();
  absl::StatusCode code = absl::StatusCode::kInternal;
  std::string message;
  auto append = [&](const std::string& m) {
    absl::StrAppend(&message, message.empty() ? "" : "; ", m);
  };
  llvm::handleAllErrors(
      std::move(error),
      [&](const llvm::orc::SymbolsNotFound& e) {
        code = absl::StatusCode::kNotFound;
        append(e.message());
      },
      [&](const llvm::ErrorInfoBase& e) { append(e.message()); });
  return absl::Status(code, absl::StrCat(context, ": ", message));
}

absl::StatusOr<std::unique_ptr<KernelJit>> KernelJit::Create(
    const KernelJitOptions& options) {
  static std::once_flag init_once;
  std::call_once(init_once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
  auto jit = std::unique_ptr<KernelJit>(new KernelJit());
  jit->triple_ = llvm::sys::getProcessTriple();
  jit->cpu_ = llvm::sys::getHostCPUName().str();
  for (const auto& feature : llvm::sys::getHostCPUFeatures()) {
    jit->feature_list_.push_back(
        absl::StrCat(feature.second ? "+" : "-", feature.first().str()));
  }
  std::sort(jit->feature_list_.begin(), jit->feature_list_.end());
  jit->features_ = absl::StrJoin(jit->feature_list_, ",");
  jit->vector_bits_ = jit->HasFeature("avx512f") ? 512
                      : jit->HasFeature("avx")   ? 256
                                                 : 128;
  jit->opt_level_ = options.opt_level;
  jit->warn_on_disk_error_ = options.warn_on_disk_error;

  jit->machine_builder_ = std::make_unique<llvm::orc::JITTargetMachineBuilder>(
      llvm::Triple(jit->triple_));
  jit->machine_builder_->setCPU(jit->cpu_)
      .addFeatures(jit->feature_list_)
      .setRelocationModel(llvm::Reloc::PIC_)
      .setCodeModel(llvm::CodeModel::Small)
      .setCodeGenOptLevel(options.opt_level == JitOptLevel::kO3
                              ? llvm::CodeGenOptLevel::Aggressive
                              : llvm::CodeGenOptLevel::Default);
  auto lljit = llvm::orc::LLJITBuilder()
                   .setJITTargetMachineBuilder(*jit->machine_builder_)
                   .create();
  if (!lljit) return FromLlvm(lljit.takeError(), "JIT: creating LLJIT");
  jit->lljit_ = std::move(*lljit);
  KILN_RETURN_IF_ERROR(EnableJitToolSupport(*jit->lljit_, options.perf, options.gdb));

  jit->OpenDiskCache(options);
  return jit;
}

absl::StatusOr<KernelJit*> KernelJit::Default() {
  static const absl::StatusOr<KernelJit*>* instance = [] {
    KernelJitOptions options;
    options.warn_on_disk_error = true;
    options.perf = EnvironmentFlag("KILN_PERF");
    options.gdb = EnvironmentFlag("KILN_GDB");
    absl::StatusOr<std::unique_ptr<KernelJit>> jit = Create(options);
    if (!jit.ok()) return new absl::StatusOr<KernelJit*>(jit.status());
    return new absl::StatusOr<KernelJit*>(jit->release());
  }();
  return *instance;
}

KernelJit::~KernelJit() = default;

bool KernelJit::HasFeature(absl::string_view feature) const {
  return std::binary_search(feature_list_.begin(), feature_list_.end(),
                            absl::StrCat("+", feature));
}

std::string KernelJit::cache_dir() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_dir_;
}

absl::Status KernelJit::disk_cache_status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return disk_status_;
}

KernelJitStats KernelJit::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::string KernelJit::CacheKey(const llvm::Module& module) const {
  std::string text =
      absl::StrCat("kiln ", KILN_VERSION_STRING, "\n", kPipelineRevision,
                   "\nLLVM ", LLVM_VERSION_STRING, "\n", triple_, "\n", cpu_,
                   "\n", features_, "\n", OptName(opt_level_), "\n");
  llvm::raw_string_ostream out(text);
  module.print(out, nullptr);
  out.flush();
  const llvm::XXH128_hash_t hash = llvm::xxh3_128bits(llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  return absl::StrFormat("%016x%016x", hash.high64, hash.low64);
}

absl::Status KernelJit::Optimize(llvm::Module& module,
                                 llvm::TargetMachine& machine) const {
  module.setTargetTriple(triple_);
  module.setDataLayout(machine.createDataLayout());
  // Without these, CPUs tuned to prefer 256-bit vectors split 512-bit ones.
  const std::string width = std::to_string(vector_bits_);
  for (llvm::Function& function : module) {
    if (function.isDeclaration()) continue;
    if (!function.hasFnAttribute("prefer-vector-width")) {
      function.addFnAttr("prefer-vector-width", width);
    }
    if (!function.hasFnAttribute("min-legal-vector-width")) {
      function.addFnAttr("min-legal-vector-width", width);
    }
  }
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgscc;
  llvm::ModuleAnalysisManager modules;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  tuning.LoopUnrolling = true;
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  llvm::ModulePassManager pipeline = builder.buildPerModuleDefaultPipeline(
      opt_level_ == JitOptLevel::kO3 ? llvm::OptimizationLevel::O3
                                     : llvm::OptimizationLevel::O2);
  pipeline.run(module, modules);
  return absl::OkStatus();
}

absl::StatusOr<std::string> KernelJit::Build(llvm::Module& module,
                                             Artifact artifact) const {
  KILN_RETURN_IF_ERROR(Verify(module));
  // A TargetMachine per build, so builds on different threads never share.
  llvm::orc::JITTargetMachineBuilder machine_builder = *machine_builder_;
  auto machine = machine_builder.createTargetMachine();
  if (!machine) {
    return FromLlvm(machine.takeError(), "JIT: creating TargetMachine");
  }
  KILN_RETURN_IF_ERROR(Optimize(module, **machine));
  std::string result;
  if (artifact == Artifact::kOptimizedIR) {
    llvm::raw_string_ostream out(result);
    module.print(out, nullptr);
    out.flush();
    return result;
  }
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream out(buffer);
  llvm::legacy::PassManager codegen;
  if ((*machine)->addPassesToEmitFile(
          codegen, out, nullptr,
          artifact == Artifact::kAssembly
              ? llvm::CodeGenFileType::AssemblyFile
              : llvm::CodeGenFileType::ObjectFile)) {
    return absl::InternalError(
        absl::StrCat("JIT: target ", triple_, " cannot emit this file type"));
  }
  codegen.run(module);
  return std::string(buffer.data(), buffer.size());
}

absl::StatusOr<std::string> KernelJit::EmitAssembly(
    const llvm::Module& module) const {
  std::unique_ptr<llvm::Module> copy = llvm::CloneModule(module);
  return Build(*copy, Artifact::kAssembly);
}

absl::StatusOr<std::string> KernelJit::EmitOptimizedIR(
    const llvm::Module& module) const {
  std::unique_ptr<llvm::Module> copy = llvm::CloneModule(module);
  return Build(*copy, Artifact::kOptimizedIR);
}

absl::StatusOr<std::vector<void*>> KernelJit::Compile(
    llvm::orc::ThreadSafeModule module, absl::Span<const std::string> symbols) {
  if (!module) return absl::InvalidArgumentError("JIT: empty module");
  return module.withModuleDo(
      [&](llvm::Module& m) -> absl::StatusOr<std::vector<void*>> {
        const std::string key = CacheKey(m);
        llvm::orc::JITDylib* known = nullptr;
        {
          std::lock_guard<std::mutex> lock(mu_);
          auto it = dylibs_.find(key);
          if (it != dylibs_.end()) {
            known = it->second;
            ++stats_.memory_hits;
          }
        }
        if (known != nullptr) return LookupAll(*known, symbols);

        if (std::unique_ptr<llvm::MemoryBuffer> object = ReadEntry(key)) {
          absl::StatusOr<std::vector<void*>> found =
              Install(key, std::move(object), symbols);
          // A missing symbol is the caller's error, not the entry's.
          if (found.ok() || absl::IsNotFound(found.status())) {
            if (found.ok()) {
              std::lock_guard<std::mutex> lock(mu_);
              ++stats_.disk_hits;
            }
            return found;
          }
          // Sound on disk but it does not link: reject it and rebuild.
          llvm::sys::fs::remove(CachePath(key));
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.disk_rejects;
        }

        const auto start = std::chrono::steady_clock::now();
        KILN_ASSIGN_OR_RETURN(std::string object, Build(m, Artifact::kObject));
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.compiles;
          stats_.compile_ms += MillisecondsSince(start);
        }
        WriteEntry(key, object);
        return Install(key,
                       llvm::MemoryBuffer::getMemBufferCopy(
                           object, absl::StrCat("kiln-jit-", key)),
                       symbols);
      });
}

absl::StatusOr<std::vector<void*>> KernelJit::Install(
    const std::string& key, std::unique_ptr<llvm::MemoryBuffer> object,
    absl::Span<const std::string> symbols) {
  std::string name;
  llvm::orc::JITDylib* known = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = dylibs_.find(key);  // another thread may have won the race
    if (it != dylibs_.end()) {
      known = it->second;
    } else {
      name = absl::StrCat("kiln_", next_dylib_++, "_", key.substr(0, 12));
    }
  }
  if (known != nullptr) return LookupAll(*known, symbols);
  auto dylib = lljit_->createJITDylib(name);
  if (!dylib) return FromLlvm(dylib.takeError(), "JIT: creating JITDylib");
  const absl::Status added = FromLlvm(
      lljit_->addObjectFile(*dylib, std::move(object)), "JIT: adding object");
  absl::StatusOr<std::vector<void*>> found =
      added.ok() ? LookupAll(*dylib, symbols)
                 : absl::StatusOr<std::vector<void*>>(added);
  if (!found.ok()) {
    FromLlvm(lljit_->getExecutionSession().removeJITDylib(*dylib),
             "JIT: removing JITDylib")
        .IgnoreError();
    return found;
  }
  std::lock_guard<std::mutex> lock(mu_);
  dylibs_.emplace(key, &*dylib);
  return found;
}

absl::StatusOr<std::vector<void*>> KernelJit::LookupAll(
    llvm::orc::JITDylib& dylib, absl::Span<const std::string> symbols) {
  std::vector<void*> addresses;
  addresses.reserve(symbols.size());
  for (const std::string& symbol : symbols) {
    auto address = lljit_->lookup(dylib, symbol);
    if (!address) {
      return FromLlvm(address.takeError(),
                      absl::StrCat("JIT: looking up '", symbol, "'"));
    }
    addresses.push_back(address->toPtr<void*>());
  }
  return addresses;
}

}  // namespace kiln
