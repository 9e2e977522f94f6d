// What the convolution, pooling and locally-connected layers share (spec
// 1.2-1.6): Keras's argument normalisation (normalize_tuple, the padding and
// data_format strings), the constructor checks of Conv/Depthwise/Separable,
// the output-length rule, where 'same' and 'causal' put their zeros, and the
// channels-first <-> channels-last moves around kiln's channels-last conv
// and pool ops.
//
//   KILN_ASSIGN_OR_RETURN(IntList k, NormalizeTuple({3}, 2, "kernel_size", false));  // (3, 3)
//   KILN_ASSIGN_OR_RETURN(Padding p, NormalizePadding("SAME"));            // kSame
//   ConvOutputLength(5, 2, Padding::kSame, 2, 1) == 3;
//   PadsFor(5, 2, Padding::kSame, 2, 1) == AxisPads{0, 1};  // odd cell after
//   Tensor y = FromChannelsLast(MaxPool(ToChannelsLast(x, 2), ...), 2);
#ifndef KILN_LAYERS_CONV_UTILS_H_
#define KILN_LAYERS_CONV_UTILS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/attrs.h"
#include "graph/shape.h"
#include "graph/tensor.h"

namespace kiln {

enum class Padding { kValid, kSame, kCausal };
enum class DataFormat { kChannelsLast, kChannelsFirst };

// Keras normalize_tuple: a one-element list stands for an int and is
// repeated n times; otherwise exactly n entries. Every entry must be > 0
// (>= 0 with allow_zero). Errors read like Keras's:
// "The `strides` argument must be a tuple of 2 integers. Received: (2, -1)
// including {-1} that does not satisfy the requirement `>= 0`."
absl::StatusOr<IntList> NormalizeTuple(const IntList& value, int n, absl::string_view name,
                                       bool allow_zero);
// Lower-cased; one of valid, same, causal.
absl::StatusOr<Padding> NormalizePadding(absl::string_view padding);
// Lower-cased; "" (Keras None) is the global default, channels_last.
absl::StatusOr<DataFormat> NormalizeDataFormat(absl::string_view data_format);
std::string PaddingName(Padding padding);
std::string DataFormatName(DataFormat format);
// "(3, 3)", as Python prints a tuple.
std::string TupleString(const IntList& values);

// The normalised geometry arguments of a conv-family layer with `rank`
// spatial axes, normalised in Keras's order (kernel_size, strides, padding,
// data_format, dilation_rate); the first error is returned.
struct KerasConvArgs {
  IntList kernel_size, strides, dilation_rate;
  Padding padding = Padding::kValid;
  DataFormat data_format = DataFormat::kChannelsLast;
};
absl::StatusOr<KerasConvArgs> NormalizeConvArgs(int rank, const IntList& kernel_size,
                                                const IntList& strides, absl::string_view padding,
                                                absl::string_view data_format,
                                                const IntList& dilation_rate);

// Conv's and SeparableConv's check of `filters` (> 0), with Keras's message.
absl::Status CheckFilters(int64_t filters);

// The constructor checks of Conv, DepthwiseConv and SeparableConv after
// normalisation (spec 1.6): zero strides, causal padding where only
// Conv1D/SeparableConv1D take it, strides > 1 together with dilation > 1.
absl::Status CheckConvStridesAndPadding(const IntList& strides, const IntList& dilation_rate,
                                        Padding padding, bool causal_allowed);

// (k - 1) * d + 1.
int64_t EffectiveKernel(int64_t k, int64_t d);
// Spec 1.4: valid ceil((n - k_eff + 1) / s), same/causal ceil(n / s) (as
// Keras's (L + s - 1) // s, so it may be <= 0 for a too short input).
int64_t ConvOutputLength(int64_t n, int64_t k, Padding padding, int64_t s, int64_t d);

// Zeros before and after one spatial axis (spec 1.5): none for valid; for
// same pad_total = max(0, (out - 1) * s + k_eff - n) with the odd cell
// after; for causal d * (k - 1) before.
struct AxisPads {
  int64_t low = 0;
  int64_t high = 0;
  friend bool operator==(const AxisPads& a, const AxisPads& b) {
    return a.low == b.low && a.high == b.high;
  }
};
AxisPads PadsFor(int64_t n, int64_t k, Padding padding, int64_t s, int64_t d);

// Keras's InputSpec message: "expected ndim=4, found ndim=3. Full shape
// received: [N,28,28]" (min_ndim= when `at_least`).
absl::Status CheckInputRank(const Shape& shape, int ndim, bool at_least);
// "One of the dimensions in the output is <= 0 due to downsampling in
// <layer>. ..." (Keras's message) when any length is <= 0.
absl::Status CheckOutputLengths(const IntList& lengths, absl::string_view layer,
                                const Shape& input_shape);

// The size of `in`'s channel axis `axis`, which must be known (Keras's
// "The channel dimension of the inputs should be defined. ..." otherwise)
// and, when `want_channels` >= 0, equal to it (Keras's InputSpec message
// "expected axis -1 of input shape to have value 3, but received input with
// shape [N,8,8,4]").
absl::StatusOr<int64_t> CheckChannelAxis(const Shape& in, int axis, int64_t want_channels);

// The channel axis of an input of `rank` with `spatial_rank` spatial axes
// last (channels_first: just before them; channels_last: the last axis).
int ChannelAxis(DataFormat format, int rank, int spatial_rank);
// Moves the channel axis of a channels_first tensor (just before its last
// `spatial_rank` axes) to the end, and back.
Tensor ToChannelsLast(const Tensor& x, int spatial_rank);
Tensor FromChannelsLast(const Tensor& y, int spatial_rank);

// A channels-last convolution of x [batch..., spatial..., C] (leading axes
// beyond the first are extra batch axes, given kernel 1 in kiln's 3-D-max
// conv op) with filter [k..., C/groups, F] under Keras padding.
absl::StatusOr<Tensor> KerasConv(const Tensor& x, const Tensor& filter, const IntList& strides,
                                 const IntList& dilation_rate, Padding padding, int64_t groups);
// A channels-last max pool of x [B, spatial..., C] under Keras padding
// (padded cells never win).
absl::StatusOr<Tensor> KerasMaxPool(const Tensor& x, const IntList& pool_size,
                                    const IntList& strides, Padding padding);

}  // namespace kiln

#endif  // KILN_LAYERS_CONV_UTILS_H_
