#include "layers/reshaping.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "layers/layer_args.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {
namespace {

absl::Status ExpectRank(const Tensor& x, int rank) {
  if (x.rank() == rank) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("expected ndim=", rank, ", found ndim=",
                                                 x.rank(), " (input shape ",
                                                 x.shape().ToString(), ")"));
}

absl::Status ExpectOneInput(absl::Span<const Tensor> inputs) {
  if (inputs.size() == 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("expected one input tensor, got ", inputs.size()));
}

std::string Tuple(const std::vector<int64_t>& dims) {
  return absl::StrCat("(", absl::StrJoin(dims, ", "), ")");
}

}  // namespace

Flatten::Flatten(const std::string& data_format, absl::string_view name)
    : Layer("Flatten", name) {
  std::string lower = data_format;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  channels_first_ = lower == "channels_first";
  if (!lower.empty() && lower != "channels_last" && !channels_first_) {
    ConfigError(absl::InvalidArgumentError(absl::StrCat(
        "data_format must be one of 'channels_first', 'channels_last', got '", data_format,
        "'")));
  }
}

absl::StatusOr<Tensor> Flatten::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  KILN_RETURN_IF_ERROR(ExpectOneInput(inputs));
  Tensor x = inputs[0];
  if (x.rank() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an input of rank >= 1, got ", x.shape().ToString()));
  }
  if (channels_first_ && x.rank() >= 3) {
    IntList perm = {0};
    for (int i = 2; i < x.rank(); ++i) perm.push_back(i);
    perm.push_back(1);
    x = Transpose(x, perm);
  }
  int64_t size = 1;
  for (int i = 1; i < x.rank(); ++i) size *= x.shape().dim(i);
  return Reshape(x, Shape{x.shape().dim(0), size});
}

ReshapeLayer::ReshapeLayer(std::vector<int64_t> target_shape, absl::string_view name)
    : Layer("Reshape", name), target_shape_(std::move(target_shape)) {}

absl::StatusOr<Tensor> ReshapeLayer::Call(absl::Span<const Tensor> inputs,
                                          const CallContext& ctx) {
  KILN_RETURN_IF_ERROR(ExpectOneInput(inputs));
  const Tensor& x = inputs[0];
  if (x.rank() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an input with a batch axis, got ", x.shape().ToString()));
  }
  const std::vector<int64_t> in(x.shape().dims().begin() + 1, x.shape().dims().end());
  int64_t total = 1;
  for (int64_t d : in) total *= d;
  std::vector<int64_t> out = target_shape_;
  int unknown = -1;
  int64_t known = 1;
  for (int i = 0; i < static_cast<int>(out.size()); ++i) {
    if (out[i] < 0) {
      if (unknown >= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "there must be at most one unknown dimension in target_shape, got ",
            Tuple(target_shape_)));
      }
      unknown = i;
    } else {
      known *= out[i];
    }
  }
  const std::string total_error =
      absl::StrCat("total size of new array must be unchanged, input_shape = ", Tuple(in),
                   ", output_shape = ", Tuple(target_shape_));
  if (unknown >= 0) {
    if (known == 0 || total % known != 0) return absl::InvalidArgumentError(total_error);
    out[unknown] = total / known;
  } else if (known != total) {
    return absl::InvalidArgumentError(total_error);
  }
  out.insert(out.begin(), x.shape().dim(0));
  return Reshape(x, Shape(std::move(out)));
}

Permute::Permute(std::vector<int> dims, absl::string_view name)
    : Layer("Permute", name), dims_(std::move(dims)) {
  std::vector<int> sorted = dims_;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < static_cast<int>(sorted.size()); ++i) {
    if (sorted[i] != i + 1) {
      ConfigError(absl::InvalidArgumentError(absl::StrCat(
          "invalid permutation dims=(", absl::StrJoin(dims_, ", "),
          "): the indices must be consecutive and start from 1")));
      break;
    }
  }
}

absl::StatusOr<Tensor> Permute::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  KILN_RETURN_IF_ERROR(ExpectOneInput(inputs));
  const Tensor& x = inputs[0];
  KILN_RETURN_IF_ERROR(ExpectRank(x, static_cast<int>(dims_.size()) + 1));
  IntList perm = {0};
  for (int d : dims_) perm.push_back(d);
  return Transpose(x, perm);
}

RepeatVector::RepeatVector(int64_t n, absl::string_view name)
    : Layer("RepeatVector", name), n_(n) {
  if (n < 0) {
    ConfigError(absl::InvalidArgumentError(absl::StrCat("n must be >= 0, got ", n)));
  }
}

absl::StatusOr<Tensor> RepeatVector::Call(absl::Span<const Tensor> inputs,
                                          const CallContext& ctx) {
  KILN_RETURN_IF_ERROR(ExpectOneInput(inputs));
  const Tensor& x = inputs[0];
  KILN_RETURN_IF_ERROR(ExpectRank(x, 2));
  const int64_t batch = x.shape().dim(0), features = x.shape().dim(1);
  return BroadcastTo(Reshape(x, Shape{batch, 1, features}), Shape{batch, n_, features});
}

// ---- Keras configs ----------------------------------------------------------

namespace {

// A JSON list of ints.
absl::StatusOr<std::vector<int64_t>> IntListArg(KerasArgs& args, const nlohmann::json& config,
                                                absl::string_view key) {
  KILN_ASSIGN_OR_RETURN(const nlohmann::json v, RequiredArg(args, config, key));
  std::vector<int64_t> out;
  if (!v.is_array()) return args.ArgError(key, absl::StrCat("must be a list of ints, got ", v.dump()));
  for (const nlohmann::json& e : v) {
    if (!e.is_number_integer()) {
      return args.ArgError(key, absl::StrCat("must be a list of ints, got ", v.dump()));
    }
    out.push_back(e.get<int64_t>());
  }
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Layer>> FlattenFromConfig(const nlohmann::json& config) {
  KerasObject object{"Flatten", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(std::string data_format, DataFormatArg(args));
  return FinishLayerConfig<Flatten>(args, data_format, name);
}

absl::StatusOr<std::shared_ptr<Layer>> ReshapeFromConfig(const nlohmann::json& config) {
  KerasObject object{"Reshape", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> target, IntListArg(args, config, "target_shape"));
  return FinishLayerConfig<ReshapeLayer>(args, std::move(target), name);
}

absl::StatusOr<std::shared_ptr<Layer>> PermuteFromConfig(const nlohmann::json& config) {
  KerasObject object{"Permute", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, IntListArg(args, config, "dims"));
  return FinishLayerConfig<Permute>(args, std::vector<int>(dims.begin(), dims.end()), name);
}

absl::StatusOr<std::shared_ptr<Layer>> RepeatVectorFromConfig(const nlohmann::json& config) {
  KerasObject object{"RepeatVector", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(const nlohmann::json n, RequiredArg(args, config, "n"));
  if (!n.is_number_integer()) {
    return args.ArgError("n", absl::StrCat("must be an integer, got ", n.dump()));
  }
  return FinishLayerConfig<RepeatVector>(args, n.get<int64_t>(), name);
}

}  // namespace kiln
