// The advanced activation layers (spec 2.19): LeakyReLU, PReLU (a learned
// slope), ELU, ThresholdedReLU, ReLU (max_value, negative_slope, threshold)
// and SoftmaxLayer (Keras "Softmax"; a mask sets masked positions to about
// zero probability). All keep the input's shape and pass the mask through.
//
//   Tensor a = MakeLayer<LeakyReLU>(0.1)(x);
//   Tensor b = MakeLayer<PReLU>(PReLUOptions{.shared_axes = {1, 2}})(images);
//   Tensor c = MakeLayer<ReLU>(ReLUOptions{.max_value = 6.0})(x);
//   Tensor p = MakeLayer<SoftmaxLayer>(-1)(scores);
//
// SoftmaxLayer carries a suffix because kiln::Softmax is the composite op.
#ifndef KILN_LAYERS_ADVANCED_ACTIVATIONS_H_
#define KILN_LAYERS_ADVANCED_ACTIVATIONS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layers/layer.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

// x if x > 0, else alpha * x.
class LeakyReLU : public Layer {
 public:
  explicit LeakyReLU(double alpha = 0.3, absl::string_view name = "");
  double alpha() const { return alpha_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  double alpha_;
};

struct PReLUOptions {
  InitializerPtr alpha_initializer;  // null: zeros
  Regularizer alpha_regularizer;
  Constraint alpha_constraint;
  std::vector<int> shared_axes;      // 1-based (batch excluded); alpha is 1 there
  std::string name;
};

// relu(x) - alpha * relu(-x) with a learned alpha of shape input_shape[1:]
// (1 on each shared axis).
class PReLU : public Layer {
 public:
  explicit PReLU(PReLUOptions options = {});

 protected:
  absl::Status Build(absl::Span<const TensorType> inputs) override;
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  PReLUOptions options_;
  Shape built_shape_;
  int alpha_ = -1;
};

// x if x > 0, else alpha * (exp(x) - 1).
class ELU : public Layer {
 public:
  explicit ELU(double alpha = 1.0, absl::string_view name = "");
  double alpha() const { return alpha_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  double alpha_;
};

// x if x > theta (strictly), else 0; theta >= 0.
class ThresholdedReLU : public Layer {
 public:
  explicit ThresholdedReLU(double theta = 1.0, absl::string_view name = "");
  double theta() const { return theta_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  double theta_;
};

struct ReLUOptions {
  std::optional<double> max_value;  // none: no cap; must be >= 0
  double negative_slope = 0.0;      // >= 0
  double threshold = 0.0;           // >= 0
  std::string name;
};

// clip(x * [x > threshold], 0, max_value) - negative_slope * relu(threshold - x).
class ReLU : public Layer {
 public:
  explicit ReLU(ReLUOptions options = {});
  const ReLUOptions& options() const { return options_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  ReLUOptions options_;
};

// Softmax along one axis, or exp(x - logsumexp(x, axes)) over several. With
// an input mask (true = keep), (1 - mask) * -1e9 is added to x first.
class SoftmaxLayer : public Layer {
 public:
  explicit SoftmaxLayer(int axis = -1, absl::string_view name = "");
  explicit SoftmaxLayer(std::vector<int> axes, absl::string_view name = "");
  const std::vector<int>& axes() const { return axes_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  std::vector<int> axes_;
};

// {"alpha"}, {"alpha_initializer", "alpha_regularizer", "alpha_constraint",
// "shared_axes"}, {"alpha"}, {"theta"}, {"max_value", "negative_slope",
// "threshold"}, {"axis"}.
absl::StatusOr<std::shared_ptr<Layer>> LeakyReLUFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> PReLUFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> ELUFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> ThresholdedReLUFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> ReLUFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> SoftmaxFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_ADVANCED_ACTIVATIONS_H_
