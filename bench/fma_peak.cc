// Compiled with -O2 -march=native (bench/CMakeLists.txt) so the loop below
// issues the host's widest FMAs; see fma_peak.h.
#include "bench/fma_peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>

namespace kiln {
namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float Vec __attribute__((vector_size(kLanes * 4)));
constexpr int kChains = 12;  // > FMA latency x FMA ports
constexpr int64_t kSteps = 1 << 22;

// kSteps x kChains FMAs of kLanes lanes; returns something that depends on all.
float Chains(float seed) {
  Vec acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = Vec{} + seed * static_cast<float>(c + 1);
  const Vec mul = Vec{} + 0.999999f, add = Vec{} + 1e-7f;
  for (int64_t s = 0; s < kSteps; ++s) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * mul + add;
  }
  float sum = 0;
  for (int c = 0; c < kChains; ++c) sum += acc[c][0];
  return sum;
}

}  // namespace

double MeasuredFmaPeakGflops(const Parallelism& parallel) {
  static const double peak = [&] {
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
      std::atomic<float> sink{0};
      const int threads = parallel.num_threads();
      const auto start = std::chrono::steady_clock::now();
      parallel.For(threads, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) sink = sink + Chains(static_cast<float>(i + 1));
      });
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double flops = 2.0 * threads * kSteps * kChains * kLanes;
      best = std::max(best, flops / s / 1e9);
    }
    return best;
  }();
  return peak;
}

}  // namespace kiln
