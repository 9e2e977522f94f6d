// The roofline measurements (see roofline.h). Rates are summed over the
// threads, each from its own CPU time, so cores taken by other processes
// lower the measurement little. The FMA loop is compiled three
// times (AVX-512, AVX2+FMA, baseline) and the widest the CPU runs is picked
// at run time, so the library needs no -march flag; codegen/CMakeLists.txt
// builds this file with -ffp-contract=fast so `a * b + c` is one FMA.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

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

// CPU time of the calling thread: on a shared machine a thread that waits
// for a core does not count against the rate it reaches while it runs.
double ThreadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Runs work(begin, end) on every thread's chunk of [0, threads) and returns
// the sum over chunks of units(begin, end) / the chunk's CPU seconds.
template <typename Work, typename Units>
double SumOfChunkRates(const Parallelism& parallel, Work work, Units units) {
  std::mutex mu;
  double rate = 0;
  parallel.For(parallel.num_threads(), 1, [&](int64_t b, int64_t e) {
    const double start = ThreadCpuSeconds();
    work(b, e);
    const double seconds = ThreadCpuSeconds() - start;
    std::lock_guard<std::mutex> lock(mu);
    if (seconds > 0) rate += units(b, e) / seconds;
  });
  return rate;
}

}  // namespace

double MeasureFmaPeakGflops(const Parallelism& parallel) {
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::atomic<float> sink{0};
    std::atomic<int> lanes{4};
    const double rate = SumOfChunkRates(
        parallel,
        [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            int width = 4;
            sink = sink + WidestChains(static_cast<float>(i + 1), width);
            lanes = width;
          }
        },
        [&](int64_t b, int64_t e) { return 2.0 * (e - b) * kSteps * kChains * lanes.load(); });
    best = std::max(best, rate / 1e9);
  }
  return best;
}

double MeasureCopyBandwidthGbps(const Parallelism& parallel, int64_t working_set) {
  const int threads = parallel.num_threads();
  // Each thread copies a slice of whole cache lines, again and again until
  // about 256 MiB have moved per measurement.
  const int64_t slice = std::max<int64_t>(64, working_set / 2 / threads / 64 * 64);
  const int64_t half = slice * threads;
  const int64_t repeats = std::max<int64_t>(1, (int64_t{256} << 20) / (2 * half));
  std::unique_ptr<char, void (*)(void*)> from(static_cast<char*>(std::aligned_alloc(64, half)),
                                              std::free);
  std::unique_ptr<char, void (*)(void*)> to(static_cast<char*>(std::aligned_alloc(64, half)),
                                            std::free);
  if (from == nullptr || to == nullptr) return 0;
  char* src = from.get();
  char* dst = to.get();
  // Touch both first, from the threads that will copy them.
  parallel.For(threads, 1, [&](int64_t b, int64_t e) {
    std::memset(src + b * slice, 1, (e - b) * slice);
    std::memset(dst + b * slice, 0, (e - b) * slice);
  });
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double rate = SumOfChunkRates(
        parallel,
        [&](int64_t b, int64_t e) {
          for (int64_t r = 0; r < repeats; ++r) {
            std::memcpy(dst + b * slice, src + b * slice, (e - b) * slice);
            // Keep the copies: the compiler may not merge or drop them.
            asm volatile("" : : "r"(dst) : "memory");
          }
        },
        [&](int64_t b, int64_t e) { return 2.0 * (e - b) * slice * repeats; });
    best = std::max(best, rate / 1e9);
  }
  return best;
}

std::vector<CacheBandwidth> MeasureCacheBandwidths(const Parallelism& parallel) {
  const int64_t threads = parallel.num_threads();
  const struct {
    const char* level;
    int64_t working_set;
  } levels[] = {{"L1", threads * std::max(0L, sysconf(_SC_LEVEL1_DCACHE_SIZE)) / 2},
                {"L2", threads * std::max(0L, sysconf(_SC_LEVEL2_CACHE_SIZE)) / 2},
                {"L3", std::max(0L, sysconf(_SC_LEVEL3_CACHE_SIZE)) / 2}};
  std::vector<CacheBandwidth> caches;
  for (const auto& l : levels) {
    if (l.working_set <= 0 || (!caches.empty() && l.working_set <= caches.back().bytes)) continue;
    caches.push_back({l.level, l.working_set, MeasureCopyBandwidthGbps(parallel, l.working_set)});
  }
  return caches;
}

double MeasureMemoryBandwidthGbps(const Parallelism& parallel) {
  const int64_t l3 = std::max(0L, sysconf(_SC_LEVEL3_CACHE_SIZE));
  const int64_t working_set = std::clamp<int64_t>(2 * l3, int64_t{128} << 20, int64_t{1} << 30);
  return MeasureCopyBandwidthGbps(parallel, working_set);
}

double MeasuredFmaPeakGflops(const Parallelism& parallel) {
  static const double peak = MeasureFmaPeakGflops(parallel);
  return peak;
}

}  // namespace kiln
