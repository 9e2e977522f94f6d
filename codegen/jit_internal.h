// KernelJit: compiles LLVM IR modules of kernels for the host CPU with ORC
// LLJIT, behind an in-memory and an on-disk object cache.
//
// The code generator builds one llvm::Module per group of kernels (fast-math
// flags are set on its instructions), hands it over with the names of the
// functions it wants back, and gets their addresses. A module is optimized
// with the new pass manager (O2 by default, O3 selectable) for the host's
// triple, CPU name and CPU features, emitted as an object file in memory and
// linked into a fresh JITDylib, so two modules may define the same symbol.
// Compiled objects are cached in memory (keyed by a hash of the printed IR,
// target, CPU, features, opt level and LLVM and kiln versions) and on disk
// (KILN_CACHE_DIR, default $HOME/.cache/kiln; one checksummed file per key,
// written to a temp file and renamed into place). A corrupt entry is
// detected, removed and rebuilt; a cache directory that cannot be created or
// written turns disk caching off (see disk_cache_status()) and never fails a
// compile. Addresses stay valid for the lifetime of the KernelJit (the
// memory cache never evicts).
//
//   KILN_ASSIGN_OR_RETURN(KernelJit* jit, KernelJit::Default());
//   KILN_ASSIGN_OR_RETURN(std::vector<void*> fns,
//                         jit->Compile(std::move(tsm), {"fused_relu_k3"}));
//   auto* kernel = reinterpret_cast<void (*)(float*, int64_t)>(fns[0]);
//
// This header includes LLVM; only codegen/ and ops/ .cc files (and tests)
// may include it.
#ifndef KILN_CODEGEN_JIT_INTERNAL_H_
#define KILN_CODEGEN_JIT_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/Support/Error.h"

namespace llvm {
class MemoryBuffer;
class Module;
class TargetMachine;
namespace orc {
class JITDylib;
class JITTargetMachineBuilder;
class LLJIT;
}  // namespace orc
}  // namespace llvm

namespace kiln {

// The one conversion of LLVM errors to absl::Status (consumes `error`).
// Success gives OkStatus; symbols that were not found give NotFound; any
// other failure gives Internal. The message starts with `context`.
absl::Status FromLlvm(llvm::Error error, absl::string_view context);

enum class JitOptLevel { kO2, kO3 };

struct KernelJitOptions {
  // On-disk cache directory; empty: KILN_CACHE_DIR, else $HOME/.cache/kiln.
  std::string cache_dir;
  bool disk_cache = true;  // false: memory cache only
  JitOptLevel opt_level = JitOptLevel::kO2;
  // Print disk-cache problems to stderr (once per instance).
  bool warn_on_disk_error = false;
  // Register linked kernels with perf (jitdump) and gdb (GDB JIT
  // interface); Default() reads KILN_PERF=1 and KILN_GDB=1.
  bool perf = false;
  bool gdb = false;
};

// Adds ORC's perf and gdb plugins to `lljit` (jit_tool_support.cc).
absl::Status EnableJitToolSupport(llvm::orc::LLJIT& lljit, bool perf, bool gdb);

struct KernelJitStats {
  int64_t memory_hits = 0;   // requests answered from memory
  int64_t disk_hits = 0;     // objects loaded from the disk cache
  int64_t compiles = 0;      // modules optimized and code-generated
  int64_t disk_writes = 0;   // cache entries written
  int64_t disk_rejects = 0;  // corrupt/truncated/mismatching entries removed
  double compile_ms = 0;     // wall time of verify + optimize + codegen
  double disk_load_ms = 0;   // wall time of reading and checking entries
};

class KernelJit {
 public:
  static absl::StatusOr<std::unique_ptr<KernelJit>> Create(
      const KernelJitOptions& options = {});
  // The process-wide instance (environment defaults, KILN_PERF and
  // KILN_GDB included; reports disk-cache problems on stderr). Never
  // destroyed.
  static absl::StatusOr<KernelJit*> Default();
  ~KernelJit();
  KernelJit(const KernelJit&) = delete;
  KernelJit& operator=(const KernelJit&) = delete;

  // Compiles `module` (or finds it in a cache) and returns the addresses of
  // `symbols`, in order. The module is consumed; its IR must verify.
  absl::StatusOr<std::vector<void*>> Compile(
      llvm::orc::ThreadSafeModule module,
      absl::Span<const std::string> symbols);

  // The host assembly / optimized IR the same pipeline makes of `module`
  // (which is cloned, not changed; the caller holds its context's lock).
  absl::StatusOr<std::string> EmitAssembly(const llvm::Module& module) const;
  absl::StatusOr<std::string> EmitOptimizedIR(const llvm::Module& module) const;

  // The cache key of `module` (32 hex digits) and its disk cache file.
  std::string CacheKey(const llvm::Module& module) const;
  std::string CachePath(absl::string_view key) const;

  const std::string& target_triple() const { return triple_; }
  const std::string& cpu_name() const { return cpu_; }
  // Sorted, comma-separated "+feature"/"-feature" list, as LLVM takes it.
  const std::string& cpu_features() const { return features_; }
  bool HasFeature(absl::string_view feature) const;
  // Widest vector register in bits: 512 with avx512f, 256 with avx, else 128.
  int vector_bits() const { return vector_bits_; }
  JitOptLevel opt_level() const { return opt_level_; }
  // The disk cache directory ("" when disk caching is off).
  std::string cache_dir() const;
  // OK while the disk cache works (or options turned it off); else why it
  // is (partly) off.
  absl::Status disk_cache_status() const;
  KernelJitStats stats() const;

 private:
  KernelJit() = default;
  enum class Artifact { kObject, kAssembly, kOptimizedIR };
  // Verifies `module`, sets the host target on it, optimizes it and returns
  // the requested artifact.
  absl::StatusOr<std::string> Build(llvm::Module& module,
                                    Artifact artifact) const;
  absl::Status Optimize(llvm::Module& module,
                        llvm::TargetMachine& machine) const;
  // Links `object` into a fresh JITDylib and looks `symbols` up in it;
  // registers the dylib under `key` only if all of that succeeds.
  absl::StatusOr<std::vector<void*>> Install(
      const std::string& key, std::unique_ptr<llvm::MemoryBuffer> object,
      absl::Span<const std::string> symbols);
  absl::StatusOr<std::vector<void*>> LookupAll(
      llvm::orc::JITDylib& dylib, absl::Span<const std::string> symbols);
  // Resolves and creates the cache directory (or records why not).
  void OpenDiskCache(const KernelJitOptions& options);
  // The object stored under `key`, or null (missing or rejected).
  std::unique_ptr<llvm::MemoryBuffer> ReadEntry(const std::string& key);
  void WriteEntry(const std::string& key, absl::string_view object);
  void DiskProblem(absl::Status status, bool disable_reads);

  std::string triple_, cpu_, features_;
  std::vector<std::string> feature_list_;
  int vector_bits_ = 128;
  JitOptLevel opt_level_ = JitOptLevel::kO2;
  bool warn_on_disk_error_ = false;
  std::unique_ptr<llvm::orc::JITTargetMachineBuilder> machine_builder_;
  std::unique_ptr<llvm::orc::LLJIT> lljit_;

  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, llvm::orc::JITDylib*> dylibs_;
  int64_t next_dylib_ = 0;
  KernelJitStats stats_;
  std::string cache_dir_;  // "" when reads and writes are off
  bool disk_writes_ = false;
  absl::Status disk_status_;
  bool warned_ = false;
};

}  // namespace kiln

#endif  // KILN_CODEGEN_JIT_INTERNAL_H_
