// The unshared ("locally connected") convolutions behind LocallyConnected1D
// and LocallyConnected2D (spec 2.16), one function per tf.keras
// implementation, built from slices, pads, concats, transposes and batched
// matmuls. A 1-D layer is the 2-D case with a unit height (in_h = k_h =
// out_h = 1), which leaves every flat weight layout unchanged.
//
//   LocalGeometry g = *LocalGeometryOf(/*in=*/{1, 10}, /*k=*/{1, 3}, /*s=*/{1, 1},
//                                      Padding::kValid, DataFormat::kChannelsLast, 4, 8);
//   Tensor y = LocalConvImpl1(x_nhwc, kernel /* (8, 12, 8) */, g);   // [B, 1, 8, 8]
#ifndef KILN_LAYERS_LOCAL_CONV_H_
#define KILN_LAYERS_LOCAL_CONV_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "graph/buffer.h"
#include "graph/tensor.h"
#include "layers/conv_utils.h"

namespace kiln {

// Two spatial axes (0 = rows, 1 = columns).
struct LocalGeometry {
  std::array<int64_t, 2> in{}, kernel{}, strides{}, out{};
  int64_t channels = 0, filters = 0;
  Padding padding = Padding::kValid;
  DataFormat format = DataFormat::kChannelsLast;

  int64_t positions() const { return out[0] * out[1]; }
  int64_t taps() const { return kernel[0] * kernel[1]; }
  // The input cells [begin, end) output `o` reads on `axis` (tf.keras's
  // conv_connected_inputs: for same, centred with the odd cell on the left).
  int64_t WindowBegin(int axis, int64_t o) const;
  int64_t WindowEnd(int axis, int64_t o) const;
  // The window's cells cut off by the input's ends.
  int64_t ClipLow(int axis, int64_t o) const;
  int64_t ClipHigh(int axis, int64_t o) const;
  // How many (output, input) scalar connections there are: the length of
  // the implementation-3 kernel.
  int64_t Connections() const;
};

// Output lengths by spec 1.4 (d = 1); an error for a length <= 0, a padding
// other than valid/same, or a zero stride.
absl::StatusOr<LocalGeometry> LocalGeometryOf(std::array<int64_t, 2> in,
                                              std::array<int64_t, 2> kernel,
                                              std::array<int64_t, 2> strides, Padding padding,
                                              DataFormat format, int64_t channels, int64_t filters);

// Implementation 1 (valid only): x channels-last [B, in_h, in_w, C]; kernel
// (P, k_h * k_w * C, F) with feature index (u * k_w + v) * C + c for
// channels_last and (c * k_h + u) * k_w + v for channels_first.
// -> [B, out_h, out_w, F] (channels-last).
Tensor LocalConvImpl1(const Tensor& x, const Tensor& kernel, const LocalGeometry& g);

// Implementation 2: x in the layer's data format (any rank, batch first),
// kernel in Keras's impl-2 layout (input dims, then output dims), times the
// fixed 0/1 connectivity `mask` (same shape); -> [B, prod(out dims)] in the
// data format's row-major output order.
Tensor LocalConvImpl2(const Tensor& x, const Tensor& kernel, const Buffer& mask);
// The connectivity of implementation 2 with Keras's kernel shape `shape`.
Buffer LocalConnectivityMask(const LocalGeometry& g, const Shape& shape);

// Implementation 3: kernel (Connections(),), the non-zeros of the
// (out_flat, in_flat) matrix in sorted order; x channels-last
// [B, in_h, in_w, C]. -> [B, out_h, out_w, F] (channels-last).
Tensor LocalConvImpl3(const Tensor& x, const Tensor& kernel, const LocalGeometry& g);

}  // namespace kiln

#endif  // KILN_LAYERS_LOCAL_CONV_H_
