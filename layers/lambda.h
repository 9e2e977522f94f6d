// Lambda (spec 2.10): a layer from any C++ callable over one Tensor or a
// vector of Tensors, built from ops (so it gets gradients, fusion and both
// backends). Optional: a declared output shape (a tuple without the batch
// axis, or a function of the input shapes) and an output mask (a function
// of the inputs and their masks, or a fixed mask tensor). Without a mask
// rule the incoming mask is dropped. A function that takes a LambdaContext
// as second parameter also receives the input masks and the learning phase
// (Keras passes mask= and training= to functions that declare them).
//
//   auto twice = MakeLayer<Lambda>([](const Tensor& x) { return x * 2.0; });
//   auto sum = MakeLayer<Lambda>([](const std::vector<Tensor>& xs) { return xs[0] + xs[1]; },
//                                LambdaOptions{.output_shape = std::vector<int64_t>{8}});
//   Tensor y = sum({a, b});
//
// The function may read weights of layers it calls, but may not create
// variables of its own (write a Layer subclass for that). A Lambda cannot
// be loaded from a Keras JSON config: its function was Python code.
#ifndef KILN_LAYERS_LAMBDA_H_
#define KILN_LAYERS_LAMBDA_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "layers/layer.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

struct LambdaContext {
  std::vector<Tensor> masks;  // one per input; undefined where none
  Tensor training;            // the learning phase: a bool scalar
};

using LambdaFunction = std::function<absl::StatusOr<Tensor>(const std::vector<Tensor>& inputs,
                                                            const LambdaContext& ctx)>;
// The full output shape (batch included; Shape::kBatch for N) from the
// input shapes.
using LambdaShapeFunction =
    std::function<absl::StatusOr<Shape>(const std::vector<Shape>& input_shapes)>;
// The output mask from the inputs and their masks (undefined where none).
using LambdaMaskFunction =
    std::function<Tensor(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks)>;

struct LambdaOptions {
  // The output shape without the batch axis (the batch is the first
  // input's); -1 entries match any size. The function's result must agree.
  std::optional<std::vector<int64_t>> output_shape;
  // Or: the full output shape from the input shapes.
  LambdaShapeFunction output_shape_function;
  // The output mask rule (Keras mask=callable) ...
  LambdaMaskFunction mask_function;
  // ... or a fixed output mask (Keras mask=tensor), of the caller's graph.
  Tensor mask;
  std::string name;
};

namespace lambda_internal {
absl::Status ArityError(size_t inputs);
}  // namespace lambda_internal

// Wraps any callable taking (const Tensor&) or (const std::vector<Tensor>&),
// optionally followed by (const LambdaContext&), and returning Tensor or
// absl::StatusOr<Tensor>. A one-tensor function called on several inputs
// is an error.
template <typename F>
LambdaFunction AdaptLambdaFunction(F f) {
  using Inputs = const std::vector<Tensor>&;
  using Ctx = const LambdaContext&;
  if constexpr (std::is_invocable_v<F&, const Tensor&, Ctx>) {
    return [f = std::move(f)](Inputs xs, Ctx ctx) mutable -> absl::StatusOr<Tensor> {
      if (xs.size() != 1) return lambda_internal::ArityError(xs.size());
      return f(xs[0], ctx);
    };
  } else if constexpr (std::is_invocable_v<F&, Inputs, Ctx>) {
    return [f = std::move(f)](Inputs xs, Ctx ctx) mutable -> absl::StatusOr<Tensor> {
      return f(xs, ctx);
    };
  } else if constexpr (std::is_invocable_v<F&, const Tensor&>) {
    return [f = std::move(f)](Inputs xs, Ctx) mutable -> absl::StatusOr<Tensor> {
      if (xs.size() != 1) return lambda_internal::ArityError(xs.size());
      return f(xs[0]);
    };
  } else if constexpr (std::is_invocable_v<F&, Inputs>) {
    return [f = std::move(f)](Inputs xs, Ctx) mutable -> absl::StatusOr<Tensor> {
      return f(xs);
    };
  } else {
    static_assert(sizeof(F) == 0,
                  "a Lambda function takes (const Tensor&) or (const std::vector<Tensor>&), "
                  "optionally followed by (const LambdaContext&)");
  }
}

class Lambda : public Layer {
 public:
  explicit Lambda(LambdaFunction function, LambdaOptions options = {});
  // Any callable AdaptLambdaFunction accepts.
  template <typename F, typename = std::enable_if_t<
                            !std::is_same_v<std::decay_t<F>, LambdaFunction> &&
                            !std::is_base_of_v<Layer, std::decay_t<F>>>>
  explicit Lambda(F&& function, LambdaOptions options = {})
      : Lambda(AdaptLambdaFunction(std::decay_t<F>(std::forward<F>(function))),
               std::move(options)) {}

  // The declared output shape for these input shapes (Keras's
  // compute_output_shape); Unimplemented when none was declared (the shape
  // is then whatever the function builds).
  absl::StatusOr<Shape> ComputeOutputShape(const std::vector<Shape>& input_shapes) const;

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;
  Tensor ComputeMask(absl::Span<const Tensor> inputs, absl::Span<const Tensor> masks) override;

 private:
  LambdaFunction function_;
  LambdaOptions options_;
  Tensor pending_mask_;  // computed in Call, handed to ComputeMask
};

// Always Unimplemented: a Keras Lambda config holds Python bytecode.
absl::StatusOr<std::shared_ptr<Layer>> LambdaFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_LAMBDA_H_
