// Highway kernel of conv_filter_grad (per-target code): dW [taps, Cin/groups,
// Cout] summed over every output cell (b, o) of x's window values times
// dy[b, o], channels-last, no im2col.
//
//   FilterGradTileCount(g)                              tiles of the work
//   ConvFilterGradTiles(g, xpad, off, dy, dw, begin, end)  tiles [begin, end)
//
// A tile is up to R rows of dW (rows (t, ci) of one group) x two vectors of
// output channels, held in registers while it sums over a chunk of output
// rows (b, o0, o1): each row's x scalar is broadcast against the dy vectors.
// Chunks run in order, each continuing the sums the previous one left in dW,
// so every element is one sum in (b, o) order however the tiles are split
// over threads; a thread runs a chunk through all of its tiles while the
// chunk's x and dy are in cache. Depthwise convolutions (one input and one
// output channel per group) take rows = taps and multiply x and dy vectors
// across the channels.
#if defined(KILN_OPS_CONV_FILTER_GRAD_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KILN_OPS_CONV_FILTER_GRAD_KERNELS_INL_H_
#undef KILN_OPS_CONV_FILTER_GRAD_KERNELS_INL_H_
#else
#define KILN_OPS_CONV_FILTER_GRAD_KERNELS_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "ops/conv_geometry.h"
#include "ops/conv_kernels-inl.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows per tile: broadcast rows (2 R accumulators) and depthwise rows (2 R
// accumulators plus 2 R loads a cell); fewer without AVX-512's 32 registers.
constexpr size_t kGradRows = HWY_TARGET <= HWY_AVX3 ? 8 : 4;
constexpr size_t kDepthwiseGradRows = HWY_TARGET <= HWY_AVX3 ? 4 : 2;
// Output cells per chunk.
constexpr int64_t kGradChunkCells = 512;

// How x feeds a tile's rows: scalars at xo[0] + r (rows of one tap),
// scalars at xo[r], or vectors at xo[r] (depthwise).
enum class GradX { kConsecutive, kRows, kVectors };

// Sums output rows [row_begin, row_end) into `rows` (<= R) rows of dW, out[r]
// (two vectors, `valid` columns), starting from 0 when `first`, else from
// what out[] holds. x of row r for output cell o at xpad(o's window) +
// xo[...]; dy at dy + o * Cout (dy already offset to the tile's columns).
template <size_t R, GradX kX, bool kFull>
HWY_INLINE void FilterGradTile(const ConvGeometry& g, const float* xpad, const int64_t* xo,
                               const float* dy, size_t valid, int64_t row_begin,
                               int64_t row_end, bool first, size_t rows, float* const* out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto m0 = hn::FirstN(d, valid);
  const auto m1 = hn::FirstN(d, valid > N ? valid - N : 0);
  hn::Vec<decltype(d)> acc0[R], acc1[R];
  StartRows<kFull, R>(d, valid, !first, rows, out, acc0, acc1);
  const ConvGeometry::Dims p = g.padded();
  const int64_t cin = g.in_channels, cout = g.out_channels;
  const int64_t x_step = g.stride[2] * cin;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t o1 = row % g.out[1], o0 = (row / g.out[1]) % g.out[0];
    const int64_t b = row / (g.out[1] * g.out[0]);
    const float* xc =
        xpad + ((b * p[0] + o0 * g.stride[0]) * p[1] + o1 * g.stride[1]) * p[2] * cin;
    const float* dyc = dy + row * g.out[2] * cout;
    for (int64_t o2 = 0; o2 < g.out[2]; ++o2, xc += x_step, dyc += cout) {
      const auto d0 = LoadPart<kFull>(d, m0, dyc);
      const auto d1 = LoadPart<kFull>(d, m1, dyc + N);
      for (size_t r = 0; r < R; ++r) {
        if constexpr (kX == GradX::kVectors) {
          acc0[r] = hn::MulAdd(LoadPart<kFull>(d, m0, xc + xo[r]), d0, acc0[r]);
          acc1[r] = hn::MulAdd(LoadPart<kFull>(d, m1, xc + xo[r] + N), d1, acc1[r]);
        } else {
          const auto xv = hn::Set(d, kX == GradX::kConsecutive ? xc[xo[0] + r] : xc[xo[r]]);
          acc0[r] = hn::MulAdd(xv, d0, acc0[r]);
          acc1[r] = hn::MulAdd(xv, d1, acc1[r]);
        }
      }
    }
  }
  StoreRows<kFull>(d, valid, rows, acc0, acc1, out);
}

// The tiles of one convolution: per group, row tiles x column tiles.
struct FilterGradPlan {
  int64_t groups, rows, width;  // per group: dW rows (t, ci) and columns
  int64_t row_tiles, col_tiles, per_tap;  // per_tap > 0: row tiles within a tap
  size_t tile_rows;
};

inline FilterGradPlan FilterGradPlanOf(const ConvGeometry& g) {
  const int64_t N = hn::Lanes(hn::ScalableTag<float>());
  FilterGradPlan plan;
  const bool depthwise = g.depthwise();
  plan.groups = depthwise ? 1 : g.groups;
  plan.rows = g.taps() * g.in_per_group();
  plan.width = depthwise ? g.out_channels : g.out_per_group();
  plan.tile_rows = depthwise ? kDepthwiseGradRows : kGradRows;
  const int64_t R = static_cast<int64_t>(plan.tile_rows);
  plan.per_tap = !depthwise && g.in_per_group() >= R ? (g.in_per_group() + R - 1) / R : 0;
  plan.row_tiles = plan.per_tap > 0 ? g.taps() * plan.per_tap : (plan.rows + R - 1) / R;
  plan.col_tiles = (plan.width + 2 * N - 1) / (2 * N);
  return plan;
}

inline int64_t FilterGradTileCount(const ConvGeometry& g) {
  const FilterGradPlan plan = FilterGradPlanOf(g);
  return plan.groups * plan.row_tiles * plan.col_tiles;
}

template <size_t R, GradX kX>
HWY_INLINE void FilterGradTileAnyWidth(const ConvGeometry& g, const float* xpad,
                                       const int64_t* xo, const float* dy, size_t valid,
                                       int64_t row_begin, int64_t row_end, bool first,
                                       size_t rows, float* const* out) {
  const size_t N = hn::Lanes(hn::ScalableTag<float>());
  if (valid == 2 * N) {
    FilterGradTile<R, kX, true>(g, xpad, xo, dy, valid, row_begin, row_end, first, rows, out);
  } else {
    FilterGradTile<R, kX, false>(g, xpad, xo, dy, valid, row_begin, row_end, first, rows, out);
  }
}

// conv_filter_grad: tiles [begin, end) of FilterGradPlanOf(g), ordered
// (group, row tile, column tile). xpad is x zero-padded to [B, padded...,
// Cin]; off = TapOffsets(g, Cin).
inline void ConvFilterGradTiles(const ConvGeometry& g, const float* xpad, const int64_t* off,
                                const float* dy, float* dw, int64_t begin, int64_t end) {
  const int64_t N = hn::Lanes(hn::ScalableTag<float>());
  const FilterGradPlan plan = FilterGradPlanOf(g);
  const int64_t cin_g = g.in_per_group(), cout = g.out_channels;
  const bool depthwise = g.depthwise();
  const int64_t out_rows = g.batch * g.out[0] * g.out[1];
  const int64_t chunk = std::max<int64_t>(1, kGradChunkCells / g.out[2]);
  const int64_t chunks = std::max<int64_t>(1, (out_rows + chunk - 1) / chunk);
  int64_t xo[kGradRows];
  float* out[kGradRows];
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t row_begin = k * chunk, row_end = std::min(out_rows, row_begin + chunk);
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t ct = tile % plan.col_tiles, rt = tile / plan.col_tiles % plan.row_tiles;
      const int64_t gi = tile / (plan.col_tiles * plan.row_tiles);
      int64_t r0, rows;
      if (plan.per_tap > 0) {
        const int64_t ci0 = rt % plan.per_tap * static_cast<int64_t>(plan.tile_rows);
        r0 = rt / plan.per_tap * cin_g + ci0;
        rows = std::min<int64_t>(plan.tile_rows, cin_g - ci0);
      } else {
        r0 = rt * static_cast<int64_t>(plan.tile_rows);
        rows = std::min<int64_t>(plan.tile_rows, plan.rows - r0);
      }
      const int64_t col = gi * plan.width + ct * 2 * N;
      for (size_t r = 0; r < plan.tile_rows; ++r) {
        // Rows past the end repeat the first one (computed, not stored).
        const int64_t wr = r0 + (static_cast<int64_t>(r) < rows ? r : 0);
        xo[r] = depthwise ? off[wr] + col : off[wr / cin_g] + gi * cin_g + wr % cin_g;
        out[r] = dw + wr * cout + col;
      }
      const size_t valid = static_cast<size_t>(std::min(2 * N, plan.width - ct * 2 * N));
      const float* dyt = dy + col;
      const bool first = k == 0;
      // A last tile of at most half the rows computes half as many.
      const bool half = 2 * rows <= static_cast<int64_t>(plan.tile_rows);
      if (depthwise && half) {
        FilterGradTileAnyWidth<kDepthwiseGradRows / 2, GradX::kVectors>(
            g, xpad, xo, dyt, valid, row_begin, row_end, first, rows, out);
      } else if (depthwise) {
        FilterGradTileAnyWidth<kDepthwiseGradRows, GradX::kVectors>(
            g, xpad, xo, dyt, valid, row_begin, row_end, first, rows, out);
      } else if (plan.per_tap > 0 && rows == static_cast<int64_t>(kGradRows)) {
        FilterGradTileAnyWidth<kGradRows, GradX::kConsecutive>(
            g, xpad, xo, dyt, valid, row_begin, row_end, first, rows, out);
      } else if (half) {
        FilterGradTileAnyWidth<kGradRows / 2, GradX::kRows>(g, xpad, xo, dyt, valid, row_begin,
                                                           row_end, first, rows, out);
      } else {
        FilterGradTileAnyWidth<kGradRows, GradX::kRows>(g, xpad, xo, dyt, valid, row_begin,
                                                       row_end, first, rows, out);
      }
    }
  }
}

}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
