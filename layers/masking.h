// Masking (spec 2.12): marks the timesteps whose features all equal
// mask_value as masked, and zeroes them.
//   keep[b, t] = any_f(x[b, t, f] != mask_value)   (over the last axis)
//   y = x * keep[..., None];  the output mask is keep.
// Any incoming mask is ignored (replaced).
//
//   auto masking = MakeLayer<Masking>(/*mask_value=*/0.0);
//   Tensor seq = masking(padded);        // MaskOf(seq): [N, T] bool
#ifndef KILN_LAYERS_MASKING_H_
#define KILN_LAYERS_MASKING_H_

#include <memory>

#include "layers/layer.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

class Masking : public Layer {
 public:
  explicit Masking(double mask_value = 0.0, absl::string_view name = "");
  double mask_value() const { return mask_value_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;
  Tensor ComputeMask(absl::Span<const Tensor> inputs, absl::Span<const Tensor> masks) override;

 private:
  double mask_value_;
  Tensor keep_;  // the mask of the latest call, handed to ComputeMask
};

// {"mask_value"}.
absl::StatusOr<std::shared_ptr<Layer>> MaskingFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_MASKING_H_
