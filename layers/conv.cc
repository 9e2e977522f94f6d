#include "layers/conv.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/conv_config.h"
#include "layers/layer_registry.h"
#include "ops/ops.h"

namespace kiln {

BaseConv::BaseConv(absl::string_view class_name, int rank, int64_t filters,
                   const IntList& kernel_size, ConvOptions options)
    : Layer(class_name, options.name),
      rank_(rank),
      filters_(filters),
      groups_(options.groups == 0 ? 1 : options.groups),
      options_(std::move(options)) {
  ConfigError(CheckFilters(filters_));
  absl::StatusOr<KerasConvArgs> args =
      NormalizeConvArgs(rank, kernel_size, options_.strides, options_.padding, options_.data_format,
                        options_.dilation_rate);
  if (args.ok()) {
    kernel_size_ = args->kernel_size;
    strides_ = args->strides;
    dilation_rate_ = args->dilation_rate;
    padding_ = args->padding;
    data_format_ = args->data_format;
  } else {
    ConfigError(args.status());
  }
  ConfigValue(ActivationByName(options_.activation), activation_);
  if (groups_ < 0) {
    ConfigError(absl::InvalidArgumentError(
        absl::StrCat("groups must be a positive integer, got ", groups_)));
  } else if (filters_ > 0 && filters_ % groups_ != 0) {
    ConfigError(absl::InvalidArgumentError(absl::StrCat(
        "The number of filters must be evenly divisible by the number of groups. Received: "
        "groups=",
        groups_, ", filters=", filters_, ".")));
  }
  if (args.ok()) {
    ConfigError(CheckConvStridesAndPadding(strides_, dilation_rate_, padding_,
                                           /*causal_allowed=*/rank == 1));
  }
  if (options_.kernel_initializer == nullptr) {
    options_.kernel_initializer = std::make_shared<GlorotUniform>();
  }
  if (options_.bias_initializer == nullptr) options_.bias_initializer = std::make_shared<Zeros>();
  set_activity_regularizer(options_.activity_regularizer);
}

absl::Status BaseConv::CheckInput(const Shape& in, int64_t want_channels) const {
  KILN_RETURN_IF_ERROR(CheckInputRank(in, rank_ + 2, /*at_least=*/true));
  const int axis = ChannelAxis(data_format_, in.rank(), rank_);
  KILN_ASSIGN_OR_RETURN(const int64_t channels, CheckChannelAxis(in, axis, want_channels));
  if (channels % groups_ != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The number of input channels must be evenly divisible by the number of groups. "
        "Received groups=",
        groups_, ", but the input has ", channels, " channels (full input shape is ", in.ToString(),
        ")."));
  }
  IntList lengths;
  const int first =
      data_format_ == DataFormat::kChannelsLast ? in.rank() - 1 - rank_ : in.rank() - rank_;
  for (int i = 0; i < rank_; ++i) {
    lengths.push_back(ConvOutputLength(in.dim(first + i), kernel_size_[i], padding_, strides_[i],
                                       dilation_rate_[i]));
  }
  return CheckOutputLengths(lengths, name(), in);
}

absl::Status BaseConv::Build(absl::Span<const TensorType> inputs) {
  const Shape& in = inputs[0].shape;
  KILN_RETURN_IF_ERROR(CheckInput(in, -1));
  const int64_t channels = in.dim(ChannelAxis(data_format_, in.rank(), rank_));
  std::vector<int64_t> kernel = kernel_size_;
  kernel.push_back(channels / groups_);
  kernel.push_back(filters_);
  KILN_ASSIGN_OR_RETURN(kernel_,
                        AddWeight("kernel", Shape(std::move(kernel)), options_.kernel_initializer,
                                  options_.kernel_regularizer, options_.kernel_constraint));
  if (options_.use_bias) {
    KILN_ASSIGN_OR_RETURN(bias_, AddWeight("bias", Shape{filters_}, options_.bias_initializer,
                                           options_.bias_regularizer, options_.bias_constraint));
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> BaseConv::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  Tensor x = inputs[0];
  const Shape& kernel = weights()[kernel_].value.shape();
  KILN_RETURN_IF_ERROR(CheckInput(x.shape(), kernel.dim(rank_) * groups_));
  if (x.dtype() != DType::kF32) x = Cast(x, DType::kF32);
  const bool first = data_format_ == DataFormat::kChannelsFirst;
  if (first) x = ToChannelsLast(x, rank_);
  KILN_ASSIGN_OR_RETURN(Tensor y, KerasConv(x, WeightTensor(x.graph(), kernel_), strides_,
                                            dilation_rate_, padding_, groups_));
  if (bias_ >= 0) y = y + WeightTensor(x.graph(), bias_);
  y = activation_(y);
  return first ? FromChannelsLast(y, rank_) : y;
}

namespace {

absl::StatusOr<std::shared_ptr<Layer>> ConvFromConfig(absl::string_view class_name, int rank,
                                                      const nlohmann::json& config) {
  ConvConfigReader r(class_name, config);
  ConvOptions o;
  KILN_ASSIGN_OR_RETURN(o.name, r.Name());
  KILN_ASSIGN_OR_RETURN(int64_t filters, r.RequiredInt("filters"));
  KILN_ASSIGN_OR_RETURN(IntList kernel_size, r.ReadGeometry(rank, o));
  KILN_ASSIGN_OR_RETURN(o.groups, r.Int("groups", 1));
  KILN_ASSIGN_OR_RETURN(o.activation, r.String("activation", "linear"));
  KILN_ASSIGN_OR_RETURN(o.use_bias, r.Bool("use_bias", true));
  KILN_RETURN_IF_ERROR(r.ReadWeightArgs(
      {{"kernel", "glorot_uniform", &o.kernel_initializer, &o.kernel_regularizer,
        &o.kernel_constraint},
       {"bias", "zeros", &o.bias_initializer, &o.bias_regularizer, &o.bias_constraint}},
      o.activity_regularizer));
  KILN_RETURN_IF_ERROR(r.Finish());
  std::shared_ptr<Layer> layer;
  if (rank == 1) {
    layer = std::make_shared<Conv1D>(filters, kernel_size, std::move(o));
  } else {
    layer = std::make_shared<Conv2D>(filters, kernel_size, std::move(o));
  }
  KILN_RETURN_IF_ERROR(layer->config_status());
  return layer;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Layer>> Conv1DFromConfig(const nlohmann::json& config) {
  return ConvFromConfig("Conv1D", 1, config);
}

absl::StatusOr<std::shared_ptr<Layer>> Conv2DFromConfig(const nlohmann::json& config) {
  return ConvFromConfig("Conv2D", 2, config);
}

}  // namespace kiln
