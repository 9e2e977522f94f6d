// Activation (spec 2.3): applies an activation function elementwise,
// y = f(x), given by its Keras name (spec section 6) or as any C++ callable.
// The shape is unchanged and the mask passes through.
//
//   auto act = MakeLayer<ActivationLayer>("relu");
//   Tensor h = act(x);
//   Tensor g = MakeLayer<ActivationLayer>([](const Tensor& t) { return t * Sigmoid(t); })(x);
//
// The class is ActivationLayer because kiln::Activation already names the
// function type of layers/activations.h; its Keras class name is
// "Activation".
#ifndef KILN_LAYERS_ACTIVATION_H_
#define KILN_LAYERS_ACTIVATION_H_

#include <memory>
#include <string>

#include "layers/activations.h"
#include "layers/layer.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

class ActivationLayer : public Layer {
 public:
  // A Keras activation name ("" or "linear": identity). An unknown name is
  // reported when the layer is called.
  explicit ActivationLayer(const std::string& activation, absl::string_view name = "");
  // Any function Tensor -> Tensor.
  explicit ActivationLayer(Activation function, absl::string_view name = "");
  explicit ActivationLayer(const char* activation, absl::string_view name = "")
      : ActivationLayer(std::string(activation), name) {}

  // The Keras name, or "" for a callable.
  const std::string& activation() const { return activation_name_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  std::string activation_name_;
  Activation function_;
};

// {"activation": "<name>"}.
absl::StatusOr<std::shared_ptr<Layer>> ActivationFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_ACTIVATION_H_
