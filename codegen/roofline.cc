// MachineRoofline: the environment, the disk cache or a measurement (see
// roofline.h). The cache file, <cache dir>/roofline-<cpu>-t<threads>.txt:
//
//   kiln-roofline 2
//   peak_gflops 441.2
//   peak_gbps 18.7
//   cache L1 49152 1210.5
//   cache L2 1048576 610.2
#include "codegen/roofline.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "codegen/jit_internal.h"
#include "graph/file_io.h"
#include "graph/status_macros.h"

namespace kiln {
namespace {

constexpr char kCacheHeader[] = "kiln-roofline 2";

// The positive number in environment variable `name`, or 0 when unset.
absl::StatusOr<double> PositiveFromEnvironment(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return 0.0;
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !(value > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "='", text, "' is not a positive number"));
  }
  return value;
}

std::string CacheFile(const Parallelism& parallel) {
  absl::StatusOr<KernelJit*> jit = KernelJit::Default();
  if (!jit.ok() || (*jit)->cache_dir().empty()) return "";
  return absl::StrCat((*jit)->cache_dir(), "/roofline-", (*jit)->cpu_name(), "-t",
                      parallel.num_threads(), ".txt");
}

// The cached limits, or false when the file is missing or not one of ours.
bool ReadCache(const std::string& path, Roofline& roofline) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return false;
  std::vector<std::string> lines = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  if (lines.empty() || lines[0] != kCacheHeader) return false;
  Roofline cached;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> words = absl::StrSplit(lines[i], ' ');
    double v = 0;
    if (!absl::SimpleAtod(words.back(), &v) || !(v > 0)) return false;
    if (words.size() == 2 && words[0] == "peak_gflops") {
      cached.peak_gflops = v;
    } else if (words.size() == 2 && words[0] == "peak_gbps") {
      cached.peak_gbps = v;
    } else if (words.size() == 4 && words[0] == "cache") {
      CacheBandwidth level{words[1], 0, v};
      if (!absl::SimpleAtoi(words[2], &level.bytes) || level.bytes <= 0) return false;
      cached.caches.push_back(std::move(level));
    } else {
      return false;
    }
  }
  if (!(cached.peak_gflops > 0) || !(cached.peak_gbps > 0)) return false;
  cached.source = absl::StrCat("cached in ", path);
  roofline = std::move(cached);
  return true;
}

std::string CacheText(const Roofline& r) {
  std::string text = absl::StrCat(kCacheHeader, "\npeak_gflops ", r.peak_gflops,
                                  "\npeak_gbps ", r.peak_gbps, "\n");
  for (const CacheBandwidth& c : r.caches) {
    absl::StrAppend(&text, "cache ", c.level, " ", c.bytes, " ", c.gbps, "\n");
  }
  return text;
}

// Measured limits, from the disk cache when it has them.
Roofline MeasuredOrCached(const Parallelism& parallel) {
  Roofline roofline;
  const std::string path = CacheFile(parallel);
  if (!path.empty() && ReadCache(path, roofline)) return roofline;
  roofline.peak_gflops = MeasureFmaPeakGflops(parallel);
  roofline.peak_gbps = MeasureMemoryBandwidthGbps(parallel);
  roofline.caches = MeasureCacheBandwidths(parallel);
  roofline.source = "measured";
  // A cache that cannot be written only costs a measurement next time.
  if (!path.empty()) WriteFileAtomically(path, CacheText(roofline)).IgnoreError();
  return roofline;
}

}  // namespace

double Roofline::BandwidthGbps(double bytes) const {
  for (const CacheBandwidth& c : caches) {
    if (bytes <= c.bytes) return c.gbps;
  }
  return peak_gbps;
}

double Roofline::BoundNanoseconds(double flops, double bytes) const {
  double bound = 0;
  if (peak_gflops > 0) bound = std::max(bound, flops / peak_gflops);
  const double gbps = BandwidthGbps(bytes);
  if (gbps > 0) bound = std::max(bound, bytes / gbps);
  return bound;
}

std::string Roofline::BandwidthText() const {
  std::string text;
  for (const CacheBandwidth& c : caches) {
    absl::StrAppendFormat(&text, "%s %.0f GB/s (%lld KiB), ", c.level, c.gbps,
                          static_cast<long long>(c.bytes >> 10));
  }
  absl::StrAppendFormat(&text, "memory %.1f GB/s", peak_gbps);
  return text;
}

absl::StatusOr<Roofline> MachineRoofline(const Parallelism& parallel) {
  KILN_ASSIGN_OR_RETURN(const double env_gflops, PositiveFromEnvironment("KILN_PEAK_GFLOPS"));
  KILN_ASSIGN_OR_RETURN(const double env_gbps, PositiveFromEnvironment("KILN_PEAK_GBPS"));
  Roofline roofline;
  if (env_gflops > 0 && env_gbps > 0) {
    roofline.source = "environment";
  } else {
    static std::mutex mu;
    static auto* by_threads = new std::map<int, Roofline>();
    std::lock_guard<std::mutex> lock(mu);
    auto it = by_threads->find(parallel.num_threads());
    if (it == by_threads->end()) {
      it = by_threads->emplace(parallel.num_threads(), MeasuredOrCached(parallel)).first;
    }
    roofline = it->second;
  }
  roofline.threads = parallel.num_threads();
  if (env_gflops > 0) roofline.peak_gflops = env_gflops;
  if (env_gbps > 0) {
    roofline.peak_gbps = env_gbps;  // one configured bandwidth for every size
    roofline.caches.clear();
  }
  return roofline;
}

}  // namespace kiln
