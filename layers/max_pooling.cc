#include "layers/max_pooling.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/conv_config.h"
#include "layers/layer_registry.h"
#include "ops/ops.h"

namespace kiln {

MaxPooling::MaxPooling(absl::string_view class_name, int rank, const IntList& pool_size,
                       MaxPoolingOptions options)
    : Layer(class_name, options.name), rank_(rank) {
  absl::Status status = [&]() -> absl::Status {
    KILN_ASSIGN_OR_RETURN(pool_size_, NormalizeTuple(pool_size, rank, "pool_size", false));
    KILN_ASSIGN_OR_RETURN(strides_, NormalizeTuple(options.strides.value_or(pool_size), rank,
                                                   "strides", /*allow_zero=*/true));
    KILN_ASSIGN_OR_RETURN(padding_, NormalizePadding(options.padding));
    KILN_ASSIGN_OR_RETURN(data_format_, NormalizeDataFormat(options.data_format));
    // tf.keras lets both through to the op, which then fails; kiln says so
    // up front (the spec recommends it for causal).
    if (std::find(strides_.begin(), strides_.end(), 0) != strides_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "The argument `strides` cannot contain 0(s). Received: ", TupleString(strides_)));
    }
    if (padding_ == Padding::kCausal) {
      return absl::InvalidArgumentError(absl::StrCat("Invalid padding 'causal' for ", class_name,
                                                     ": expected \"valid\" or \"same\""));
    }
    return absl::OkStatus();
  }();
  ConfigError(status);
}

absl::StatusOr<Tensor> MaxPooling::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  Tensor x = inputs[0];
  const Shape& in = x.shape();
  KILN_RETURN_IF_ERROR(CheckInputRank(in, rank_ + 2, /*at_least=*/false));
  const int first = data_format_ == DataFormat::kChannelsLast ? 1 : 2;
  IntList lengths;
  for (int i = 0; i < rank_; ++i) {
    lengths.push_back(ConvOutputLength(in.dim(first + i), pool_size_[i], padding_, strides_[i], 1));
  }
  KILN_RETURN_IF_ERROR(CheckOutputLengths(lengths, name(), in));
  if (x.dtype() != DType::kF32) x = Cast(x, DType::kF32);
  const bool channels_first = data_format_ == DataFormat::kChannelsFirst;
  if (channels_first) x = ToChannelsLast(x, rank_);
  KILN_ASSIGN_OR_RETURN(Tensor y, KerasMaxPool(x, pool_size_, strides_, padding_));
  return channels_first ? FromChannelsLast(y, rank_) : y;
}

namespace {

absl::StatusOr<std::shared_ptr<Layer>> MaxPoolingFromConfig(absl::string_view class_name, int rank,
                                                            const nlohmann::json& config) {
  ConvConfigReader r(class_name, config);
  MaxPoolingOptions o;
  KILN_ASSIGN_OR_RETURN(o.name, r.Name());
  KILN_ASSIGN_OR_RETURN(IntList pool_size, r.Tuple("pool_size", rank, IntList{2}));
  KILN_ASSIGN_OR_RETURN(o.strides, r.OptionalTuple("strides", rank));
  KILN_ASSIGN_OR_RETURN(o.padding, r.String("padding", "valid"));
  KILN_ASSIGN_OR_RETURN(o.data_format, r.String("data_format", ""));
  KILN_RETURN_IF_ERROR(r.Finish());
  std::shared_ptr<Layer> layer;
  if (rank == 1) {
    layer = std::make_shared<MaxPooling1D>(pool_size, std::move(o));
  } else {
    layer = std::make_shared<MaxPooling2D>(pool_size, std::move(o));
  }
  KILN_RETURN_IF_ERROR(layer->config_status());
  return layer;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Layer>> MaxPooling1DFromConfig(const nlohmann::json& config) {
  return MaxPoolingFromConfig("MaxPooling1D", 1, config);
}

absl::StatusOr<std::shared_ptr<Layer>> MaxPooling2DFromConfig(const nlohmann::json& config) {
  return MaxPoolingFromConfig("MaxPooling2D", 2, config);
}

}  // namespace kiln
