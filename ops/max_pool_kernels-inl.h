// Highway kernels of max_pool and max_pool_grad (per-target code),
// channels-last, vectorized over channels. Both pick the FIRST maximum of a
// window in window order (a later cell wins only when strictly greater);
// padding cells are skipped, as if -inf.
//
//   MaxPoolRows(g, x, y, begin, end)             y rows (b, o0, o1)
//   MaxPoolGradBlocks(g, x, dy, dx, begin, end)  dx blocks (b, channel chunk)
#if defined(KILN_OPS_MAX_POOL_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KILN_OPS_MAX_POOL_KERNELS_INL_H_
#undef KILN_OPS_MAX_POOL_KERNELS_INL_H_
#else
#define KILN_OPS_MAX_POOL_KERNELS_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <vector>

#include "hwy/highway.h"
#include "ops/elementwise-inl.h"
#include "ops/conv_geometry.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// max_pool: output rows [begin, end), a row = (b, o0, o1) with all o2 cells.
inline void MaxPoolRows(const ConvGeometry& g, const float* x, float* y, int64_t begin,
                        int64_t end) {
  const hn::ScalableTag<float> d;
  const int64_t N = hn::Lanes(d), C = g.in_channels;
  std::vector<int64_t> cells(g.taps());
  for (int64_t row = begin; row < end; ++row) {
    int64_t o[3] = {(row / g.out[1]) % g.out[0], row % g.out[1], 0};
    const int64_t b = row / (g.out[1] * g.out[0]);
    for (o[2] = 0; o[2] < g.out[2]; ++o[2]) {
      const int64_t n = WindowCells(g, b, o, cells.data());
      float* out = y + (row * g.out[2] + o[2]) * C;
      for (int64_t c = 0; c < C; c += N) {
        const auto m = hn::FirstN(d, static_cast<size_t>(C - c));
        auto best = SafeMaskedLoad(m, d, x + cells[0] + c);
        for (int64_t k = 1; k < n; ++k) {
          const auto v = SafeMaskedLoad(m, d, x + cells[k] + c);
          best = hn::IfThenElse(hn::Gt(v, best), v, best);
        }
        hn::BlendedStore(best, m, d, out + c);
      }
    }
  }
}

// max_pool_grad: dx blocks [begin, end), a block = (b, chunk of
// kMaxPoolGradChannels channels). Each window's gradient goes to its first
// maximum; windows are visited in order, so every dx element sums its
// contributions in one order.
inline void MaxPoolGradBlocks(const ConvGeometry& g, const float* x, const float* dy,
                              float* dx, int64_t begin, int64_t end) {
  const hn::ScalableTag<float> d;
  const int64_t N = hn::Lanes(d), C = g.in_channels;
  const int64_t chunks = (C + kMaxPoolGradChannels - 1) / kMaxPoolGradChannels;
  std::vector<int64_t> cells(g.taps());
  std::vector<float> pick(N);
  for (int64_t blk = begin; blk < end; ++blk) {
    const int64_t b = blk / chunks, c0 = blk % chunks * kMaxPoolGradChannels;
    const int64_t c1 = std::min(C, c0 + kMaxPoolGradChannels);
    for (int64_t i = 0; i < g.in_positions(); ++i) {
      std::fill(dx + (b * g.in_positions() + i) * C + c0, dx + (b * g.in_positions() + i) * C + c1,
                0.0f);
    }
    int64_t o[3];
    for (o[0] = 0; o[0] < g.out[0]; ++o[0]) {
      for (o[1] = 0; o[1] < g.out[1]; ++o[1]) {
        for (o[2] = 0; o[2] < g.out[2]; ++o[2]) {
          const int64_t n = WindowCells(g, b, o, cells.data());
          const float* grad =
              dy + (((b * g.out[0] + o[0]) * g.out[1] + o[1]) * g.out[2] + o[2]) * C;
          for (int64_t c = c0; c < c1; c += N) {
            const int64_t lanes = std::min(N, c1 - c);
            const auto m = hn::FirstN(d, static_cast<size_t>(lanes));
            auto best = SafeMaskedLoad(m, d, x + cells[0] + c);
            auto index = hn::Zero(d);  // the winning cell, as a float
            for (int64_t k = 1; k < n; ++k) {
              const auto v = SafeMaskedLoad(m, d, x + cells[k] + c);
              const auto greater = hn::Gt(v, best);
              best = hn::IfThenElse(greater, v, best);
              index = hn::IfThenElse(greater, hn::Set(d, static_cast<float>(k)), index);
            }
            hn::StoreU(index, d, pick.data());
            for (int64_t l = 0; l < lanes; ++l) {
              dx[cells[static_cast<int64_t>(pick[l])] + c + l] += grad[c + l];
            }
          }
        }
      }
    }
  }
}

}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
