// Roofline: the two limits of this machine that bound every kernel, the f32
// FMA peak (GFLOP/s over the thread pool) and the memory bandwidth (GB/s).
//
// A kernel that does F flops and moves B bytes cannot take less than
// max(F / peak_gflops, B / peak_gbps) nanoseconds; the profiler reports how
// close each kernel gets to that bound. MachineRoofline measures both limits
// once (about a second), caches them in the kiln cache directory
// (KILN_CACHE_DIR, one small text file per CPU and thread count) and reads
// them from there later; KILN_PEAK_GFLOPS and KILN_PEAK_GBPS override them.
//
//   KILN_ASSIGN_OR_RETURN(Roofline r, MachineRoofline(ThreadPool::Default()));
//   double floor_ns = r.BoundNanoseconds(flops, bytes);
#ifndef KILN_CODEGEN_ROOFLINE_H_
#define KILN_CODEGEN_ROOFLINE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "graph/op_def.h"

namespace kiln {

struct Roofline {
  double peak_gflops = 0;  // f32, an FMA counts 2 flops
  double peak_gbps = 0;    // bytes read + written per second / 1e9
  int threads = 0;
  std::string source;  // "measured", "cached in <file>" or "environment"

  // The shortest time `flops` and `bytes` allow (0 when a limit is unknown).
  double BoundNanoseconds(double flops, double bytes) const;
};

// The limits for `parallel`'s thread count: environment, else the disk
// cache, else measured (and cached). Computed once per process and thread
// count. A bad KILN_PEAK_* value is an InvalidArgument error.
absl::StatusOr<Roofline> MachineRoofline(const Parallelism& parallel);

// The measurements themselves, uncached: every thread runs 12 independent
// chains of the widest FMAs the CPU has (512-bit, else 256-bit) for a fixed
// count; the best of 5. Bandwidth: every thread copies its share of a
// 64 MiB buffer into another (read + write bytes), the best of 5.
double MeasureFmaPeakGflops(const Parallelism& parallel);
double MeasureMemoryBandwidthGbps(const Parallelism& parallel);

// MeasureFmaPeakGflops once per process (the GEMM benchmark's yardstick).
double MeasuredFmaPeakGflops(const Parallelism& parallel);

}  // namespace kiln

#endif  // KILN_CODEGEN_ROOFLINE_H_
