// Roofline: the two limits of this machine that bound every kernel, the f32
// FMA peak (GFLOP/s over the thread pool) and the memory bandwidth (GB/s).
//
// A kernel that does F flops and moves B bytes cannot take less than
// max(F / peak_gflops, B / bandwidth(B)) nanoseconds, where bandwidth(B) is
// that of the smallest cache level B fits in (a kernel whose data fits in L2
// is held to L2's bandwidth, not DRAM's); the profiler reports how close
// each kernel gets to that bound. MachineRoofline measures both limits
// once (about a second), caches them in the kiln cache directory
// (KILN_CACHE_DIR, one small text file per CPU and thread count) and reads
// them from there later; KILN_PEAK_GFLOPS and KILN_PEAK_GBPS override them
// (KILN_PEAK_GBPS then holds for every working-set size).
//
//   KILN_ASSIGN_OR_RETURN(Roofline r, MachineRoofline(ThreadPool::Default()));
//   double floor_ns = r.BoundNanoseconds(flops, bytes);
#ifndef KILN_CODEGEN_ROOFLINE_H_
#define KILN_CODEGEN_ROOFLINE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/op_def.h"

namespace kiln {

// The copy bandwidth over a working set of `bytes` (source + destination,
// all threads), sized to fit one cache level.
struct CacheBandwidth {
  std::string level;  // "L1", "L2", "L3"
  int64_t bytes = 0;
  double gbps = 0;
};

struct Roofline {
  double peak_gflops = 0;  // f32, an FMA counts 2 flops
  double peak_gbps = 0;    // memory: bytes read + written per second / 1e9
  std::vector<CacheBandwidth> caches;  // smallest first; empty: memory only
  int threads = 0;
  std::string source;  // "measured", "cached in <file>" or "environment"

  // The bandwidth for a kernel moving `bytes`: that of the smallest cache
  // level whose working set holds them, else memory's.
  double BandwidthGbps(double bytes) const;
  // The shortest time `flops` and `bytes` allow (0 when a limit is unknown).
  double BoundNanoseconds(double flops, double bytes) const;
  // "L2 812 GB/s (1 MiB), L3 ..., memory 49 GB/s".
  std::string BandwidthText() const;
};

// The limits for `parallel`'s thread count: environment, else the disk
// cache, else measured (and cached). Computed once per process and thread
// count. A bad KILN_PEAK_* value is an InvalidArgument error.
absl::StatusOr<Roofline> MachineRoofline(const Parallelism& parallel);

// The measurements themselves, uncached: every thread runs 12 independent
// chains of the widest FMAs the CPU has (512-bit, else 256-bit) for a fixed
// count; the best of 5, each thread's rate from its own CPU time (so that
// a shared machine's other work costs the measurement little). Bandwidth: every thread copies its share of a
// `working_set` / 2 byte buffer into another, repeatedly (read + write
// bytes), the best of 5. The cache levels measured are L1, L2 (half of each
// per thread) and L3 (half of it), as sysconf reports them; memory is
// measured over twice the L3 size (at least 128 MiB, at most 1 GiB).
double MeasureFmaPeakGflops(const Parallelism& parallel);
double MeasureCopyBandwidthGbps(const Parallelism& parallel, int64_t working_set);
std::vector<CacheBandwidth> MeasureCacheBandwidths(const Parallelism& parallel);
double MeasureMemoryBandwidthGbps(const Parallelism& parallel);

// MeasureFmaPeakGflops once per process (the GEMM benchmark's yardstick).
double MeasuredFmaPeakGflops(const Parallelism& parallel);

}  // namespace kiln

#endif  // KILN_CODEGEN_ROOFLINE_H_
