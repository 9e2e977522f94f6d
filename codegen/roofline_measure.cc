// The roofline measurements (see roofline.h). The FMA loop is compiled three
// times (AVX-512, AVX2+FMA, baseline) and the widest the CPU runs is picked
// at run time, so the library needs no -march flag; codegen/CMakeLists.txt
// builds this file with -ffp-contract=fast so `a * b + c` is one FMA.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "codegen/roofline.h"

namespace kiln {
namespace {

constexpr int kChains = 12;  // > FMA latency x FMA ports
constexpr int64_t kSteps = 1 << 22;

typedef float Vec16 __attribute__((vector_size(64)));
typedef float Vec8 __attribute__((vector_size(32)));
typedef float Vec4 __attribute__((vector_size(16)));

template <typename Vec>
__attribute__((always_inline)) inline float Chains(float seed) {
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

__attribute__((target("avx512f"))) float Chains512(float seed) { return Chains<Vec16>(seed); }
__attribute__((target("avx2,fma"))) float Chains256(float seed) { return Chains<Vec8>(seed); }
float Chains128(float seed) { return Chains<Vec4>(seed); }

// kSteps x kChains FMAs of `lanes` lanes; returns something that depends on all.
float WidestChains(float seed, int& lanes) {
  if (__builtin_cpu_supports("avx512f")) {
    lanes = 16;
    return Chains512(seed);
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    lanes = 8;
    return Chains256(seed);
  }
  lanes = 4;
  return Chains128(seed);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

double MeasureFmaPeakGflops(const Parallelism& parallel) {
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::atomic<float> sink{0};
    std::atomic<int> lanes{4};
    const int threads = parallel.num_threads();
    const auto start = std::chrono::steady_clock::now();
    parallel.For(threads, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        int width = 4;
        sink = sink + WidestChains(static_cast<float>(i + 1), width);
        lanes = width;
      }
    });
    const double s = SecondsSince(start);
    const double flops = 2.0 * threads * kSteps * kChains * lanes.load();
    best = std::max(best, flops / s / 1e9);
  }
  return best;
}

double MeasureMemoryBandwidthGbps(const Parallelism& parallel) {
  constexpr int64_t kBytes = int64_t{64} << 20;
  constexpr int64_t kBlock = int64_t{1} << 20;
  std::unique_ptr<char, void (*)(void*)> from(static_cast<char*>(std::aligned_alloc(64, kBytes)),
                                              std::free);
  std::unique_ptr<char, void (*)(void*)> to(static_cast<char*>(std::aligned_alloc(64, kBytes)),
                                            std::free);
  if (from == nullptr || to == nullptr) return 0;
  char* src = from.get();
  char* dst = to.get();
  // Touch both first, from the threads that will copy them.
  parallel.For(kBytes / kBlock, 1, [&](int64_t b, int64_t e) {
    std::memset(src + b * kBlock, 1, (e - b) * kBlock);
    std::memset(dst + b * kBlock, 0, (e - b) * kBlock);
  });
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    parallel.For(kBytes / kBlock, 1, [&](int64_t b, int64_t e) {
      std::memcpy(dst + b * kBlock, src + b * kBlock, (e - b) * kBlock);
    });
    best = std::max(best, 2.0 * kBytes / SecondsSince(start) / 1e9);
  }
  return best;
}

double MeasuredFmaPeakGflops(const Parallelism& parallel) {
  static const double peak = MeasureFmaPeakGflops(parallel);
  return peak;
}

}  // namespace kiln
