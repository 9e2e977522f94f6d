// ActivityRegularization (spec 2.11): the identity, carrying the activity
// regularizer L1L2(l1, l2). Each call adds (l1·Σ|y| + l2·Σy²) / B to the
// graph's activity losses (B the runtime batch size). The mask passes
// through.
//
//   auto reg = MakeLayer<ActivityRegularization>(/*l1=*/0.01, /*l2=*/0.0);
//   Tensor h = reg(x);   // same values; LayerGraphState::activity_losses grows
#ifndef KILN_LAYERS_ACTIVITY_REGULARIZATION_H_
#define KILN_LAYERS_ACTIVITY_REGULARIZATION_H_

#include <memory>

#include "layers/layer.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

class ActivityRegularization : public Layer {
 public:
  // l1, l2 must be finite.
  explicit ActivityRegularization(double l1 = 0.0, double l2 = 0.0, absl::string_view name = "");
  double l1() const { return l1_; }
  double l2() const { return l2_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  double l1_, l2_;
};

// {"l1", "l2"} (null: 0).
absl::StatusOr<std::shared_ptr<Layer>> ActivityRegularizationFromConfig(
    const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_ACTIVITY_REGULARIZATION_H_
