// Geometry shared by the convolution and pooling ops (conv, conv_input_grad,
// conv_filter_grad, max_pool, max_pool_grad): attribute parsing and
// validation, the output-size rule and the index math.
//
// Layouts are channels-last: x [B, spatial..., Cin], filter
// [k..., Cin/groups, Cout], out [B, out_spatial..., Cout], with 1, 2 or 3
// spatial dims. A geometry normalizes them to 3 spatial dims by prepending
// unit dims (kernel 1, stride 1, no padding), so kernels loop over 3 dims:
//
//   Shape x{8, 28, 28, 32}, w{5, 5, 32, 64};
//   Attrs a = ConvAttrs({1, 1}, {1, 1}, {2, 2}, {2, 2}, 1);
//   ConvGeometry g = *ConvGeometryOf(x, w, a);
//   g.OutputShape() == Shape{8, 28, 28, 64};  g.in == {1, 28, 28}
//
// Output length per spatial dim: floor((n + pad_low + pad_high -
// ((k - 1) * d + 1)) / s) + 1, which must be >= 1.
#ifndef KILN_OPS_CONV_GEOMETRY_H_
#define KILN_OPS_CONV_GEOMETRY_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/attrs.h"
#include "graph/op_def.h"
#include "graph/shape.h"

namespace kiln {

struct ConvGeometry {
  using Dims = std::array<int64_t, 3>;
  int rank = 0;        // spatial dims of the op: 1, 2 or 3
  int64_t batch = 0;   // Shape::kBatch inside shape rules
  Dims in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1};
  Dims stride{1, 1, 1}, dilation{1, 1, 1}, pad_low{0, 0, 0}, pad_high{0, 0, 0};
  int64_t in_channels = 0, out_channels = 0, groups = 1;

  int64_t in_per_group() const { return in_channels / groups; }
  int64_t out_per_group() const { return out_channels / groups; }
  int64_t taps() const { return kernel[0] * kernel[1] * kernel[2]; }
  int64_t in_positions() const { return in[0] * in[1] * in[2]; }
  int64_t out_positions() const { return out[0] * out[1] * out[2]; }
  // One input and one output channel per group.
  bool depthwise() const { return in_per_group() == 1 && out_per_group() == 1; }
  // The input padded on both sides (what the windows slide over).
  Dims padded() const;

  Shape InputShape() const;   // [B, in..., Cin]
  Shape OutputShape() const;  // [B, out..., Cout]
  Shape FilterShape() const;  // [k..., Cin/groups, Cout]
};

// Flops of the convolution (2 per multiply-add), which each of its two
// gradients does as well: the profiler's count for the three ops.
int64_t ConvFlops(const ConvGeometry& g);

// Geometry of a convolution of `x` with `filter` under the attributes
// strides, dilations, pad_low, pad_high (IntList, one entry per spatial dim)
// and groups (int64). Errors say what was expected and what was got.
absl::StatusOr<ConvGeometry> ConvGeometryOf(const Shape& x, const Shape& filter,
                                            const Attrs& attrs);

// Geometry of a max pool of `x` under window, strides, pad_low, pad_high:
// channels pool independently (groups = in_channels = out_channels), and
// every window must hold at least one real cell (pads < window).
absl::StatusOr<ConvGeometry> PoolGeometryOf(const Shape& x, const Attrs& attrs);

// The attributes of a convolution, for builders and gradient rules.
Attrs ConvAttrs(const IntList& strides, const IntList& dilations,
                const IntList& pad_low, const IntList& pad_high, int64_t groups);
Attrs PoolAttrs(const IntList& window, const IntList& strides,
                const IntList& pad_low, const IntList& pad_high);
// The attributes back as builder arguments (for gradient rules; attributes
// that are missing or of the wrong type read as empty, which the shape
// rules reject).
struct ConvParams {
  IntList strides, dilations, pad_low, pad_high;
  int64_t groups = 1;
};
ConvParams ConvParamsOf(const Attrs& attrs);
struct PoolParams {
  IntList window, strides, pad_low, pad_high;
};
PoolParams PoolParamsOf(const Attrs& attrs);

// "expected <what> of shape <want>, got <got>" unless they are equal.
absl::Status CheckShapeMatches(absl::string_view what, const Shape& got,
                               const Shape& want);
// "expected f32 inputs" unless every input is f32.
absl::Status CheckAllF32(absl::Span<const TensorType> inputs);

// Offsets, in elements of a [B, padded..., C] tensor (C = `channels`), of
// each tap of the window relative to the window's first cell, in window
// order (row-major over the kernel dims).
std::vector<int64_t> TapOffsets(const ConvGeometry& g, int64_t channels);

// The cells of output cell (b, o[0], o[1], o[2])'s window that lie inside
// the input (not in the padding), in window order: writes their element
// offsets in [B, in..., Cin] to `offsets` (room for g.taps()); returns how
// many.
int64_t WindowCells(const ConvGeometry& g, int64_t b, const int64_t o[3], int64_t* offsets);

// How conv_input_grad's interpreter kernel runs: tiles of the filter packed
// as [taps][Cout/groups][Cin], depthwise cells, or (few input channels per
// group) dot products over the filter as it is.
enum class InputGradKind { kTiles, kDepthwise, kDots };
InputGradKind InputGradLayout(const ConvGeometry& g);

// The work blocks of max_pool_grad's kernel: (b, kMaxPoolGradChannels
// channels).
inline constexpr int64_t kMaxPoolGradChannels = 64;

// x [B, in..., Cin] zero-padded to [B, padded..., Cin]: x itself when there
// is no padding, else a copy held in `storage`, written row by row over
// `parallel`.
const float* PaddedInput(const ConvGeometry& g, const float* x, const Parallelism& parallel,
                         std::unique_ptr<float[]>& storage);

// For the scalar references: calls fn(out_cell, tap, in_cell) for every
// output cell (b, o) in order and every tap of its window, in window order,
// that lands inside the input (cells are indices of [B, out...] and
// [B, in...], without channels).
void ForEachWindowTap(const ConvGeometry& g,
                      absl::FunctionRef<void(int64_t, int64_t, int64_t)> fn);
// For the scalar references: calls fn(x_index, filter_index, out_index) for
// every product x * filter that contributes to an output element.
void ForEachConvTerm(const ConvGeometry& g,
                     absl::FunctionRef<void(int64_t, int64_t, int64_t)> fn);

// The convolutions the conformance cases of conv, conv_input_grad and
// conv_filter_grad share: 1-, 2- and 3-D, odd sizes and channel tails,
// strides, dilations, asymmetric pads, groups, depthwise, batch 1 and N.
struct ConvTestConfig {
  std::string label;
  Shape x, filter;
  Attrs attrs;
};
std::vector<ConvTestConfig> ConvTestConfigs();
// A test input of `shape` with values in [-1, 1]: long sums of products stay
// small, so f32 finite differences stay accurate.
inline TestInput ConvTestInput(Shape shape) { return {{DType::kF32, std::move(shape)}, -1, 1}; }
// The same for max_pool and max_pool_grad (no filter).
std::vector<ConvTestConfig> PoolTestConfigs();
// A pooled test input: distinct values, so no window has a near-tie that a
// finite-difference step could flip.
inline TestInput PoolTestInput(Shape shape) {
  TestInput in{{DType::kF32, std::move(shape)}};
  in.distinct = true;
  return in;
}

}  // namespace kiln

#endif  // KILN_OPS_CONV_GEOMETRY_H_
