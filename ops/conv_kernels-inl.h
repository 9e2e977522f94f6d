// Highway kernels of conv and conv_input_grad (per-target code): direct
// loops over channels-last data, vectorized over channels, no im2col. The
// filter gradient's kernel is in ops/conv_filter_grad_kernels-inl.h.
//
//   ConvForwardRows    conv: y rows from a zero-padded x and the filter
//   ConvInputGradRows  conv_input_grad: dx rows as a convolution of dy with
//                      the transposed filter, through the same tiles
//
// Both compute a range of independent output rows; every output element is
// summed in one fixed order, so any split over threads gives the same bits.
// A tile keeps P cells x two vectors of output channels in registers and
// broadcasts the input scalars. Depthwise convolutions (one input and one
// output channel per group) run P cells x one vector across the groups; an
// input gradient with few input channels per group sums vectors of output
// channels and reduces them at the end ("dot" cells).
#if defined(KILN_OPS_CONV_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KILN_OPS_CONV_KERNELS_INL_H_
#undef KILN_OPS_CONV_KERNELS_INL_H_
#else
#define KILN_OPS_CONV_KERNELS_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "hwy/highway.h"
#include "ops/elementwise-inl.h"
#include "ops/conv_geometry.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Loads or stores `valid` (<= lanes) floats; kFull: all lanes.
template <bool kFull, class D, class M>
HWY_INLINE hn::Vec<D> LoadPart(D d, M m, const float* p) {
  return kFull ? hn::LoadU(d, p) : SafeMaskedLoad(m, d, p);
}
template <bool kFull, class D, class M>
HWY_INLINE void StorePart(D d, M m, hn::Vec<D> v, float* p) {
  if (kFull) {
    hn::StoreU(v, d, p);
  } else {
    hn::BlendedStore(v, m, d, p);
  }
}

// The two-vector accumulators of a tile's R rows of `valid` floats (<= two
// vectors; kFull: two): zeros, or (load) what rows[r] holds for the first n
// rows; and the first n stored back.
template <bool kFull, size_t R, class D>
HWY_INLINE void StartRows(D d, size_t valid, bool load, size_t n, float* const* rows,
                          hn::Vec<D>* acc0, hn::Vec<D>* acc1) {
  const size_t N = hn::Lanes(d);
  const auto m0 = hn::FirstN(d, valid);
  const auto m1 = hn::FirstN(d, valid > N ? valid - N : 0);
  for (size_t r = 0; r < R; ++r) {
    const bool from_rows = load && r < n;
    acc0[r] = from_rows ? LoadPart<kFull>(d, m0, rows[r]) : hn::Zero(d);
    acc1[r] = from_rows ? LoadPart<kFull>(d, m1, rows[r] + N) : hn::Zero(d);
  }
}
template <bool kFull, class D>
HWY_INLINE void StoreRows(D d, size_t valid, size_t n, const hn::Vec<D>* acc0,
                          const hn::Vec<D>* acc1, float* const* rows) {
  const size_t N = hn::Lanes(d);
  const auto m0 = hn::FirstN(d, valid);
  const auto m1 = hn::FirstN(d, valid > N ? valid - N : 0);
  for (size_t r = 0; r < n; ++r) {
    StorePart<kFull>(d, m0, acc0[r], rows[r]);
    StorePart<kFull>(d, m1, acc1[r], rows[r] + N);
  }
}

// A convolution as the tiles see it: `cin_g` inputs and `cout_g` outputs per
// group; tap t's weights are rows w[t] + ci * ldw, group gi's columns start
// at gi * cout_g.
struct TileConv {
  int64_t groups, cin_g, cout_g, ldw;
};

// P output cells x two vectors of output channels (`valid` of them) from
// column `col`: y[p][c] = sum over taps t and inputs ci of x[p][off[t] + ci]
// * w[t][ci * ldw + col + c] (kAdd: y[p][c] += the sum).
template <size_t P, bool kFull, bool kAdd>
HWY_INLINE void ConvTile(const float* const* x, const int64_t* off, const float* const* w,
                         int64_t taps, int64_t cin_g, int64_t ldw, int64_t col, size_t valid,
                         float* const* y) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto m0 = hn::FirstN(d, valid);
  const auto m1 = hn::FirstN(d, valid > N ? valid - N : 0);
  hn::Vec<decltype(d)> acc0[P], acc1[P];
  StartRows<kFull, P>(d, valid, kAdd, P, y, acc0, acc1);
  for (int64_t t = 0; t < taps; ++t) {
    const float* wt = w[t] + col;
    for (int64_t ci = 0; ci < cin_g; ++ci) {
      const float* wr = wt + ci * ldw;
      const auto w0 = LoadPart<kFull>(d, m0, wr);
      const auto w1 = LoadPart<kFull>(d, m1, wr + N);
      for (size_t p = 0; p < P; ++p) {
        const auto xv = hn::Set(d, x[p][off[t] + ci]);
        acc0[p] = hn::MulAdd(xv, w0, acc0[p]);
        acc1[p] = hn::MulAdd(xv, w1, acc1[p]);
      }
    }
  }
  StoreRows<kFull>(d, valid, P, acc0, acc1, y);
}

// All output channels of P cells.
template <size_t P, bool kAdd>
HWY_INLINE void ConvCells(const TileConv& c, const float* const* x, const int64_t* off,
                          const float* const* w, int64_t taps, float* const* y) {
  const size_t N = hn::Lanes(hn::ScalableTag<float>());
  for (int64_t gi = 0; gi < c.groups; ++gi) {
    const float* xg[P];
    float* yg[P];
    for (int64_t col = 0; col < c.cout_g; col += 2 * N) {
      for (size_t p = 0; p < P; ++p) {
        xg[p] = x[p] + gi * c.cin_g;
        yg[p] = y[p] + gi * c.cout_g + col;
      }
      const int64_t wcol = gi * c.cout_g + col;
      const size_t valid = static_cast<size_t>(c.cout_g - col);
      if (valid >= 2 * N) {
        ConvTile<P, true, kAdd>(xg, off, w, taps, c.cin_g, c.ldw, wcol, 2 * N, yg);
      } else {
        ConvTile<P, false, kAdd>(xg, off, w, taps, c.cin_g, c.ldw, wcol, valid, yg);
      }
    }
  }
}

// Depthwise, P cells: y[p][c] = sum_t x[p][off[t] + c] * w[t][c] (kAdd: +=).
template <size_t P, bool kAdd>
HWY_INLINE void DepthwiseCells(const float* const* x, const int64_t* off,
                               const float* const* w, int64_t taps, int64_t channels,
                               float* const* y) {
  const hn::ScalableTag<float> d;
  const int64_t N = hn::Lanes(d);
  for (int64_t c = 0; c < channels; c += N) {
    const auto m = hn::FirstN(d, static_cast<size_t>(channels - c));
    hn::Vec<decltype(d)> acc[P];
    for (size_t p = 0; p < P; ++p) acc[p] = kAdd ? SafeMaskedLoad(m, d, y[p] + c) : hn::Zero(d);
    for (int64_t t = 0; t < taps; ++t) {
      const auto wv = SafeMaskedLoad(m, d, w[t] + c);
      for (size_t p = 0; p < P; ++p) {
        acc[p] = hn::MulAdd(SafeMaskedLoad(m, d, x[p] + off[t] + c), wv, acc[p]);
      }
    }
    for (size_t p = 0; p < P; ++p) hn::BlendedStore(acc[p], m, d, y[p] + c);
  }
}

// P cells of a convolution with few outputs per group, as dot products over
// the inputs: y[p][gi * cout_g + co] = sum_t sum_ci x[p][off[t] + gi * cin_g +
// ci] * w[t][co * ldw + gi * cin_g + ci] (c.cin_g/cout_g/ldw as in TileConv;
// the weight rows run over the inputs). Two accumulators per cell (even and
// odd vectors), added and reduced at the end. kFull: cin_g is a multiple of
// two vectors; kAdd: y += the sums.
template <size_t P, bool kFull, bool kAdd>
HWY_INLINE void DotCellsOf(const TileConv& c, const float* const* x, const int64_t* off,
                           const float* const* w, int64_t taps, float* const* y) {
  const hn::ScalableTag<float> d;
  const int64_t N = hn::Lanes(d);
  for (int64_t gi = 0; gi < c.groups; ++gi) {
    const int64_t in0 = gi * c.cin_g;
    const float* xg[P];
    for (size_t p = 0; p < P; ++p) xg[p] = x[p] + in0;
    for (int64_t co = 0; co < c.cout_g; ++co) {
      hn::Vec<decltype(d)> acc0[P], acc1[P];
      for (size_t p = 0; p < P; ++p) acc0[p] = acc1[p] = hn::Zero(d);
      for (int64_t t = 0; t < taps; ++t) {
        const float* wr = w[t] + co * c.ldw + in0;
        const int64_t ot = off[t];
        for (int64_t ci = 0; ci < c.cin_g; ci += 2 * N) {
          const int64_t left = kFull ? 2 * N : c.cin_g - ci;
          const auto m0 = hn::FirstN(d, static_cast<size_t>(std::min(left, N)));
          const auto m1 = hn::FirstN(d, static_cast<size_t>(std::max<int64_t>(left - N, 0)));
          const auto w0 = LoadPart<kFull>(d, m0, wr + ci);
          const auto w1 = LoadPart<kFull>(d, m1, wr + ci + N);
          for (size_t p = 0; p < P; ++p) {
            const float* xp = xg[p] + ot + ci;
            acc0[p] = hn::MulAdd(LoadPart<kFull>(d, m0, xp), w0, acc0[p]);
            acc1[p] = hn::MulAdd(LoadPart<kFull>(d, m1, xp + N), w1, acc1[p]);
          }
        }
      }
      for (size_t p = 0; p < P; ++p) {
        const float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0[p], acc1[p])));
        float& out = y[p][gi * c.cout_g + co];
        out = kAdd ? out + sum : sum;
      }
    }
  }
}
template <size_t P, bool kAdd>
HWY_INLINE void DotCells(const TileConv& c, const float* const* x, const int64_t* off,
                         const float* const* w, int64_t taps, float* const* y) {
  const int64_t N = hn::Lanes(hn::ScalableTag<float>());
  if (c.cin_g % (2 * N) == 0) {
    DotCellsOf<P, true, kAdd>(c, x, off, w, taps, y);
  } else {
    DotCellsOf<P, false, kAdd>(c, x, off, w, taps, y);
  }
}

// How a row of cells runs: 4-cell tiles, then 2, then 1.
enum class CellKind { kTiles, kDepthwise, kDots };
template <size_t P, bool kAdd>
HWY_INLINE void RunCells(CellKind kind, const TileConv& c, const float* const* x,
                         const int64_t* off, const float* const* w, int64_t taps,
                         float* const* y) {
  switch (kind) {
    case CellKind::kTiles:
      return ConvCells<P, kAdd>(c, x, off, w, taps, y);
    case CellKind::kDepthwise:
      return DepthwiseCells<P, kAdd>(x, off, w, taps, c.groups, y);
    case CellKind::kDots:
      return DotCells<P, kAdd>(c, x, off, w, taps, y);
  }
}

// `cells` cells: cell m reads x0 + m * x_step and writes (kAdd: adds to)
// y0 + m * y_step.
template <bool kAdd = false>
inline void RunRow(CellKind kind, const TileConv& c, const float* x0, int64_t x_step,
                   float* y0, int64_t y_step, int64_t cells, const int64_t* off,
                   const float* const* w, int64_t taps) {
  const float* xs[4];
  float* ys[4];
  auto point = [&](int64_t m, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      xs[i] = x0 + (m + i) * x_step;
      ys[i] = y0 + (m + i) * y_step;
    }
  };
  int64_t m = 0;
  for (; m + 4 <= cells; m += 4) {
    point(m, 4);
    RunCells<4, kAdd>(kind, c, xs, off, w, taps, ys);
  }
  if (m + 2 <= cells) {
    point(m, 2);
    RunCells<2, kAdd>(kind, c, xs, off, w, taps, ys);
    m += 2;
  }
  if (m < cells) {
    point(m, 1);
    RunCells<1, kAdd>(kind, c, xs, off, w, taps, ys);
  }
}

// conv: output rows [begin, end), a row = (b, o0, o1) holding all o2 cells.
// xpad is x zero-padded to [B, padded..., Cin]; off = TapOffsets(g, Cin).
inline void ConvForwardRows(const ConvGeometry& g, const float* xpad, const int64_t* off,
                            const float* w, float* y, int64_t begin, int64_t end) {
  const ConvGeometry::Dims p = g.padded();
  const int64_t cin = g.in_channels, cout = g.out_channels, taps = g.taps();
  const TileConv c{g.groups, g.in_per_group(), g.out_per_group(), cout};
  std::vector<const float*> wtap(taps);
  for (int64_t t = 0; t < taps; ++t) wtap[t] = w + t * c.cin_g * cout;
  const CellKind kind = g.depthwise() ? CellKind::kDepthwise : CellKind::kTiles;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t o1 = row % g.out[1], o0 = (row / g.out[1]) % g.out[0];
    const int64_t b = row / (g.out[1] * g.out[0]);
    const float* xrow =
        xpad + ((b * p[0] + o0 * g.stride[0]) * p[1] + o1 * g.stride[1]) * p[2] * cin;
    RunRow(kind, c, xrow, g.stride[2] * cin, y + row * g.out[2] * cout, cout, g.out[2], off,
           wtap.data(), taps);
  }
}

// conv_input_grad: rows [begin, end) of dx, a row = (b, i0, i1) holding all
// i2 cells. Cell i gets dy[o] times tap k of the filter transposed for every
// tap whose window position lands on it (o * s + k * d - pad_low = i). Along
// dims 0 and 1 the taps whose o falls outside dy are skipped. Along dim 2 the
// cells i2 = r + m * s2 of one residue r share their taps, tap k2 reading dy
// cell o2 = base(k2) + m. The cells that every tap reads inside dy run as one
// row of tiles; the few at the ends, where some taps fall outside, start from
// zeros and add the taps of each k2 (listed k2 first) as rows of tiles over
// the cells it reaches. wt is the filter as InputGradLayout(g) says:
// [taps][Cout/groups][Cin] (tiles), or the filter itself.
inline void ConvInputGradRows(const ConvGeometry& g, const float* dy, const float* wt,
                              float* dx, int64_t begin, int64_t end) {
  const int64_t cin = g.in_channels, cout = g.out_channels, taps = g.taps();
  const int64_t cin_g = g.in_per_group(), cout_g = g.out_per_group();
  const InputGradKind layout = InputGradLayout(g);
  const CellKind kind = layout == InputGradKind::kTiles       ? CellKind::kTiles
                        : layout == InputGradKind::kDepthwise ? CellKind::kDepthwise
                                                              : CellKind::kDots;
  // Tiles see dy as the input (cout_g per group) and the packed filter's rows
  // (t, co) running over Cin; dots read the filter itself, rows (t, ci) over
  // Cout.
  const TileConv c = kind == CellKind::kTiles ? TileConv{g.groups, cout_g, cin_g, cin}
                                              : TileConv{g.groups, cout_g, cin_g, cout};
  std::vector<int64_t> k0, k1, q0, q1, off, base, first;
  std::vector<const float*> wtap;
  off.reserve(taps);
  wtap.reserve(taps);
  // Along dim j, tap k reaches cell i from o = (i + pad_low - k * d) / s.
  auto reaching = [&](int j, int64_t i, std::vector<int64_t>& ks, std::vector<int64_t>& os) {
    ks.clear();
    os.clear();
    for (int64_t k = 0; k < g.kernel[j]; ++k) {
      const int64_t num = i + g.pad_low[j] - k * g.dilation[j];
      if (num < 0 || num % g.stride[j] != 0 || num / g.stride[j] >= g.out[j]) continue;
      ks.push_back(k);
      os.push_back(num / g.stride[j]);
    }
  };
  const int64_t s2 = g.stride[2], out2 = g.out[2];
  for (int64_t row = begin; row < end; ++row) {
    const int64_t i1 = row % g.in[1], i0 = (row / g.in[1]) % g.in[0];
    const int64_t b = row / (g.in[1] * g.in[0]);
    reaching(0, i0, k0, q0);
    reaching(1, i1, k1, q1);
    for (int64_t r = 0; r < std::min(s2, g.in[2]); ++r) {
      off.clear();
      wtap.clear();
      base.clear();   // per k2 that reaches this residue, its base
      first.clear();  // and where its taps start in the list
      for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
        const int64_t num = r + g.pad_low[2] - k2 * g.dilation[2];
        if (num % s2 != 0) continue;
        base.push_back(num / s2);
        first.push_back(static_cast<int64_t>(off.size()));
        for (size_t a = 0; a < k0.size(); ++a) {
          for (size_t e = 0; e < k1.size(); ++e) {
            const int64_t dy_row = (b * g.out[0] + q0[a]) * g.out[1] + q1[e];
            off.push_back((dy_row * out2 + base.back()) * cout);
            wtap.push_back(wt + ((k0[a] * g.kernel[1] + k1[e]) * g.kernel[2] + k2) * cin_g *
                                    cout);
          }
        }
      }
      first.push_back(static_cast<int64_t>(off.size()));
      const int64_t cells = (g.in[2] - r + s2 - 1) / s2;
      float* dx0 = dx + (row * g.in[2] + r) * cin;
      // Cells m in [lo, hi) read inside dy with every tap.
      int64_t lo = 0, hi = cells;
      if (!base.empty()) {
        lo = std::min(cells, std::max<int64_t>(0, -base.back()));
        hi = std::max(lo, std::min(cells, out2 - base.front()));
      }
      RunRow(kind, c, dy + lo * cout, cout, dx0 + lo * s2 * cin, s2 * cin, hi - lo, off.data(),
             wtap.data(), static_cast<int64_t>(off.size()));
      // The cells at the ends: zeros, then each k2's taps added over the
      // cells whose dy cell base + m it reaches inside dy.
      for (const auto& [from, to] : {std::pair{int64_t{0}, lo}, std::pair{hi, cells}}) {
        for (int64_t m = from; m < to; ++m) std::fill_n(dx0 + m * s2 * cin, cin, 0.0f);
        for (size_t j = 0; j < base.size(); ++j) {
          const int64_t m0 = std::max(from, -base[j]), m1 = std::min(to, out2 - base[j]);
          if (m0 >= m1) continue;
          RunRow<true>(kind, c, dy + m0 * cout, cout, dx0 + m0 * s2 * cin, s2 * cin, m1 - m0,
                       off.data() + first[j], wtap.data() + first[j], first[j + 1] - first[j]);
        }
      }
    }
  }
}

}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
