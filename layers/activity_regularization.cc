#include "layers/activity_regularization.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "layers/layer_args.h"
#include "layers/regularizers.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {

ActivityRegularization::ActivityRegularization(double l1, double l2, absl::string_view name)
    : Layer("ActivityRegularization", name), l1_(l1), l2_(l2) {
  supports_masking_ = true;
  if (!std::isfinite(l1) || !std::isfinite(l2)) {
    ConfigError(absl::InvalidArgumentError(absl::StrCat(
        "l1 and l2 must be finite numbers, got l1=", l1, ", l2=", l2)));
  }
  set_activity_regularizer(L1L2(l1, l2));
}

absl::StatusOr<Tensor> ActivityRegularization::Call(absl::Span<const Tensor> inputs,
                                                    const CallContext& ctx) {
  if (inputs.size() != 1) return absl::InvalidArgumentError("expected one input tensor");
  // The identity, as an output node of its own (the loss is added by Layer).
  return Reshape(inputs[0], inputs[0].shape());
}

absl::StatusOr<std::shared_ptr<Layer>> ActivityRegularizationFromConfig(
    const nlohmann::json& config) {
  KerasObject object{"ActivityRegularization", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(double l1, args.Number("l1", 0.0, /*null_is_default=*/true));
  KILN_ASSIGN_OR_RETURN(double l2, args.Number("l2", 0.0, /*null_is_default=*/true));
  return FinishLayerConfig<ActivityRegularization>(args, l1, l2, name);
}

}  // namespace kiln
