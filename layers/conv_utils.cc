#include "layers/conv_utils.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {

std::string TupleString(const IntList& values) {
  if (values.size() == 1) return absl::StrCat("(", values[0], ",)");
  return absl::StrCat("(", absl::StrJoin(values, ", "), ")");
}

absl::StatusOr<IntList> NormalizeTuple(const IntList& value, int n, absl::string_view name,
                                       bool allow_zero) {
  std::string message =
      absl::StrCat("The `", name, "` argument must be a tuple of ", n, " integers. Received: ");
  IntList tuple;
  if (value.size() == 1) {
    tuple.assign(n, value[0]);
    absl::StrAppend(&message, value[0]);
  } else {
    absl::StrAppend(&message, TupleString(value));
    if (static_cast<int>(value.size()) != n) return absl::InvalidArgumentError(message);
    tuple = value;
  }
  std::set<int64_t> bad;
  for (int64_t v : tuple) {
    if (allow_zero ? v < 0 : v <= 0) bad.insert(v);
  }
  if (!bad.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        message, " including {", absl::StrJoin(bad, ", "),
        "} that does not satisfy the requirement `", allow_zero ? ">= 0" : "> 0", "`."));
  }
  return tuple;
}

absl::StatusOr<Padding> NormalizePadding(absl::string_view padding) {
  const std::string p = absl::AsciiStrToLower(padding);
  if (p == "valid") return Padding::kValid;
  if (p == "same") return Padding::kSame;
  if (p == "causal") return Padding::kCausal;
  return absl::InvalidArgumentError(absl::StrCat(
      "The `padding` argument must be one of \"valid\", \"same\" (or \"causal\", only for "
      "`Conv1D`). Received: ",
      padding));
}

absl::StatusOr<DataFormat> NormalizeDataFormat(absl::string_view data_format) {
  const std::string f = absl::AsciiStrToLower(data_format);
  if (f.empty() || f == "channels_last") return DataFormat::kChannelsLast;
  if (f == "channels_first") return DataFormat::kChannelsFirst;
  return absl::InvalidArgumentError(absl::StrCat(
      "The `data_format` argument must be one of \"channels_first\", \"channels_last\". "
      "Received: ",
      data_format));
}

std::string PaddingName(Padding padding) {
  switch (padding) {
    case Padding::kValid:
      return "valid";
    case Padding::kSame:
      return "same";
    case Padding::kCausal:
      return "causal";
  }
  return "?";
}

std::string DataFormatName(DataFormat format) {
  return format == DataFormat::kChannelsFirst ? "channels_first" : "channels_last";
}

absl::StatusOr<KerasConvArgs> NormalizeConvArgs(int rank, const IntList& kernel_size,
                                                const IntList& strides, absl::string_view padding,
                                                absl::string_view data_format,
                                                const IntList& dilation_rate) {
  KerasConvArgs a;
  KILN_ASSIGN_OR_RETURN(a.kernel_size, NormalizeTuple(kernel_size, rank, "kernel_size", false));
  KILN_ASSIGN_OR_RETURN(a.strides, NormalizeTuple(strides, rank, "strides", true));
  KILN_ASSIGN_OR_RETURN(a.padding, NormalizePadding(padding));
  KILN_ASSIGN_OR_RETURN(a.data_format, NormalizeDataFormat(data_format));
  KILN_ASSIGN_OR_RETURN(a.dilation_rate,
                        NormalizeTuple(dilation_rate, rank, "dilation_rate", false));
  return a;
}

absl::Status CheckFilters(int64_t filters) {
  if (filters > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid value for argument `filters`. Expected a strictly positive value. Received "
      "filters=",
      filters, "."));
}

absl::Status CheckConvStridesAndPadding(const IntList& strides, const IntList& dilation_rate,
                                        Padding padding, bool causal_allowed) {
  if (std::find(strides.begin(), strides.end(), 0) != strides.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The argument `strides` cannot contains 0(s). Received: ", TupleString(strides)));
  }
  if (padding == Padding::kCausal && !causal_allowed) {
    return absl::InvalidArgumentError(
        "Causal padding is only supported for `Conv1D` and `SeparableConv1D`.");
  }
  if (*std::max_element(strides.begin(), strides.end()) > 1 &&
      *std::max_element(dilation_rate.begin(), dilation_rate.end()) > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
        "strides=",
        TupleString(strides), " and dilation_rate=", TupleString(dilation_rate)));
  }
  return absl::OkStatus();
}

int64_t EffectiveKernel(int64_t k, int64_t d) { return (k - 1) * d + 1; }

namespace {

// Python's floor division (the output-length rule divides negatives too).
int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

int64_t ConvOutputLength(int64_t n, int64_t k, Padding padding, int64_t s, int64_t d) {
  const int64_t length = padding == Padding::kValid ? n - EffectiveKernel(k, d) + 1 : n;
  return FloorDiv(length + s - 1, s);
}

AxisPads PadsFor(int64_t n, int64_t k, Padding padding, int64_t s, int64_t d) {
  const int64_t k_eff = EffectiveKernel(k, d);
  switch (padding) {
    case Padding::kValid:
      return {};
    case Padding::kCausal:
      return {k_eff - 1, 0};
    case Padding::kSame: {
      const int64_t out = ConvOutputLength(n, k, padding, s, d);
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + k_eff - n);
      return {total / 2, total - total / 2};
    }
  }
  return {};
}

absl::Status CheckInputRank(const Shape& shape, int ndim, bool at_least) {
  if (at_least ? shape.rank() >= ndim : shape.rank() == ndim) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("expected ", at_least ? "min_ndim=" : "ndim=", ndim,
                   ", found ndim=", shape.rank(), ". Full shape received: ", shape.ToString()));
}

absl::Status CheckOutputLengths(const IntList& lengths, absl::string_view layer,
                                const Shape& input_shape) {
  for (int64_t l : lengths) {
    if (l <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "One of the dimensions in the output is <= 0 due to downsampling in ", layer,
          ". Consider increasing the input size. Received input shape ", input_shape.ToString(),
          " which would produce output shape with a zero or negative value in a dimension."));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> CheckChannelAxis(const Shape& in, int axis, int64_t want_channels) {
  const int64_t channels = in.dim(axis);
  if (channels == Shape::kBatch) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The channel dimension of the inputs should be defined. The input_shape received is ",
        in.ToString(), ", where axis ", axis,
        " (0-based) is the channel dimension, which found to be `None`."));
  }
  if (want_channels >= 0 && channels != want_channels) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected axis ", axis - in.rank(), " of input shape to have value ",
                     want_channels, ", but received input with shape ", in.ToString()));
  }
  return channels;
}

int ChannelAxis(DataFormat format, int rank, int spatial_rank) {
  return format == DataFormat::kChannelsLast ? rank - 1 : rank - 1 - spatial_rank;
}

Tensor ToChannelsLast(const Tensor& x, int spatial_rank) {
  const int rank = x.rank();
  const int channel = rank - 1 - spatial_rank;
  IntList perm;
  for (int i = 0; i < rank; ++i) {
    if (i != channel) perm.push_back(i);
  }
  perm.push_back(channel);
  return Transpose(x, perm);
}

Tensor FromChannelsLast(const Tensor& y, int spatial_rank) {
  const int rank = y.rank();
  const int channel = rank - 1 - spatial_rank;
  IntList perm;
  for (int i = 0; i < rank; ++i) {
    if (i == channel) perm.push_back(rank - 1);
    if (i < rank - 1) perm.push_back(i);
  }
  return Transpose(y, perm);
}

namespace {

// Kernel, stride, dilation and pads for every spatial axis of kiln's op:
// extra batch axes first (kernel 1, no padding), then the layer's axes.
struct OpGeometry {
  IntList kernel, strides, dilations, pad_low, pad_high;
};

absl::StatusOr<OpGeometry> GeometryOf(const Shape& x, const IntList& kernel, const IntList& strides,
                                      const IntList& dilations, Padding padding) {
  const int spatial = static_cast<int>(kernel.size());
  const int extra = x.rank() - spatial - 2;
  if (extra < 0) return CheckInputRank(x, spatial + 2, true);
  if (extra + spatial > 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("kiln supports at most ", 3 - spatial, " extra batch axes here (",
                     3 - spatial + 1, " with the batch); got input shape ", x.ToString()));
  }
  OpGeometry g;
  for (int i = 0; i < extra; ++i) {
    for (IntList* l : {&g.kernel, &g.strides, &g.dilations}) l->push_back(1);
    g.pad_low.push_back(0);
    g.pad_high.push_back(0);
  }
  for (int i = 0; i < spatial; ++i) {
    const AxisPads pads =
        PadsFor(x.dim(extra + 1 + i), kernel[i], padding, strides[i], dilations[i]);
    g.kernel.push_back(kernel[i]);
    g.strides.push_back(strides[i]);
    g.dilations.push_back(dilations[i]);
    g.pad_low.push_back(pads.low);
    g.pad_high.push_back(pads.high);
  }
  return g;
}

}  // namespace

absl::StatusOr<Tensor> KerasConv(const Tensor& x, const Tensor& filter, const IntList& strides,
                                 const IntList& dilation_rate, Padding padding, int64_t groups) {
  const int spatial = filter.rank() - 2;
  IntList kernel(filter.shape().dims().begin(), filter.shape().dims().end() - 2);
  absl::StatusOr<OpGeometry> g = GeometryOf(x.shape(), kernel, strides, dilation_rate, padding);
  if (!g.ok()) return g.status();
  Tensor f = filter;
  if (static_cast<int>(g->kernel.size()) != spatial) {
    std::vector<int64_t> dims(g->kernel.size() - spatial, 1);
    dims.insert(dims.end(), filter.shape().dims().begin(), filter.shape().dims().end());
    f = Reshape(filter, Shape(std::move(dims)));
  }
  return Conv(x, f, g->strides, g->dilations, g->pad_low, g->pad_high, groups);
}

absl::StatusOr<Tensor> KerasMaxPool(const Tensor& x, const IntList& pool_size,
                                    const IntList& strides, Padding padding) {
  IntList dilations(pool_size.size(), 1);
  absl::StatusOr<OpGeometry> g = GeometryOf(x.shape(), pool_size, strides, dilations, padding);
  if (!g.ok()) return g.status();
  return MaxPool(x, g->kernel, g->strides, g->pad_low, g->pad_high);
}

}  // namespace kiln
