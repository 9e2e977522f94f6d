// KernelJit's on-disk object cache: one file per cache key under the cache
// directory, checked on every read and replaced atomically on write.
//
//   <cache_dir>/<key>.kobj, little-endian:
//   [0, 8)   magic "KILNOBJ\0"     [8, 12)  format version
//   [12, 16) header size (64)      [16, 48) key (32 hex digits)
//   [48, 56) payload length        [56, 64) xxh3_64 of the payload
//   [64, ...) the object file
//
// Writers fill a unique temp file in the same directory and rename it over
// the entry, so concurrent processes never see a partial entry; a reader
// that finds a bad entry removes it and the caller rebuilds it:
//
//   if (auto object = ReadEntry(key)) { ... } else { ...; WriteEntry(key, o); }
#include "codegen/jit_internal.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

namespace kiln {
namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'O', 'B', 'J', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kKeyBytes = 32;
constexpr size_t kHeaderBytes = 64;

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

uint64_t Checksum(absl::string_view bytes) {
  return llvm::xxh3_64bits(llvm::StringRef(bytes.data(), bytes.size()));
}

std::string EntryHeader(absl::string_view key, absl::string_view payload) {
  std::string header(kHeaderBytes, '\0');
  char* p = header.data();
  std::memcpy(p, kMagic, sizeof(kMagic));
  llvm::support::endian::write32le(p + 8, kFormatVersion);
  llvm::support::endian::write32le(p + 12, kHeaderBytes);
  std::memcpy(p + 16, key.data(), std::min(key.size(), kKeyBytes));
  llvm::support::endian::write64le(p + 48, payload.size());
  llvm::support::endian::write64le(p + 56, Checksum(payload));
  return header;
}

// Empty if `entry` is a sound cache entry for `key`, else what is wrong.
std::string CheckEntry(absl::string_view entry, absl::string_view key) {
  if (entry.size() < kHeaderBytes) return "truncated header";
  const char* p = entry.data();
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0) return "bad magic";
  if (llvm::support::endian::read32le(p + 8) != kFormatVersion ||
      llvm::support::endian::read32le(p + 12) != kHeaderBytes) {
    return "other format version";
  }
  if (key.size() != kKeyBytes || absl::string_view(p + 16, kKeyBytes) != key) {
    return "key mismatch";
  }
  const absl::string_view payload = entry.substr(kHeaderBytes);
  if (llvm::support::endian::read64le(p + 48) != payload.size()) {
    return "length mismatch";
  }
  if (llvm::support::endian::read64le(p + 56) != Checksum(payload)) {
    return "checksum mismatch";
  }
  return "";
}

}  // namespace

void KernelJit::OpenDiskCache(const KernelJitOptions& options) {
  if (!options.disk_cache) return;
  std::string dir = options.cache_dir;
  if (dir.empty()) {
    const char* env = std::getenv("KILN_CACHE_DIR");
    const char* home = std::getenv("HOME");
    if (env != nullptr && *env != '\0') {
      dir = env;
    } else if (home != nullptr && *home != '\0') {
      dir = absl::StrCat(home, "/.cache/kiln");
    }
  }
  std::error_code ec;
  if (dir.empty()) {
    DiskProblem(absl::FailedPreconditionError(
                    "JIT disk cache off: neither KILN_CACHE_DIR nor "
                    "HOME is set"),
                /*disable_reads=*/true);
  } else if ((ec = llvm::sys::fs::create_directories(dir)) ||
             !llvm::sys::fs::is_directory(dir)) {
    DiskProblem(absl::FailedPreconditionError(absl::StrCat(
                    "JIT disk cache off: cannot create directory '", dir,
                    "': ", ec ? ec.message() : "not a directory")),
                /*disable_reads=*/true);
  } else {
    cache_dir_ = dir;
    disk_writes_ = true;
  }
}

std::string KernelJit::CachePath(absl::string_view key) const {
  return absl::StrCat(cache_dir(), "/", key, ".kobj");
}

std::unique_ptr<llvm::MemoryBuffer> KernelJit::ReadEntry(
    const std::string& key) {
  if (cache_dir().empty()) return nullptr;
  const auto start = std::chrono::steady_clock::now();
  const std::string path = CachePath(key);
  // Volatile: read, not mmap, so a file changed under us cannot fault.
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false,
                                          /*IsVolatile=*/true);
  if (!file) return nullptr;  // missing or unreadable: a miss
  const absl::string_view entry((*file)->getBufferStart(),
                                (*file)->getBufferSize());
  const std::string problem = CheckEntry(entry, key);
  std::unique_ptr<llvm::MemoryBuffer> object;
  if (problem.empty()) {
    const absl::string_view payload = entry.substr(kHeaderBytes);
    object = llvm::MemoryBuffer::getMemBufferCopy(
        llvm::StringRef(payload.data(), payload.size()),
        absl::StrCat("kiln-jit-", key));
  } else {
    llvm::sys::fs::remove(path);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!problem.empty()) ++stats_.disk_rejects;
  stats_.disk_load_ms += MillisecondsSince(start);
  return object;
}

void KernelJit::WriteEntry(const std::string& key, absl::string_view object) {
  std::string dir;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!disk_writes_) return;
    dir = cache_dir_;
  }
  llvm::SmallString<256> temp;
  int fd = -1;
  std::error_code ec = llvm::sys::fs::createUniqueFile(
      absl::StrCat(dir, "/", key, "-%%%%%%%%%%%%.tmp"), fd, temp);
  if (!ec) {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
    const std::string header = EntryHeader(key, object);
    out.write(header.data(), header.size());
    out.write(object.data(), object.size());
    out.close();
    if (out.has_error()) {
      ec = out.error();
      out.clear_error();  // else its destructor aborts
    }
    if (!ec) ec = llvm::sys::fs::rename(temp, CachePath(key));
    if (ec) llvm::sys::fs::remove(temp);
  }
  if (ec) {
    DiskProblem(absl::UnavailableError(absl::StrCat(
                    "JIT disk cache writes off: cannot write an entry in '",
                    dir, "': ", ec.message())),
                /*disable_reads=*/false);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.disk_writes;
}

void KernelJit::DiskProblem(absl::Status status, bool disable_reads) {
  std::lock_guard<std::mutex> lock(mu_);
  if (warn_on_disk_error_ && !warned_) {
    std::fprintf(stderr, "kiln: %s\n", std::string(status.message()).c_str());
    warned_ = true;
  }
  disk_status_ = std::move(status);
  disk_writes_ = false;
  if (disable_reads) cache_dir_.clear();
}

}  // namespace kiln
