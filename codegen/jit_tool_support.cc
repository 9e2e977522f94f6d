// Registers JIT code with perf and gdb, through ORC's own plugins on the
// JITLink object layer (no ORC runtime needed: the registration functions
// live in libLLVM and are found among the process's symbols).
//
// perf (KILN_PERF=1): every linked kernel is written to a jitdump file
// (jit-<pid>.dump under $JITDUMPDIR, default ~/.debug/jit/), with its code,
// which `perf inject --jit` turns into symbolized objects:
//
//   KILN_PERF=1 perf record -k 1 -g -o perf.data ./program
//   perf inject --jit -i perf.data -o perf.jit.data
//   perf report -i perf.jit.data        # rows name fused_..._k3, matmul_k0, ...
//
// A kernel's internal helpers (GEMM micro-kernels such as conv_k0_direct_8x2)
// are named too: their calls are resolved by the assembler, so no edge keeps
// their symbols alive and JITLink would prune them before perf sees them.
//
// gdb (KILN_GDB=1): every linked object is announced through the GDB JIT
// interface (__jit_debug_register_code), so backtraces inside a kernel
// name it:
//
//   KILN_GDB=1 gdb -ex run -ex bt --args ./program
//
// Both only observe linking: the kernels' code is the same with or without.
#include "codegen/jit_internal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "llvm/ExecutionEngine/Orc/Debugging/DebuggerSupport.h"
#include "llvm/ExecutionEngine/JITLink/JITLink.h"
#include "llvm/ExecutionEngine/Orc/Debugging/PerfSupportPlugin.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"
#include "llvm/ExecutionEngine/Orc/Shared/PerfSharedStructs.h"

namespace kiln {
namespace {

// Keeps every named function of a linked object alive through pruning, so
// the perf plugin records the internal ones (micro-kernels) as well.
class KeepFunctionSymbolsPlugin : public llvm::orc::ObjectLinkingLayer::Plugin {
 public:
  void modifyPassConfig(llvm::orc::MaterializationResponsibility&, llvm::jitlink::LinkGraph&,
                        llvm::jitlink::PassConfiguration& config) override {
    config.PrePrunePasses.push_back([](llvm::jitlink::LinkGraph& graph) {
      for (llvm::jitlink::Symbol* symbol : graph.defined_symbols()) {
        if (symbol->hasName() && symbol->isCallable()) symbol->setLive(true);
      }
      return llvm::Error::success();
    });
  }
  llvm::Error notifyFailed(llvm::orc::MaterializationResponsibility&) override {
    return llvm::Error::success();
  }
  llvm::Error notifyRemovingResources(llvm::orc::JITDylib&, llvm::orc::ResourceKey) override {
    return llvm::Error::success();
  }
  void notifyTransferringResources(llvm::orc::JITDylib&, llvm::orc::ResourceKey,
                                   llvm::orc::ResourceKey) override {}
};

// LLVM 19's jitdump writer leaves the header's 64-bit `flags` field (bytes
// 32..40) uninitialized, and perf inject rejects a file whose flags it does
// not know ("jitdump file contains invalid or unsupported flags"). The
// header is buffered when the plugin is created and reaches the file with
// the first batch of records; an empty batch flushes it, then this clears
// the field in the file, which LLVM keeps mapped (so /proc/self/maps names it).
absl::Status FlushJitdumpHeader(llvm::orc::LLJIT& lljit, llvm::orc::JITDylib& process) {
  auto impl = lljit.lookup(process, "llvm_orc_registerJITLoaderPerfImpl");
  if (!impl) return FromLlvm(impl.takeError(), "JIT: KILN_PERF=1: perf registration");
  llvm::Error result = llvm::Error::success();
  KILN_RETURN_IF_ERROR(FromLlvm(
      lljit.getExecutionSession().getExecutorProcessControl().callSPSWrapper<
          llvm::orc::shared::SPSError(llvm::orc::shared::SPSPerfJITRecordBatch)>(
          *impl, result, llvm::orc::PerfJITRecordBatch{}),
      "JIT: KILN_PERF=1: flushing the jitdump header"));
  return FromLlvm(std::move(result), "JIT: KILN_PERF=1: flushing the jitdump header");
}

absl::Status ClearJitdumpHeaderFlags() {
  const std::string suffix = absl::StrCat("/jit-", ::getpid(), ".dump");
  std::ifstream maps("/proc/self/maps");
  std::string line, path;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash != std::string::npos && absl::EndsWith(line, suffix)) path = line.substr(slash);
  }
  if (path.empty()) {
    return absl::InternalError("JIT: KILN_PERF=1: the jitdump file is not mapped");
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("JIT: KILN_PERF=1: cannot open ", path));
  constexpr uint32_t kMagic = 0x4A695444;  // "JiTD"
  uint32_t magic = 0;
  const uint64_t flags = 0;
  const bool ok = ::pread(fd, &magic, sizeof(magic), 0) == sizeof(magic) && magic == kMagic &&
                  ::pwrite(fd, &flags, sizeof(flags), 32) == sizeof(flags);
  ::close(fd);
  if (!ok) {
    return absl::InternalError(absl::StrCat("JIT: KILN_PERF=1: cannot fix the header of ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EnableJitToolSupport(llvm::orc::LLJIT& lljit, bool perf, bool gdb) {
  if (gdb) {
    KILN_RETURN_IF_ERROR(
        FromLlvm(llvm::orc::enableDebuggerSupport(lljit), "JIT: KILN_GDB=1: gdb registration"));
  }
  if (perf) {
    auto* linker = llvm::dyn_cast<llvm::orc::ObjectLinkingLayer>(&lljit.getObjLinkingLayer());
    if (linker == nullptr) {
      return absl::FailedPreconditionError(
          "JIT: KILN_PERF=1: perf support needs the JITLink object layer");
    }
    llvm::orc::JITDylibSP process = lljit.getProcessSymbolsJITDylib();
    if (process == nullptr) {
      return absl::FailedPreconditionError(
          "JIT: KILN_PERF=1: perf support needs the process's symbols");
    }
    auto plugin = llvm::orc::PerfSupportPlugin::Create(
        lljit.getExecutionSession().getExecutorProcessControl(), *process,
        /*EmitDebugInfo=*/false, /*EmitUnwindInfo=*/false);
    if (!plugin) return FromLlvm(plugin.takeError(), "JIT: KILN_PERF=1: perf registration");
    linker->addPlugin(std::make_unique<KeepFunctionSymbolsPlugin>());
    linker->addPlugin(std::move(*plugin));
    KILN_RETURN_IF_ERROR(FlushJitdumpHeader(lljit, *process));
    KILN_RETURN_IF_ERROR(ClearJitdumpHeaderFlags());
  }
  return absl::OkStatus();
}

}  // namespace kiln
