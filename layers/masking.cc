#include "layers/masking.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "layers/layer_args.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {

Masking::Masking(double mask_value, absl::string_view name)
    : Layer("Masking", name), mask_value_(mask_value) {
  supports_masking_ = true;
}

absl::StatusOr<Tensor> Masking::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  keep_ = Tensor();
  if (inputs.size() != 1) return absl::InvalidArgumentError("expected one input tensor");
  const Tensor& x = inputs[0];
  if (x.rank() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an input of rank >= 1, got ", x.shape().ToString()));
  }
  if (x.dtype() != DType::kF32) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a float32 input, got ", x.node().type.ToString()));
  }
  const int last = x.rank() - 1;
  // any() over the last axis as a max of 0/1 values.
  const Tensor differs = Cast(NotEqual(x, ScalarLike(x, mask_value_)), DType::kF32);
  const Tensor keep = ReduceMax(differs, {last}, /*keepdims=*/true);
  std::vector<int64_t> dims = x.shape().dims();
  dims.pop_back();
  keep_ = Cast(Reshape(keep, Shape(std::move(dims))), DType::kBool);
  Tensor y = x * keep;
  // The layer keeps no graph alive when the base will not ask for the mask.
  if (!y.ok() || !keep_.ok()) keep_ = Tensor();
  return y;
}

Tensor Masking::ComputeMask(absl::Span<const Tensor> inputs, absl::Span<const Tensor> masks) {
  return std::exchange(keep_, Tensor());
}

absl::StatusOr<std::shared_ptr<Layer>> MaskingFromConfig(const nlohmann::json& config) {
  KerasObject object{"Masking", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(double mask_value, args.Number("mask_value", 0.0));
  return FinishLayerConfig<Masking>(args, mask_value, name);
}

}  // namespace kiln
