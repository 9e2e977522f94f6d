// The hand-fused baseline of BM_ElementwiseChain: relu(x*1.5+0.5)*sigmoid(x)
// as one loop, compiled with -O3 -march=native -ffast-math (see
// bench/CMakeLists.txt), split over the same thread pool. What a careful C++
// programmer would write; the JIT should come close to it.
#include "bench/hand_fused_chain.h"

#include <algorithm>
#include <cmath>

namespace kiln {

void HandFusedChain(const float* x, float* y, int64_t n, const Parallelism& parallel) {
  parallel.For(n, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float v = x[i];
      y[i] = std::max(v * 1.5f + 0.5f, 0.0f) * (1.0f / (1.0f + std::exp(-v)));
    }
  });
}

}  // namespace kiln
