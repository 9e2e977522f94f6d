#include "layers/locally_connected.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/conv_config.h"
#include "layers/layer_registry.h"
#include "ops/ops.h"

namespace kiln {

LocallyConnected::LocallyConnected(absl::string_view class_name, int rank, int64_t filters,
                                   const IntList& kernel_size, LocallyConnectedOptions options)
    : Layer(class_name, options.name),
      rank_(rank),
      filters_(filters),
      options_(std::move(options)) {
  absl::Status status = [&]() -> absl::Status {
    // tf.keras does not check filters (a 0 fails later, in the variable).
    if (filters_ <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("filters must be a positive integer, got ", filters_));
    }
    KILN_ASSIGN_OR_RETURN(kernel_size_, NormalizeTuple(kernel_size, rank, "kernel_size", false));
    KILN_ASSIGN_OR_RETURN(strides_,
                          NormalizeTuple(options_.strides, rank, "strides", /*allow_zero=*/true));
    KILN_ASSIGN_OR_RETURN(padding_, NormalizePadding(options_.padding));
    if (padding_ != Padding::kValid && options_.implementation == 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Invalid border mode for ", class_name,
          " (only \"valid\" is supported if implementation is 1): ", options_.padding));
    }
    KILN_ASSIGN_OR_RETURN(data_format_, NormalizeDataFormat(options_.data_format));
    // tf.keras fails later, dividing by the stride; kiln says so here.
    if (std::find(strides_.begin(), strides_.end(), 0) != strides_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "The argument `strides` cannot contain 0(s). Received: ", TupleString(strides_)));
    }
    if (padding_ == Padding::kCausal) {
      return absl::InvalidArgumentError(
          "Padding type causal not recognized. Only valid and same are supported.");
    }
    KILN_ASSIGN_OR_RETURN(activation_, ActivationByName(options_.activation));
    return absl::OkStatus();
  }();
  ConfigError(status);
  if (options_.kernel_initializer == nullptr) {
    options_.kernel_initializer = std::make_shared<GlorotUniform>();
  }
  if (options_.bias_initializer == nullptr) options_.bias_initializer = std::make_shared<Zeros>();
  set_activity_regularizer(options_.activity_regularizer);
}

absl::Status LocallyConnected::Build(absl::Span<const TensorType> inputs) {
  const Shape& in = inputs[0].shape;
  KILN_RETURN_IF_ERROR(CheckInputRank(in, rank_ + 2, /*at_least=*/false));
  const bool last = data_format_ == DataFormat::kChannelsLast;
  const int64_t channels = in.dim(last ? rank_ + 1 : 1);
  const int first = last ? 1 : 2;
  // A 1-D layer is the 2-D case with a unit height.
  std::array<int64_t, 2> n{1, 1}, k{1, 1}, s{1, 1};
  for (int i = 0; i < rank_; ++i) {
    n[2 - rank_ + i] = in.dim(first + i);
    k[2 - rank_ + i] = kernel_size_[i];
    s[2 - rank_ + i] = strides_[i];
  }
  KILN_ASSIGN_OR_RETURN(geometry_,
                        LocalGeometryOf(n, k, s, padding_, data_format_, channels, filters_));
  const LocalGeometry& g = geometry_;
  IntList out(g.out.end() - rank_, g.out.end());
  KILN_RETURN_IF_ERROR(CheckOutputLengths(out, name(), in));
  const int64_t F = filters_;
  Shape kernel;
  switch (options_.implementation) {
    case 1:
      kernel = Shape{g.positions(), g.taps() * channels, F};
      break;
    case 2: {
      // channels_last (in..., C, out..., F); channels_first (C, in..., F, out...).
      const IntList in_dims(n.end() - rank_, n.end());
      std::vector<int64_t> dims;
      if (last) {
        dims = in_dims;
        dims.push_back(channels);
        dims.insert(dims.end(), out.begin(), out.end());
        dims.push_back(F);
      } else {
        dims.push_back(channels);
        dims.insert(dims.end(), in_dims.begin(), in_dims.end());
        dims.push_back(F);
        dims.insert(dims.end(), out.begin(), out.end());
      }
      kernel = Shape(std::move(dims));
      mask_ = LocalConnectivityMask(g, kernel);
      break;
    }
    case 3:
      kernel = Shape{g.Connections()};
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("Unrecognized implementation mode: ", options_.implementation, "."));
  }
  KILN_ASSIGN_OR_RETURN(
      kernel_, AddWeight("kernel", kernel, options_.kernel_initializer, options_.kernel_regularizer,
                         options_.kernel_constraint));
  if (options_.use_bias) {
    std::vector<int64_t> bias = out;
    bias.push_back(F);
    KILN_ASSIGN_OR_RETURN(bias_,
                          AddWeight("bias", Shape(std::move(bias)), options_.bias_initializer,
                                    options_.bias_regularizer, options_.bias_constraint));
  }
  built_shape_ = in;
  return absl::OkStatus();
}

absl::StatusOr<Tensor> LocallyConnected::Call(absl::Span<const Tensor> inputs,
                                              const CallContext& ctx) {
  Tensor x = inputs[0];
  const Shape& in = x.shape();
  KILN_RETURN_IF_ERROR(CheckInputRank(in, rank_ + 2, /*at_least=*/false));
  if (!std::equal(in.dims().begin() + 1, in.dims().end(), built_shape_.dims().begin() + 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an input of shape ", built_shape_.ToString(),
                     " (the shape the layer was built for), got ", in.ToString()));
  }
  if (x.dtype() != DType::kF32) x = Cast(x, DType::kF32);
  const bool last = data_format_ == DataFormat::kChannelsLast;
  const LocalGeometry& g = geometry_;
  const int64_t batch = in.dim(0);
  std::vector<int64_t> out_dims{batch};
  if (!last) out_dims.push_back(filters_);
  out_dims.insert(out_dims.end(), g.out.end() - rank_, g.out.end());
  if (last) out_dims.push_back(filters_);
  const Shape out_shape(out_dims);
  Tensor kernel = WeightTensor(x.graph(), kernel_);
  Tensor y;
  if (options_.implementation == 2) {
    y = Reshape(LocalConvImpl2(x, kernel, mask_), out_shape);
  } else {
    Tensor xl = last ? x : ToChannelsLast(x, rank_);
    xl = Reshape(xl, Shape{batch, g.in[0], g.in[1], g.channels});
    y = options_.implementation == 1 ? LocalConvImpl1(xl, kernel, g)
                                     : LocalConvImpl3(xl, kernel, g);
    if (rank_ == 1) y = Reshape(y, Shape{batch, g.out[1], filters_});
    if (!last) y = FromChannelsLast(y, rank_);
  }
  if (bias_ >= 0) {
    Tensor bias = WeightTensor(x.graph(), bias_);
    // channels_first: tf.keras reshapes (does not transpose) the
    // (out..., F) bias to (F, out...).
    if (!last)
      bias = Reshape(bias, Shape(std::vector<int64_t>(out_dims.begin() + 1, out_dims.end())));
    y = y + bias;
  }
  return activation_(y);
}

namespace {

absl::StatusOr<std::shared_ptr<Layer>> LocallyConnectedFromConfig(absl::string_view class_name,
                                                                  int rank,
                                                                  const nlohmann::json& config) {
  ConvConfigReader r(class_name, config);
  LocallyConnectedOptions o;
  KILN_ASSIGN_OR_RETURN(o.name, r.Name());
  KILN_ASSIGN_OR_RETURN(int64_t filters, r.RequiredInt("filters"));
  KILN_ASSIGN_OR_RETURN(IntList kernel_size, r.ReadGeometry(rank, o));
  KILN_ASSIGN_OR_RETURN(o.activation, r.String("activation", "linear"));
  KILN_ASSIGN_OR_RETURN(o.use_bias, r.Bool("use_bias", true));
  KILN_RETURN_IF_ERROR(r.ReadWeightArgs(
      {{"kernel", "glorot_uniform", &o.kernel_initializer, &o.kernel_regularizer,
        &o.kernel_constraint},
       {"bias", "zeros", &o.bias_initializer, &o.bias_regularizer, &o.bias_constraint}},
      o.activity_regularizer));
  KILN_ASSIGN_OR_RETURN(o.implementation, r.Int("implementation", 1));
  KILN_RETURN_IF_ERROR(r.Finish());
  std::shared_ptr<Layer> layer;
  if (rank == 1) {
    layer = std::make_shared<LocallyConnected1D>(filters, kernel_size, std::move(o));
  } else {
    layer = std::make_shared<LocallyConnected2D>(filters, kernel_size, std::move(o));
  }
  KILN_RETURN_IF_ERROR(layer->config_status());
  return layer;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Layer>> LocallyConnected1DFromConfig(const nlohmann::json& config) {
  return LocallyConnectedFromConfig("LocallyConnected1D", 1, config);
}

absl::StatusOr<std::shared_ptr<Layer>> LocallyConnected2DFromConfig(const nlohmann::json& config) {
  return LocallyConnectedFromConfig("LocallyConnected2D", 2, config);
}

}  // namespace kiln
