// Highway kernels of the convolution ops (per-target code): direct loops
// over channels-last data, vectorized over channels, no im2col.
//
//   ConvForwardRows      conv: y rows from a zero-padded x and the filter
//   ConvInputGradRows    conv_input_grad: dx cells gathered from dy
//   ConvFilterGradBlocks conv_filter_grad: dW blocks summed over positions
//
// Each function computes a range of independent output blocks; every output
// element is summed in one fixed order, so any split over threads gives the
// same bits. Depthwise convolutions (one input and one output channel per
// group) take a path vectorized across the groups.
#if defined(KILN_OPS_CONV_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KILN_OPS_CONV_KERNELS_INL_H_
#undef KILN_OPS_CONV_KERNELS_INL_H_
#else
#define KILN_OPS_CONV_KERNELS_INL_H_
#endif

#include <cstddef>
#include <algorithm>
#include <cstdint>
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

// P output cells x two vectors of output channels (`valid` of them):
// y[p][c] = sum over taps t and input channels ci of x[p][off[t] + ci] *
// w[(t * cin_g + ci) * ldw + c].
template <size_t P, bool kFull>
HWY_INLINE void ConvTile(const float* const* x, const int64_t* off, int64_t taps,
                         int64_t cin_g, const float* w, int64_t ldw, size_t valid,
                         float* const* y) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto m0 = hn::FirstN(d, valid);
  const auto m1 = hn::FirstN(d, valid > N ? valid - N : 0);
  hn::Vec<decltype(d)> acc0[P], acc1[P];
  for (size_t p = 0; p < P; ++p) acc0[p] = acc1[p] = hn::Zero(d);
  for (int64_t t = 0; t < taps; ++t) {
    const float* wt = w + t * cin_g * ldw;
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
  for (size_t p = 0; p < P; ++p) {
    StorePart<kFull>(d, m0, acc0[p], y[p]);
    StorePart<kFull>(d, m1, acc1[p], y[p] + N);
  }
}

// All output channels of P cells.
template <size_t P>
HWY_INLINE void ConvCells(const ConvGeometry& g, const float* const* x, const int64_t* off,
                          const float* w, float* const* y) {
  const size_t N = hn::Lanes(hn::ScalableTag<float>());
  const int64_t cin_g = g.in_per_group(), cout_g = g.out_per_group();
  for (int64_t gi = 0; gi < g.groups; ++gi) {
    const float* xg[P];
    float* yg[P];
    for (int64_t c = 0; c < cout_g; c += 2 * N) {
      for (size_t p = 0; p < P; ++p) {
        xg[p] = x[p] + gi * cin_g;
        yg[p] = y[p] + gi * cout_g + c;
      }
      const float* wg = w + gi * cout_g + c;
      const size_t valid = static_cast<size_t>(cout_g - c);
      if (valid >= 2 * N) {
        ConvTile<P, true>(xg, off, g.taps(), cin_g, wg, g.out_channels, 2 * N, yg);
      } else {
        ConvTile<P, false>(xg, off, g.taps(), cin_g, wg, g.out_channels, valid, yg);
      }
    }
  }
}

// Depthwise: y[c] = sum_t x[off[t] + c] * w[t * C + c].
HWY_INLINE void DepthwiseCell(const float* x, const int64_t* off, int64_t taps,
                              const float* w, int64_t channels, float* y) {
  const hn::ScalableTag<float> d;
  const int64_t N = hn::Lanes(d);
  for (int64_t c = 0; c < channels; c += N) {
    const auto m = hn::FirstN(d, static_cast<size_t>(channels - c));
    auto acc = hn::Zero(d);
    for (int64_t t = 0; t < taps; ++t) {
      acc = hn::MulAdd(SafeMaskedLoad(m, d, x + off[t] + c),
                       SafeMaskedLoad(m, d, w + t * channels + c), acc);
    }
    hn::BlendedStore(acc, m, d, y + c);
  }
}

// conv: output rows [begin, end), a row = (b, o0, o1) holding all o2 cells.
// xpad is x zero-padded to [B, padded..., Cin]; off = TapOffsets(g, Cin).
inline void ConvForwardRows(const ConvGeometry& g, const float* xpad, const int64_t* off,
                            const float* w, float* y, int64_t begin, int64_t end) {
  const ConvGeometry::Dims p = g.padded();
  const int64_t cin = g.in_channels, cout = g.out_channels;
  constexpr size_t kP = 4;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t o1 = row % g.out[1], o0 = (row / g.out[1]) % g.out[0];
    const int64_t b = row / (g.out[1] * g.out[0]);
    const float* xrow =
        xpad + ((b * p[0] + o0 * g.stride[0]) * p[1] + o1 * g.stride[1]) * p[2] * cin;
    float* yrow = y + row * g.out[2] * cout;
    int64_t o2 = 0;
    if (g.depthwise()) {
      for (; o2 < g.out[2]; ++o2) {
        DepthwiseCell(xrow + o2 * g.stride[2] * cin, off, g.taps(), w, cout, yrow + o2 * cout);
      }
      continue;
    }
    const float* xs[kP];
    float* ys[kP];
    for (; o2 + static_cast<int64_t>(kP) <= g.out[2]; o2 += kP) {
      for (size_t i = 0; i < kP; ++i) {
        xs[i] = xrow + (o2 + i) * g.stride[2] * cin;
        ys[i] = yrow + (o2 + i) * cout;
      }
      ConvCells<kP>(g, xs, off, w, ys);
    }
    for (; o2 < g.out[2]; ++o2) {
      xs[0] = xrow + o2 * g.stride[2] * cin;
      ys[0] = yrow + o2 * cout;
      ConvCells<1>(g, xs, off, w, ys);
    }
  }
}

// conv_input_grad: rows [begin, end) of dx, a row = (b, i0, i1) holding all
// i2 cells. wt is the filter regrouped as [groups][taps][cout_g][cin_g]
// (unused for depthwise, which reads w [taps, 1, C]).
inline void ConvInputGradRows(const ConvGeometry& g, const float* dy, const float* w,
                              const float* wt, float* dx, int64_t begin, int64_t end) {
  const hn::ScalableTag<float> d;
  const int64_t N = hn::Lanes(d);
  const int64_t cin = g.in_channels, cout = g.out_channels;
  const int64_t cin_g = g.in_per_group(), cout_g = g.out_per_group(), taps = g.taps();
  std::vector<int64_t> tap(taps), dy_off(taps);
  for (int64_t row = begin; row < end; ++row) {
    int64_t i[3] = {(row / g.in[1]) % g.in[0], row % g.in[1], 0};
    const int64_t b = row / (g.in[1] * g.in[0]);
    for (i[2] = 0; i[2] < g.in[2]; ++i[2]) {
      float* out = dx + (row * g.in[2] + i[2]) * cin;
      const int64_t n = OutputsReading(g, b, i, tap.data(), dy_off.data());
      if (g.depthwise()) {
        for (int64_t c = 0; c < cin; c += N) {
          const auto m = hn::FirstN(d, static_cast<size_t>(cin - c));
          auto acc = hn::Zero(d);
          for (int64_t k = 0; k < n; ++k) {
            acc = hn::MulAdd(SafeMaskedLoad(m, d, dy + dy_off[k] + c),
                             SafeMaskedLoad(m, d, w + tap[k] * cout + c), acc);
          }
          hn::BlendedStore(acc, m, d, out + c);
        }
        continue;
      }
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        for (int64_t c = 0; c < cin_g; c += N) {
          const auto m = hn::FirstN(d, static_cast<size_t>(cin_g - c));
          auto acc = hn::Zero(d);
          for (int64_t k = 0; k < n; ++k) {
            const float* dyp = dy + dy_off[k] + gi * cout_g;
            const float* wr = wt + (gi * taps + tap[k]) * cout_g * cin_g + c;
            for (int64_t co = 0; co < cout_g; ++co) {
              acc = hn::MulAdd(hn::Set(d, dyp[co]), SafeMaskedLoad(m, d, wr + co * cin_g), acc);
            }
          }
          hn::BlendedStore(acc, m, d, out + gi * cin_g + c);
        }
      }
    }
  }
}

// conv_filter_grad: blocks [begin, end) of dW [taps, cin_g, Cout] (see
// FilterGradBlocks). Sums over (b, output cell) in order.
inline void ConvFilterGradBlocks(const ConvGeometry& g, const float* xpad, const int64_t* off,
                                 const float* dy, float* dw, int64_t begin, int64_t end) {
  const hn::ScalableTag<float> d;
  const int64_t N = hn::Lanes(d);
  const ConvGeometry::Dims p = g.padded();
  const int64_t cin = g.in_channels, cout = g.out_channels;
  const int64_t cin_g = g.in_per_group(), cout_g = g.out_per_group();
  const int64_t blocks_per_tap = FilterGradBlocks(g) / g.taps();
  const bool depthwise = g.depthwise();
  const int64_t width = depthwise ? cout : cout_g;
  const int64_t ld = (width + N - 1) / N * N;  // padded accumulator row
  std::vector<float> acc;
  for (int64_t blk = begin; blk < end; ++blk) {
    const int64_t t = blk / blocks_per_tap, r = blk % blocks_per_tap;
    int64_t gi = 0, c0 = 0, rows = 1;
    if (!depthwise) {
      const int64_t per_group = blocks_per_tap / g.groups;
      gi = r / per_group;
      c0 = (r % per_group) * kFilterGradChannels;
      rows = std::min(kFilterGradChannels, cin_g - c0);
    }
    acc.assign(rows * ld, 0.0f);
    for (int64_t b = 0; b < g.batch; ++b) {
      for (int64_t o0 = 0; o0 < g.out[0]; ++o0) {
        for (int64_t o1 = 0; o1 < g.out[1]; ++o1) {
          const int64_t cell = ((b * g.out[0] + o0) * g.out[1] + o1) * g.out[2];
          const float* xrow = xpad + ((b * p[0] + o0 * g.stride[0]) * p[1] +
                                      o1 * g.stride[1]) * p[2] * cin + off[t] + gi * cin_g + c0;
          for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
            const float* x = xrow + o2 * g.stride[2] * cin;
            const float* dyp = dy + (cell + o2) * cout + gi * cout_g;
            for (int64_t c = 0; c < width; c += N) {
              const auto m = hn::FirstN(d, static_cast<size_t>(width - c));
              const auto dv = SafeMaskedLoad(m, d, dyp + c);
              if (depthwise) {
                hn::StoreU(hn::MulAdd(SafeMaskedLoad(m, d, x + c), dv, hn::LoadU(d, &acc[c])),
                           d, &acc[c]);
                continue;
              }
              for (int64_t ci = 0; ci < rows; ++ci) {
                float* a = &acc[ci * ld + c];
                hn::StoreU(hn::MulAdd(hn::Set(d, x[ci]), dv, hn::LoadU(d, a)), d, a);
              }
            }
          }
        }
      }
    }
    for (int64_t ci = 0; ci < rows; ++ci) {
      float* out = dw + (t * cin_g + c0 + ci) * cout + gi * cout_g;
      for (int64_t c = 0; c < width; ++c) out[c] = acc[ci * ld + c];
    }
  }
}

}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
