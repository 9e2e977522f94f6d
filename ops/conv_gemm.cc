#include "ops/conv_gemm.h"

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace kiln {
namespace {

// Fewer output columns per group than this waste most of a GEMM tile.
constexpr int64_t kMinColumnsPerGroup = 4;

// Windows over an image [B, in..., Cin] as the forward convolution reads
// it (also the filter gradient's).
GemmWindows ForwardWindows(const ConvGeometry& g) {
  GemmWindows w;
  w.images = g.batch;
  w.image_stride = g.in_positions() * g.in_channels;
  w.channels = g.in_per_group();
  int64_t row = g.in_channels;
  for (int e = 2; e >= 0; --e) {
    w.windows[e] = g.out[e];
    w.taps[e] = g.kernel[e];
    w.window_step[e] = g.stride[e];
    w.tap_step[e] = g.dilation[e];
    w.offset[e] = -g.pad_low[e];
    w.extent[e] = g.in[e];
    w.row_stride[e] = row;
    row *= g.in[e];
  }
  return w;
}

// Windows over the output gradient [B, out..., Cout], one per input cell:
// dx[n, i, c] = sum_{t, f} dy[n, (i + pad - t * d) / s, f] * w[t, c, f]
// over the cells where the division is exact and lands in the output.
GemmWindows InputGradWindows(const ConvGeometry& g) {
  GemmWindows w;
  w.images = g.batch;
  w.image_stride = g.out_positions() * g.out_channels;
  w.channels = g.out_per_group();
  int64_t row = g.out_channels;
  for (int e = 2; e >= 0; --e) {
    w.windows[e] = g.in[e];
    w.taps[e] = g.kernel[e];
    w.window_step[e] = 1;
    w.tap_step[e] = -g.dilation[e];
    w.offset[e] = g.pad_low[e];
    w.divisor[e] = g.stride[e];
    w.extent[e] = g.out[e];
    w.row_stride[e] = row;
    row *= g.out[e];
  }
  return w;
}

// [B, spatial...] for the op's own rank (the geometry pads to 3 dims).
std::vector<int64_t> BatchAndSpatial(const ConvGeometry& g, const ConvGeometry::Dims& dims) {
  std::vector<int64_t> out = {g.batch};
  for (int e = 3 - g.rank; e < 3; ++e) out.push_back(dims[e]);
  return out;
}

absl::Status CheckColumns(int64_t columns, const ConvGeometry& g) {
  if (columns >= kMinColumnsPerGroup || g.groups == 1) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat(
      columns, " column(s) per group (", g.groups, " groups) is too narrow for a GEMM tile"));
}

void AddGroups(const ConvGeometry& g, int64_t a_stride, int64_t b_stride, int64_t c_stride,
               GemmProblem& p) {
  if (g.groups > 1) {
    p.batch.push_back({.size = g.groups, .a_stride = a_stride, .b_stride = b_stride,
                       .c_stride = c_stride});
  }
}

}  // namespace

absl::StatusOr<GemmProblem> ConvForwardGemm(const ConvGeometry& g) {
  KILN_RETURN_IF_ERROR(CheckColumns(g.out_per_group(), g));
  GemmProblem p{.m = g.batch * g.out_positions(), .n = g.out_per_group(),
                .k = g.taps() * g.in_per_group(), .ldb = g.out_channels,
                .ldc = g.out_channels};
  p.a_windows = ForwardWindows(g);
  p.m_dims = BatchAndSpatial(g, g.out);
  AddGroups(g, g.in_per_group(), g.out_per_group(), g.out_per_group(), p);
  return p;
}

absl::StatusOr<GemmProblem> ConvInputGradGemm(const ConvGeometry& g) {
  KILN_RETURN_IF_ERROR(CheckColumns(g.in_per_group(), g));
  const GemmWindows w = InputGradWindows(g);
  // B[(t, f)][c] = w[t, c, f]: depth runs of Cout/groups, one per tap.
  GemmProblem p{.m = g.batch * g.in_positions(), .n = g.in_per_group(),
                .k = g.taps() * g.out_per_group(), .ldb = g.out_channels,
                .ldc = g.in_channels, .b_transposed = true};
  p.a_windows = w;
  p.m_dims = BatchAndSpatial(g, g.in);
  p.b_depth_run = g.out_per_group();
  p.b_depth_run_stride = g.in_per_group() * g.out_channels;
  AddGroups(g, g.out_per_group(), g.out_per_group(), g.in_per_group(), p);
  return p;
}

absl::StatusOr<GemmProblem> ConvFilterGradGemm(const ConvGeometry& g) {
  KILN_RETURN_IF_ERROR(CheckColumns(g.out_per_group(), g));
  GemmProblem p{.m = g.taps() * g.in_per_group(), .n = g.out_per_group(),
                .k = g.batch * g.out_positions(), .ldb = g.out_channels,
                .ldc = g.out_channels};
  p.a_windows = ForwardWindows(g);
  p.a_windows->windows_along_depth = true;
  for (int e = 3 - g.rank; e < 3; ++e) p.m_dims.push_back(g.kernel[e]);
  p.m_dims.push_back(g.in_per_group());
  AddGroups(g, g.in_per_group(), g.out_per_group(), g.out_per_group(), p);
  return p;
}

absl::StatusOr<WindowReduction> DepthwiseForwardWindows(const ConvGeometry& g) {
  if (g.in_per_group() != 1 || g.groups != g.in_channels || g.groups == 1) {
    // One input channel and no groups (a first layer) is a plain GEMM.
    return absl::UnimplementedError("not depthwise (one input channel per group, groups > 1)");
  }
  WindowReduction r{.combine = WindowReduction::Combine::kSumOfProducts,
                    .windows = ForwardWindows(g), .multiplier = g.out_per_group()};
  r.windows.channels = g.out_channels;
  return r;
}

absl::StatusOr<WindowReduction> DepthwiseInputGradWindows(const ConvGeometry& g) {
  if (g.in_per_group() != 1 || g.groups != g.in_channels || g.groups == 1) {
    // One input channel and no groups (a first layer) is a plain GEMM.
    return absl::UnimplementedError("not depthwise (one input channel per group, groups > 1)");
  }
  // Each input channel gathers its out_per_group() output channels.
  WindowReduction r{.combine = WindowReduction::Combine::kSumOfProducts,
                    .windows = InputGradWindows(g), .fan = g.out_per_group()};
  r.windows.channels = g.in_channels;
  return r;
}

absl::StatusOr<WindowReduction> DepthwiseFilterGradWindows(const ConvGeometry& g) {
  KILN_ASSIGN_OR_RETURN(WindowReduction r, DepthwiseForwardWindows(g));
  r.combine = WindowReduction::Combine::kSumOverWindows;
  return r;
}

absl::StatusOr<WindowReduction> MaxPoolWindows(const ConvGeometry& g) {
  WindowReduction r{.combine = WindowReduction::Combine::kMax, .windows = ForwardWindows(g)};
  r.windows.channels = g.in_channels;
  return r;
}

absl::StatusOr<WindowReduction> MaxPoolGradWindows(const ConvGeometry& g) {
  // Each input cell gathers the gradient of the pooled windows (output
  // cells) it is the first maximum of.
  WindowReduction r{.combine = WindowReduction::Combine::kFirstMaxRouting,
                    .windows = InputGradWindows(g), .pooled = ForwardWindows(g)};
  r.windows.channels = g.out_channels;
  r.pooled.channels = g.in_channels;
  return r;
}

}  // namespace kiln
