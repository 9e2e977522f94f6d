// The machine's measured f32 FMA peak: every pool thread runs 12
// independent chains of 512-bit (else 256-bit) FMAs for a fixed time; the
// sum of their rates is what a perfect GEMM could reach here.
//
//   double peak = MeasuredFmaPeakGflops(ThreadPool::Default());  // ~440 here
#ifndef KILN_BENCH_FMA_PEAK_H_
#define KILN_BENCH_FMA_PEAK_H_

#include "graph/op_def.h"

namespace kiln {

// GFLOP/s (an FMA counts 2 flops) over parallel.num_threads() threads;
// measured once per process and cached.
double MeasuredFmaPeakGflops(const Parallelism& parallel);

}  // namespace kiln

#endif  // KILN_BENCH_FMA_PEAK_H_
