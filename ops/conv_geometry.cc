#include "ops/conv_geometry.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace kiln {
namespace {

std::string ListString(const IntList& v) { return AttrValueToString(AttrValue(v)); }

// The list attribute `name` with one entry per spatial dim, each >= `min`.
absl::StatusOr<IntList> SpatialList(const Attrs& attrs, absl::string_view name,
                                    int rank, int64_t min) {
  KILN_ASSIGN_OR_RETURN(IntList v, attrs.Get<IntList>(name));
  if (static_cast<int>(v.size()) != rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must have ", rank, " entries (one per spatial dim), got ", ListString(v)));
  }
  for (int64_t e : v) {
    if (e < min) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be >= ", min, ", got ", ListString(v)));
    }
  }
  return v;
}

// Reads the batch, spatial sizes and channels of a [B, spatial..., C] input.
absl::StatusOr<ConvGeometry> InputGeometry(const Shape& x) {
  if (x.rank() < 3 || x.rank() > 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected an input of rank 3, 4 or 5 ([batch, spatial..., channels]), got ",
        x.ToString()));
  }
  for (int i = 1; i < x.rank(); ++i) {
    if (x.dim(i) == Shape::kBatch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "only dimension 0 of the input may be N, got ", x.ToString()));
    }
  }
  ConvGeometry g;
  g.rank = x.rank() - 2;
  g.batch = x.dim(0);
  const int off = 3 - g.rank;
  for (int i = 0; i < g.rank; ++i) g.in[off + i] = x.dim(1 + i);
  g.in_channels = x.dim(x.rank() - 1);
  if (g.in_channels < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected at least one input channel, got ", x.ToString()));
  }
  return g;
}

// Reads strides, pads (and dilations when `dilations`) and computes the
// output sizes; g.kernel must be set.
absl::Status WindowGeometry(const Attrs& attrs, bool dilations, ConvGeometry& g) {
  const int off = 3 - g.rank;
  KILN_ASSIGN_OR_RETURN(IntList strides, SpatialList(attrs, "strides", g.rank, 1));
  KILN_ASSIGN_OR_RETURN(IntList low, SpatialList(attrs, "pad_low", g.rank, 0));
  KILN_ASSIGN_OR_RETURN(IntList high, SpatialList(attrs, "pad_high", g.rank, 0));
  IntList dil(g.rank, 1);
  if (dilations) {
    KILN_ASSIGN_OR_RETURN(dil, SpatialList(attrs, "dilations", g.rank, 1));
  }
  for (int i = 0; i < g.rank; ++i) {
    const int j = off + i;
    g.stride[j] = strides[i];
    g.dilation[j] = dil[i];
    g.pad_low[j] = low[i];
    g.pad_high[j] = high[i];
    const int64_t span = (g.kernel[j] - 1) * g.dilation[j] + 1;
    const int64_t room = g.in[j] + low[i] + high[i] - span;
    if (room < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "non-positive output size in spatial dim ", i, ": input ", g.in[j],
          " padded by ", low[i], "+", high[i], " is shorter than the ",
          dilations ? "dilated kernel " : "window ", span));
    }
    g.out[j] = room / g.stride[j] + 1;
  }
  return absl::OkStatus();
}

}  // namespace

ConvGeometry::Dims ConvGeometry::padded() const {
  return {in[0] + pad_low[0] + pad_high[0], in[1] + pad_low[1] + pad_high[1],
          in[2] + pad_low[2] + pad_high[2]};
}

Shape ConvGeometry::InputShape() const {
  std::vector<int64_t> d = {batch};
  for (int i = 3 - rank; i < 3; ++i) d.push_back(in[i]);
  d.push_back(in_channels);
  return Shape(std::move(d));
}

Shape ConvGeometry::OutputShape() const {
  std::vector<int64_t> d = {batch};
  for (int i = 3 - rank; i < 3; ++i) d.push_back(out[i]);
  d.push_back(out_channels);
  return Shape(std::move(d));
}

Shape ConvGeometry::FilterShape() const {
  std::vector<int64_t> d;
  for (int i = 3 - rank; i < 3; ++i) d.push_back(kernel[i]);
  d.push_back(in_per_group());
  d.push_back(out_channels);
  return Shape(std::move(d));
}

absl::StatusOr<ConvGeometry> ConvGeometryOf(const Shape& x, const Shape& filter,
                                            const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, InputGeometry(x));
  if (filter.rank() != x.rank()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a ", x.rank(), "-D filter [k..., in_channels/groups, out_channels] for a ",
        g.rank, "-D convolution, got ", filter.ToString()));
  }
  if (!filter.IsConcrete()) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter dimensions must be known, got ", filter.ToString()));
  }
  const int off = 3 - g.rank;
  for (int i = 0; i < g.rank; ++i) {
    if (filter.dim(i) < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "filter spatial sizes must be >= 1, got ", filter.ToString()));
    }
    g.kernel[off + i] = filter.dim(i);
  }
  KILN_ASSIGN_OR_RETURN(g.groups, attrs.Get<int64_t>("groups"));
  if (g.groups < 1) {
    return absl::InvalidArgumentError(absl::StrCat("groups must be >= 1, got ", g.groups));
  }
  if (g.in_channels % g.groups != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input channels ", g.in_channels, " are not divisible by groups ", g.groups));
  }
  if (filter.dim(g.rank) != g.in_per_group()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "filter ", filter.ToString(), " has ", filter.dim(g.rank),
        " input channels per group, expected ", g.in_per_group(), " (input channels ",
        g.in_channels, " / groups ", g.groups, ")"));
  }
  g.out_channels = filter.dim(g.rank + 1);
  if (g.out_channels < 1 || g.out_channels % g.groups != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output channels ", g.out_channels, " are not a positive multiple of groups ",
        g.groups));
  }
  KILN_RETURN_IF_ERROR(WindowGeometry(attrs, /*dilations=*/true, g));
  return g;
}

absl::StatusOr<ConvGeometry> PoolGeometryOf(const Shape& x, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, InputGeometry(x));
  KILN_ASSIGN_OR_RETURN(IntList window, SpatialList(attrs, "window", g.rank, 1));
  const int off = 3 - g.rank;
  for (int i = 0; i < g.rank; ++i) g.kernel[off + i] = window[i];
  g.groups = g.out_channels = g.in_channels;
  KILN_RETURN_IF_ERROR(WindowGeometry(attrs, /*dilations=*/false, g));
  for (int i = 0; i < g.rank; ++i) {
    const int j = off + i;
    if (g.in[j] < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected non-empty spatial dims (a window must reach a real cell), got ",
          x.ToString()));
    }
    if (g.pad_low[j] >= window[i] || g.pad_high[j] >= window[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pads must be smaller than the window (a window must not lie in the padding), got "
          "pad_low ", ListString(*attrs.Get<IntList>("pad_low")), ", pad_high ",
          ListString(*attrs.Get<IntList>("pad_high")), " for window ", ListString(window)));
    }
  }
  return g;
}

Attrs ConvAttrs(const IntList& strides, const IntList& dilations, const IntList& pad_low,
                const IntList& pad_high, int64_t groups) {
  return Attrs{{"strides", strides},
               {"dilations", dilations},
               {"pad_low", pad_low},
               {"pad_high", pad_high},
               {"groups", groups}};
}

Attrs PoolAttrs(const IntList& window, const IntList& strides, const IntList& pad_low,
                const IntList& pad_high) {
  return Attrs{{"window", window}, {"strides", strides}, {"pad_low", pad_low},
               {"pad_high", pad_high}};
}

ConvParams ConvParamsOf(const Attrs& attrs) {
  return {attrs.GetOr<IntList>("strides", {}), attrs.GetOr<IntList>("dilations", {}),
          attrs.GetOr<IntList>("pad_low", {}), attrs.GetOr<IntList>("pad_high", {}),
          attrs.GetOr<int64_t>("groups", 1)};
}

PoolParams PoolParamsOf(const Attrs& attrs) {
  return {attrs.GetOr<IntList>("window", {}), attrs.GetOr<IntList>("strides", {}),
          attrs.GetOr<IntList>("pad_low", {}), attrs.GetOr<IntList>("pad_high", {})};
}

absl::Status CheckShapeMatches(absl::string_view what, const Shape& got,
                               const Shape& want) {
  if (got == want) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "expected ", what, " of shape ", want.ToString(), ", got ", got.ToString()));
}

absl::Status CheckAllF32(absl::Span<const TensorType> inputs) {
  for (const TensorType& t : inputs) {
    if (t.dtype != DType::kF32) {
      std::string got;
      for (const TensorType& u : inputs) absl::StrAppend(&got, got.empty() ? "" : ", ", u.ToString());
      return absl::InvalidArgumentError(absl::StrCat("expected f32 inputs, got ", got));
    }
  }
  return absl::OkStatus();
}

std::vector<int64_t> TapOffsets(const ConvGeometry& g, int64_t channels) {
  const ConvGeometry::Dims p = g.padded();
  std::vector<int64_t> offsets;
  offsets.reserve(g.taps());
  for (int64_t a = 0; a < g.kernel[0]; ++a) {
    for (int64_t b = 0; b < g.kernel[1]; ++b) {
      for (int64_t c = 0; c < g.kernel[2]; ++c) {
        offsets.push_back(((a * g.dilation[0] * p[1] + b * g.dilation[1]) * p[2] +
                           c * g.dilation[2]) * channels);
      }
    }
  }
  return offsets;
}

int64_t WindowCells(const ConvGeometry& g, int64_t b, const int64_t o[3], int64_t* offsets) {
  int64_t lo[3], hi[3];  // the taps along each dim that land inside
  for (int j = 0; j < 3; ++j) {
    const int64_t start = o[j] * g.stride[j] - g.pad_low[j];
    lo[j] = 0;
    while (lo[j] < g.kernel[j] && start + lo[j] * g.dilation[j] < 0) ++lo[j];
    hi[j] = g.kernel[j];
    while (hi[j] > lo[j] && start + (hi[j] - 1) * g.dilation[j] >= g.in[j]) --hi[j];
  }
  int64_t n = 0;
  for (int64_t k0 = lo[0]; k0 < hi[0]; ++k0) {
    for (int64_t k1 = lo[1]; k1 < hi[1]; ++k1) {
      for (int64_t k2 = lo[2]; k2 < hi[2]; ++k2) {
        const int64_t i0 = o[0] * g.stride[0] - g.pad_low[0] + k0 * g.dilation[0];
        const int64_t i1 = o[1] * g.stride[1] - g.pad_low[1] + k1 * g.dilation[1];
        const int64_t i2 = o[2] * g.stride[2] - g.pad_low[2] + k2 * g.dilation[2];
        offsets[n++] = (((b * g.in[0] + i0) * g.in[1] + i1) * g.in[2] + i2) * g.in_channels;
      }
    }
  }
  return n;
}

InputGradKind InputGradLayout(const ConvGeometry& g) {
  if (g.depthwise()) return InputGradKind::kDepthwise;
  return g.in_per_group() < 4 ? InputGradKind::kDots : InputGradKind::kTiles;
}

const float* PaddedInput(const ConvGeometry& g, const float* x, const Parallelism& parallel,
                         std::unique_ptr<float[]>& storage) {
  if (g.pad_low == ConvGeometry::Dims{0, 0, 0} && g.pad_high == ConvGeometry::Dims{0, 0, 0}) {
    return x;
  }
  const ConvGeometry::Dims p = g.padded();
  const int64_t c = g.in_channels, row = p[2] * c;
  storage = std::make_unique_for_overwrite<float[]>(g.batch * p[0] * p[1] * row);
  float* out = storage.get();
  // Padded row (b, i, j): zeros, or a row of x between zeros.
  parallel.For(g.batch * p[0] * p[1], std::max<int64_t>(1, (1 << 14) / row),
               [&](int64_t begin, int64_t end) {
                 for (int64_t r = begin; r < end; ++r) {
                   float* dst = out + r * row;
                   const int64_t j = r % p[1] - g.pad_low[1], i = r / p[1] % p[0] - g.pad_low[0];
                   const int64_t b = r / (p[1] * p[0]);
                   if (i < 0 || i >= g.in[0] || j < 0 || j >= g.in[1]) {
                     std::fill_n(dst, row, 0.0f);
                     continue;
                   }
                   std::fill_n(dst, g.pad_low[2] * c, 0.0f);
                   std::memcpy(dst + g.pad_low[2] * c,
                               x + ((b * g.in[0] + i) * g.in[1] + j) * g.in[2] * c,
                               g.in[2] * c * sizeof(float));
                   std::fill_n(dst + (g.pad_low[2] + g.in[2]) * c, g.pad_high[2] * c, 0.0f);
                 }
               });
  return out;
}

void ForEachWindowTap(const ConvGeometry& g,
                      absl::FunctionRef<void(int64_t, int64_t, int64_t)> fn) {
  for (int64_t cell = 0; cell < g.batch * g.out_positions(); ++cell) {
    const int64_t o[3] = {cell / (g.out[1] * g.out[2]) % g.out[0], cell / g.out[2] % g.out[1],
                          cell % g.out[2]};
    for (int64_t t = 0; t < g.taps(); ++t) {
      const int64_t k[3] = {t / (g.kernel[1] * g.kernel[2]), t / g.kernel[2] % g.kernel[1],
                            t % g.kernel[2]};
      int64_t in = cell / g.out_positions();  // b, then the spatial coordinates
      bool inside = true;
      for (int j = 0; j < 3; ++j) {
        const int64_t i = o[j] * g.stride[j] + k[j] * g.dilation[j] - g.pad_low[j];
        inside = inside && i >= 0 && i < g.in[j];
        in = in * g.in[j] + i;
      }
      if (inside) fn(cell, t, in);
    }
  }
}

void ForEachConvTerm(const ConvGeometry& g,
                     absl::FunctionRef<void(int64_t, int64_t, int64_t)> fn) {
  const int64_t cin_g = g.in_per_group(), cout_g = g.out_per_group();
  ForEachWindowTap(g, [&](int64_t out_cell, int64_t tap, int64_t in_cell) {
    for (int64_t f = 0; f < g.out_channels; ++f) {
      for (int64_t c = 0; c < cin_g; ++c) {
        fn(in_cell * g.in_channels + f / cout_g * cin_g + c,
           (tap * cin_g + c) * g.out_channels + f, out_cell * g.out_channels + f);
      }
    }
  });
}

std::vector<ConvTestConfig> ConvTestConfigs() {
  constexpr int64_t N = Shape::kBatch;
  return {
      {"2d", {2, 5, 6, 3}, {3, 3, 3, 4}, ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 1)},
      {"2d stride dilation asymmetric pads", {1, 7, 6, 2}, {2, 3, 2, 3},
       ConvAttrs({2, 1}, {1, 2}, {1, 0}, {0, 2}, 1)},
      {"1d strided", {2, 9, 3}, {3, 3, 5}, ConvAttrs({2}, {1}, {1}, {1}, 1)},
      {"1d dilated long kernel", {1, 20, 2}, {4, 2, 2}, ConvAttrs({1}, {3}, {2}, {3}, 1)},
      {"3d", {1, 4, 5, 3, 2}, {2, 2, 2, 2, 3},
       ConvAttrs({1, 2, 1}, {1, 1, 2}, {0, 1, 0}, {1, 0, 1}, 1)},
      {"groups 2", {2, 5, 5, 4}, {3, 3, 2, 6}, ConvAttrs({1, 1}, {1, 1}, {1, 1}, {1, 1}, 2)},
      {"groups 4 odd", {1, 3, 3, 36}, {1, 2, 9, 40}, ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 4)},
      {"depthwise strided", {2, 6, 6, 3}, {3, 3, 1, 3},
       ConvAttrs({2, 2}, {1, 1}, {1, 1}, {1, 1}, 3)},
      {"depthwise multiplier 2", {1, 5, 5, 3}, {3, 3, 1, 6},
       ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 3)},
      {"depthwise 19 channels", {1, 4, 4, 19}, {2, 2, 1, 19},
       ConvAttrs({1, 1}, {1, 1}, {0, 1}, {1, 0}, 19)},
      {"batch N", {N, 5, 5, 2}, {2, 2, 2, 3}, ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 1)},
      {"37 output channels", {1, 4, 6, 5}, {1, 2, 5, 37},
       ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 1)},
      {"20 input channels", {1, 4, 4, 20}, {2, 2, 20, 3},
       ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 1)},
      {"1x1 stride 3", {2, 7, 7, 3}, {1, 1, 3, 2}, ConvAttrs({3, 3}, {1, 1}, {0, 0}, {0, 0}, 1)},
  };
}

std::vector<ConvTestConfig> PoolTestConfigs() {
  constexpr int64_t N = Shape::kBatch;
  return {
      {"2d 2x2", {2, 6, 6, 3}, {}, PoolAttrs({2, 2}, {2, 2}, {0, 0}, {0, 0})},
      {"2d 3x3 stride 2 asymmetric pads", {1, 7, 5, 4}, {}, PoolAttrs({3, 3}, {2, 2}, {1, 1}, {1, 0})},
      {"overlapping windows", {1, 5, 5, 2}, {}, PoolAttrs({3, 2}, {1, 1}, {0, 0}, {0, 0})},
      {"1d same padding", {2, 5, 3}, {}, PoolAttrs({2}, {2}, {0}, {1})},
      {"1d wide pads", {1, 9, 5}, {}, PoolAttrs({4}, {1}, {3}, {3})},
      {"3d", {1, 4, 4, 3, 2}, {}, PoolAttrs({2, 2, 2}, {2, 1, 1}, {0, 1, 0}, {1, 0, 1})},
      {"70 channels", {1, 2, 4, 70}, {}, PoolAttrs({2, 2}, {2, 2}, {0, 0}, {0, 0})},
      {"batch N", {N, 4, 6, 3}, {}, PoolAttrs({2, 3}, {2, 3}, {0, 0}, {0, 0})},
      {"window 1", {1, 3, 3, 2}, {}, PoolAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0})},
  };
}

int64_t ConvFlops(const ConvGeometry& g) {
  return 2 * g.batch * g.out_positions() * g.out_channels * g.taps() * g.in_per_group();
}

}  // namespace kiln
