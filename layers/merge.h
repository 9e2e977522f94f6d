// The merge layers (spec 2.18), called on a list of tensors:
//   elementwise: AddLayer ("Add"), Subtract, Multiply, Average,
//                MaximumLayer ("Maximum"), MinimumLayer ("Minimum");
//   Concatenate (along `axis`) and Dot (batched dot product over `axes`).
// Elementwise merges broadcast numpy-style over the non-batch axes, after
// giving lower-rank inputs size-1 axes at axis 1; their output mask is the
// AND of the input masks. Concatenate concatenates the masks (all-true for
// a missing one) and ANDs them over the last axis; Dot drops masks.
//
//   Tensor s = MakeLayer<AddLayer>()({a, b});              // a + b
//   Tensor c = MakeLayer<Concatenate>(-1)({a, b});         // [N,3] ++ [N,5] -> [N,8]
//   Tensor cos = MakeLayer<Dot>(1, DotOptions{.normalize = true})({a, c2});  // [N,1]
//
// AddLayer, MaximumLayer and MinimumLayer carry a suffix because kiln::Add,
// kiln::Maximum and kiln::Minimum are ops.
#ifndef KILN_LAYERS_MERGE_H_
#define KILN_LAYERS_MERGE_H_

#include <memory>
#include <string>
#include <vector>

#include "layers/layer.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

// The elementwise merges: shape checks, rank alignment, mask AND.
class ElementwiseMerge : public Layer {
 protected:
  // `exact_inputs` > 0: the layer takes exactly that many inputs.
  ElementwiseMerge(absl::string_view class_name, absl::string_view name, int exact_inputs = 0);
  // Combines inputs of one rank (broadcasting over size-1 axes).
  virtual Tensor Merge(const std::vector<Tensor>& xs) const = 0;

  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;
  Tensor ComputeMask(absl::Span<const Tensor> inputs, absl::Span<const Tensor> masks) override;

 private:
  int exact_inputs_;
};

class AddLayer : public ElementwiseMerge {  // x0 + x1 + ...
 public:
  explicit AddLayer(absl::string_view name = "") : ElementwiseMerge("Add", name) {}
 protected:
  Tensor Merge(const std::vector<Tensor>& xs) const override;
};

class Subtract : public ElementwiseMerge {  // x0 - x1, exactly two inputs
 public:
  explicit Subtract(absl::string_view name = "") : ElementwiseMerge("Subtract", name, 2) {}
 protected:
  Tensor Merge(const std::vector<Tensor>& xs) const override;
};

class Multiply : public ElementwiseMerge {  // x0 * x1 * ...
 public:
  explicit Multiply(absl::string_view name = "") : ElementwiseMerge("Multiply", name) {}
 protected:
  Tensor Merge(const std::vector<Tensor>& xs) const override;
};

class Average : public ElementwiseMerge {  // (x0 + ... + x_{n-1}) / n
 public:
  explicit Average(absl::string_view name = "") : ElementwiseMerge("Average", name) {}
 protected:
  Tensor Merge(const std::vector<Tensor>& xs) const override;
};

// Pairwise maximum left to right; on a tie the gradient goes to the left
// (accumulated) operand, as TF.
class MaximumLayer : public ElementwiseMerge {
 public:
  explicit MaximumLayer(absl::string_view name = "") : ElementwiseMerge("Maximum", name) {}
 protected:
  Tensor Merge(const std::vector<Tensor>& xs) const override;
};

class MinimumLayer : public ElementwiseMerge {
 public:
  explicit MinimumLayer(absl::string_view name = "") : ElementwiseMerge("Minimum", name) {}
 protected:
  Tensor Merge(const std::vector<Tensor>& xs) const override;
};

// Concatenation along `axis` (negative counts from the back); every other
// dimension must match.
class Concatenate : public Layer {
 public:
  explicit Concatenate(int axis = -1, absl::string_view name = "");
  int axis() const { return axis_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;
  Tensor ComputeMask(absl::Span<const Tensor> inputs, absl::Span<const Tensor> masks) override;

 private:
  int axis_;
};

struct DotOptions {
  bool normalize = false;  // L2-normalize both inputs along their dot axes first
  std::string name;
};

// Batched dot product of exactly two inputs: contracts x1's axis axes[0]
// with x2's axis axes[1] for each batch item. The output has x1's other
// axes (batch first) then x2's other non-batch axes, or (B, 1).
class Dot : public Layer {
 public:
  // The same axis on both inputs.
  explicit Dot(int axes, DotOptions options = {});
  // One axis per input: exactly two entries.
  explicit Dot(std::vector<int> axes, DotOptions options = {});
  const std::vector<int>& axes() const { return axes_; }
  bool normalize() const { return options_.normalize; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  std::vector<int> axes_;
  DotOptions options_;
};

// {} for the elementwise merges, {"axis"} for Concatenate, {"axes",
// "normalize"} for Dot.
absl::StatusOr<std::shared_ptr<Layer>> AddFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> SubtractFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> MultiplyFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> AverageFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> MaximumFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> MinimumFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> ConcatenateFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> DotFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_MERGE_H_
