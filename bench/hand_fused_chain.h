// relu(x*1.5+0.5)*sigmoid(x) written by hand, the yardstick of the JIT.
#ifndef KILN_BENCH_HAND_FUSED_CHAIN_H_
#define KILN_BENCH_HAND_FUSED_CHAIN_H_

#include <cstdint>

#include "graph/op_def.h"

namespace kiln {

void HandFusedChain(const float* x, float* y, int64_t n, const Parallelism& parallel);

}  // namespace kiln

#endif  // KILN_BENCH_HAND_FUSED_CHAIN_H_
