// constant: a value held in the graph (attribute "value").
#include <cstring>

#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {
namespace {

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  KILN_ASSIGN_OR_RETURN(auto value,
                        ctx.attrs.Get<std::shared_ptr<const Buffer>>("value"));
  if (value == nullptr) return absl::InvalidArgumentError("null value");
  return TensorType{value->dtype(), value->shape()};
}

absl::Status Copy(const KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(auto value,
                        ctx.attrs.Get<std::shared_ptr<const Buffer>>("value"));
  std::memcpy(ctx.output->raw(), value->raw(), value->size_bytes());
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  t.cases.push_back({"scalar", {},
                     Attrs{{"value", std::make_shared<const Buffer>(
                                         Buffer::Scalar(DType::kF32, 1.5))}}});
  t.bad.push_back({"no value", {}, Attrs{}, "missing attribute 'value'"});
  return t;
}

}  // namespace

const OpDef kConstantOp = {
    .name = "constant",
    .arity = 0,
    .fusion = FusionKind::kSource,
    .infer = Infer,
    .interp = Copy,
    .reference = Copy,
    .tests = Tests,
};

Tensor Constant(const std::shared_ptr<Graph>& graph, Buffer value,
                SourceLoc loc) {
  return graph->Apply(
      kConstantOp, {},
      Attrs{{"value", std::make_shared<const Buffer>(std::move(value))}}, loc);
}

}  // namespace kiln
