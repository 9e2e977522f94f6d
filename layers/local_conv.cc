#include "layers/local_conv.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int64_t kToEnd = std::numeric_limits<int64_t>::max();

// Where output o's full (unclipped) window starts on `axis`.
int64_t WindowStart(const LocalGeometry& g, int axis, int64_t o) {
  const int64_t offset = g.padding == Padding::kSame ? g.kernel[axis] / 2 : 0;
  return o * g.strides[axis] - offset;
}

// x [B, H, W, C] -> [B, P, taps * C]: the window of every output position,
// row-major over (u, v, c). One strided slice per tap.
Tensor Patches(const Tensor& x, const LocalGeometry& g) {
  std::vector<Tensor> taps;
  for (int64_t u = 0; u < g.kernel[0]; ++u) {
    for (int64_t v = 0; v < g.kernel[1]; ++v) {
      taps.push_back(Slice(x, {0, u, v, 0},
                           {kToEnd, u + (g.out[0] - 1) * g.strides[0] + 1,
                            v + (g.out[1] - 1) * g.strides[1] + 1, kToEnd},
                           {1, g.strides[0], g.strides[1], 1}));
    }
  }
  Tensor p = taps.size() == 1 ? taps[0] : Concat(taps, 3);
  return Reshape(p, Shape{x.shape().dim(0), g.positions(), g.taps() * g.channels});
}

// patches [B, P, K] times kernel [P, K, F], one matrix per position ->
// [B, out_h, out_w, F].
Tensor PerPositionMatMul(const Tensor& patches, const Tensor& kernel, const LocalGeometry& g) {
  Tensor y = MatMul(Transpose(patches, {1, 0, 2}), kernel);  // [P, B, F]
  return Reshape(Transpose(y, {1, 0, 2}),
                 Shape{patches.shape().dim(0), g.out[0], g.out[1], g.filters});
}

// Consecutive outputs on one axis whose windows are clipped alike.
struct Run {
  int64_t begin, end, clip_low, clip_high;
};

std::vector<Run> RunsOf(const LocalGeometry& g, int axis) {
  std::vector<Run> runs;
  for (int64_t o = 0; o < g.out[axis]; ++o) {
    const int64_t low = g.ClipLow(axis, o), high = g.ClipHigh(axis, o);
    if (!runs.empty() && runs.back().clip_low == low && runs.back().clip_high == high) {
      runs.back().end = o + 1;
    } else {
      runs.push_back({o, o + 1, low, high});
    }
  }
  return runs;
}

// The implementation-3 vector as an implementation-1 style kernel
// [P, taps * C, F] over full windows, (u, v, c) order, zeros where a window
// leaves the input. The vector holds, per output (channels_last: position,
// then filter; channels_first: filter, then position), the window's cells
// in input order (channels_last: (row, column, c); channels_first:
// (c, row, column)). Outputs are taken in runs of equal clipping, so the
// graph grows with the kernel size, not with the output size.
Tensor FullWindowKernel(const Tensor& v, const LocalGeometry& g) {
  const bool last = g.format == DataFormat::kChannelsLast;
  const int64_t F = g.filters, C = g.channels;
  const int64_t lead = last ? 1 : F;  // channels_first: one row per filter
  Tensor v2 = Reshape(v, Shape{lead, g.Connections() / lead});
  auto block = [&](int64_t h, int64_t w) { return (last ? F : 1) * h * w * C; };
  const std::vector<Run> runs_y = RunsOf(g, 0), runs_x = RunsOf(g, 1);
  std::vector<Tensor> rows;
  int64_t offset = 0;
  for (const Run& ry : runs_y) {
    const int64_t h = g.kernel[0] - ry.clip_low - ry.clip_high, gy = ry.end - ry.begin;
    int64_t row_size = 0;
    for (const Run& rx : runs_x) {
      row_size += (rx.end - rx.begin) * block(h, g.kernel[1] - rx.clip_low - rx.clip_high);
    }
    Tensor rows_of_run = Reshape(Slice(v2, {0, offset}, {lead, offset + gy * row_size}, {1, 1}),
                                 Shape{lead, gy, row_size});
    offset += gy * row_size;
    std::vector<Tensor> pieces;
    int64_t column = 0;
    for (const Run& rx : runs_x) {
      const int64_t w = g.kernel[1] - rx.clip_low - rx.clip_high, gx = rx.end - rx.begin;
      const int64_t size = gx * block(h, w);
      Tensor piece = Slice(rows_of_run, {0, 0, column}, {lead, gy, column + size}, {1, 1, 1});
      column += size;
      // Window rows and columns are axes 4 and 5 in both layouts.
      piece = Reshape(piece, last ? Shape{1, gy, gx, F, h, w, C} : Shape{F, gy, gx, C, h, w});
      if (ry.clip_low + ry.clip_high + rx.clip_low + rx.clip_high > 0) {
        const int rank = piece.rank();
        IntList low(rank, 0), high(rank, 0), interior(rank, 0);
        low[4] = ry.clip_low;
        high[4] = ry.clip_high;
        low[5] = rx.clip_low;
        high[5] = rx.clip_high;
        piece = Pad(piece, low, high, interior);
      }
      pieces.push_back(piece);
    }
    rows.push_back(pieces.size() == 1 ? pieces[0] : Concat(pieces, 2));
  }
  Tensor full = rows.size() == 1 ? rows[0] : Concat(rows, 1);
  const int64_t P = g.positions(), K = g.taps() * C;
  if (last) return Transpose(Reshape(full, Shape{P, F, K}), {0, 2, 1});
  return Reshape(Transpose(Reshape(full, Shape{F, P, C, g.taps()}), {1, 3, 2, 0}), Shape{P, K, F});
}

}  // namespace

int64_t LocalGeometry::WindowBegin(int axis, int64_t o) const {
  return std::max<int64_t>(0, WindowStart(*this, axis, o));
}

int64_t LocalGeometry::WindowEnd(int axis, int64_t o) const {
  return std::min(in[axis], WindowStart(*this, axis, o) + kernel[axis]);
}

int64_t LocalGeometry::ClipLow(int axis, int64_t o) const {
  return WindowBegin(axis, o) - WindowStart(*this, axis, o);
}

int64_t LocalGeometry::ClipHigh(int axis, int64_t o) const {
  return WindowStart(*this, axis, o) + kernel[axis] - WindowEnd(axis, o);
}

int64_t LocalGeometry::Connections() const {
  int64_t cells[2] = {0, 0};
  for (int axis = 0; axis < 2; ++axis) {
    for (int64_t o = 0; o < out[axis]; ++o)
      cells[axis] += WindowEnd(axis, o) - WindowBegin(axis, o);
  }
  return cells[0] * cells[1] * channels * filters;
}

absl::StatusOr<LocalGeometry> LocalGeometryOf(std::array<int64_t, 2> in,
                                              std::array<int64_t, 2> kernel,
                                              std::array<int64_t, 2> strides, Padding padding,
                                              DataFormat format, int64_t channels,
                                              int64_t filters) {
  if (padding == Padding::kCausal) {
    return absl::InvalidArgumentError(
        "Padding type causal not recognized. Only valid and same are supported.");
  }
  LocalGeometry g{in, kernel, strides, {}, channels, filters, padding, format};
  for (int axis = 0; axis < 2; ++axis) {
    if (strides[axis] <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("strides must be > 0, got ", strides[axis]));
    }
    g.out[axis] = ConvOutputLength(in[axis], kernel[axis], padding, strides[axis], 1);
  }
  return g;
}

Tensor LocalConvImpl1(const Tensor& x, const Tensor& kernel, const LocalGeometry& g) {
  Tensor k = kernel;
  if (g.format == DataFormat::kChannelsFirst) {  // (c, u, v) features -> (u, v, c)
    const int64_t P = g.positions(), C = g.channels, F = g.filters;
    k = Reshape(Transpose(Reshape(kernel, Shape{P, C, g.taps(), F}), {0, 2, 1, 3}),
                Shape{P, g.taps() * C, F});
  }
  return PerPositionMatMul(Patches(x, g), k, g);
}

Buffer LocalConnectivityMask(const LocalGeometry& g, const Shape& shape) {
  Buffer mask = Buffer::Zeros(DType::kF32, shape);
  float* m = mask.data<float>();
  const int64_t H = g.in[0], W = g.in[1], LH = g.out[0], LW = g.out[1];
  const int64_t C = g.channels, F = g.filters;
  const bool last = g.format == DataFormat::kChannelsLast;
  for (int64_t oy = 0; oy < LH; ++oy) {
    for (int64_t ox = 0; ox < LW; ++ox) {
      for (int64_t iy = g.WindowBegin(0, oy); iy < g.WindowEnd(0, oy); ++iy) {
        for (int64_t ix = g.WindowBegin(1, ox); ix < g.WindowEnd(1, ox); ++ix) {
          for (int64_t c = 0; c < C; ++c) {
            for (int64_t f = 0; f < F; ++f) {
              // channels_last (H, W, C, LH, LW, F); channels_first (C, H, W, F, LH, LW).
              const int64_t i = last ? ((((iy * W + ix) * C + c) * LH + oy) * LW + ox) * F + f
                                     : ((((c * H + iy) * W + ix) * F + f) * LH + oy) * LW + ox;
              m[i] = 1.0f;
            }
          }
        }
      }
    }
  }
  return mask;
}

Tensor LocalConvImpl2(const Tensor& x, const Tensor& kernel, const Buffer& mask) {
  const Shape& ks = kernel.shape();
  int64_t rows = 1, cols = 1;
  for (int i = 0; i < ks.rank(); ++i) (i < ks.rank() / 2 ? rows : cols) *= ks.dim(i);
  Tensor masked = kernel * Constant(x.graph(), mask.Clone());
  Tensor flat = Reshape(x, Shape{x.shape().dim(0), rows});
  return MatMul(flat, Reshape(masked, Shape{rows, cols}));
}

Tensor LocalConvImpl3(const Tensor& x, const Tensor& kernel, const LocalGeometry& g) {
  Tensor padded = x;
  IntList low(4, 0), high(4, 0);
  for (int axis = 0; axis < 2; ++axis) {
    low[1 + axis] = g.ClipLow(axis, 0);
    high[1 + axis] =
        std::max<int64_t>(0, WindowStart(g, axis, g.out[axis] - 1) + g.kernel[axis] - g.in[axis]);
  }
  if (low != IntList(4, 0) || high != IntList(4, 0)) padded = Pad(x, low, high, IntList(4, 0));
  return PerPositionMatMul(Patches(padded, g), FullWindowKernel(kernel, g), g);
}

}  // namespace kiln
