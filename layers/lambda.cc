#include "layers/lambda.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {

namespace lambda_internal {
absl::Status ArityError(size_t inputs) {
  return absl::InvalidArgumentError(absl::StrCat(
      "the function takes one tensor but the layer was called on ", inputs,
      " (take a const std::vector<Tensor>& instead)"));
}
}  // namespace lambda_internal

namespace {

bool ShapeMatches(const Shape& actual, const Shape& declared) {
  if (actual.rank() != declared.rank()) return false;
  for (int i = 0; i < actual.rank(); ++i) {
    if (declared.dim(i) != -1 && declared.dim(i) != actual.dim(i)) return false;
  }
  return true;
}

}  // namespace

Lambda::Lambda(LambdaFunction function, LambdaOptions options)
    : Layer("Lambda", options.name), function_(std::move(function)), options_(std::move(options)) {
  if (!function_) ConfigError(absl::InvalidArgumentError("the Lambda function is empty"));
  if (options_.output_shape.has_value() && options_.output_shape_function) {
    ConfigError(absl::InvalidArgumentError(
        "give output_shape or output_shape_function, not both"));
  }
  if (options_.mask_function && options_.mask.defined()) {
    ConfigError(absl::InvalidArgumentError("give mask_function or mask, not both"));
  }
}

absl::StatusOr<Shape> Lambda::ComputeOutputShape(const std::vector<Shape>& input_shapes) const {
  if (options_.output_shape_function) return options_.output_shape_function(input_shapes);
  if (!options_.output_shape.has_value()) {
    return absl::UnimplementedError(
        "the Lambda layer has no declared output_shape: call it to build its output");
  }
  std::vector<int64_t> dims = {input_shapes.empty() || input_shapes[0].rank() == 0
                                   ? Shape::kBatch
                                   : input_shapes[0].dim(0)};
  dims.insert(dims.end(), options_.output_shape->begin(), options_.output_shape->end());
  return Shape(std::move(dims));
}

absl::StatusOr<Tensor> Lambda::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  pending_mask_ = Tensor();
  const std::shared_ptr<Graph>& graph = inputs[0].graph();
  const std::vector<Tensor> xs(inputs.begin(), inputs.end());
  const NodeId first_new = graph->num_nodes();
  KILN_ASSIGN_OR_RETURN(Tensor y, function_(xs, LambdaContext{ctx.masks, ctx.training}));
  if (!y.defined()) return absl::InvalidArgumentError("the function returned no tensor");
  if (y.graph() != graph) {
    return absl::InvalidArgumentError("the function returned a tensor of another graph");
  }
  if (!y.ok()) return y;  // an op inside recorded the error
  // Variables the function made itself (not weights of layers it called).
  const LayerGraphState& state = graph->Attachment<LayerGraphState>();
  for (NodeId id = first_new; id < graph->num_nodes(); ++id) {
    const Node& node = graph->node(id);
    if (node.op != &kVariableOp) continue;
    const std::string name = node.attrs.GetOr<std::string>("name", "");
    auto it = state.variables.find(name);
    if (it == state.variables.end() || it->second != id) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the function created the variable '", name,
          "'; a Lambda cannot create variables: write a Layer subclass with AddWeight"));
    }
  }
  // An input returned as is still gets an output node of the layer's own.
  for (const Tensor& x : xs) {
    if (y == x) {
      y = Reshape(y, y.shape());
      break;
    }
  }
  if (options_.output_shape.has_value() || options_.output_shape_function) {
    std::vector<Shape> shapes;
    for (const Tensor& x : xs) shapes.push_back(x.shape());
    KILN_ASSIGN_OR_RETURN(Shape declared, ComputeOutputShape(shapes));
    if (!ShapeMatches(y.shape(), declared)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the function's output has shape ", y.shape().ToString(),
          " but the declared output shape is ", declared.ToString()));
    }
  }
  Tensor mask;
  if (options_.mask_function) {
    mask = options_.mask_function(xs, ctx.masks);
  } else if (options_.mask.defined()) {
    mask = options_.mask;
  }
  if (mask.defined() && mask.graph() != graph) {
    return absl::InvalidArgumentError("the output mask belongs to another graph");
  }
  if (mask.poisoned()) return mask;
  pending_mask_ = mask;
  return y;
}

Tensor Lambda::ComputeMask(absl::Span<const Tensor> inputs, absl::Span<const Tensor> masks) {
  return std::exchange(pending_mask_, Tensor());
}

absl::StatusOr<std::shared_ptr<Layer>> LambdaFromConfig(const nlohmann::json& config) {
  return absl::UnimplementedError(
      "a Lambda layer cannot be loaded from a Keras config (its function is Python code); "
      "build it in C++ with kiln::Lambda and a callable");
}

}  // namespace kiln
