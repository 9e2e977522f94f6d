// reshape: the same elements in row-major order under a new shape. The batch
// dimension N may appear only as dimension 0, and only when the input has it.
// Gradient: reshape back.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {
namespace {

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(Shape shape, ctx.attrs.Get<Shape>("shape"));
  const bool in_batch = !x.shape.IsConcrete();
  const bool out_batch = !shape.IsConcrete();
  for (int i = 1; i < shape.rank(); ++i) {
    if (shape.dim(i) == Shape::kBatch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "only dimension 0 of the target may be N, got ", shape.ToString()));
    }
  }
  if (in_batch != out_batch || x.shape.NumElements() != shape.NumElements()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot reshape ", x.shape.ToString(), " to ", shape.ToString(),
        " (element counts differ)"));
  }
  return TensorType{x.dtype, shape};
}

absl::Status Copy(const KernelContext& ctx) {
  std::memcpy(ctx.output->raw(), ctx.inputs[0]->raw(), ctx.output->size_bytes());
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  auto add = [&](Shape in, Shape out, DType dtype = DType::kF32) {
    t.cases.push_back({absl::StrCat(in.ToString(), "->", out.ToString()),
                       {{{dtype, in}, -3, 3, false, dtype != DType::kF32}},
                       Attrs{{"shape", out}},
                       true});
  };
  add(Shape{2, 3, 4}, Shape{6, 4});
  add(Shape{Shape::kBatch, 12}, Shape{Shape::kBatch, 3, 4});
  add(Shape{5}, Shape{1, 5, 1}, DType::kI64);
  add(Shape{}, Shape{1, 1});
  t.bad.push_back({"count", {{DType::kF32, Shape{2, 3}}}, Attrs{{"shape", Shape{5}}},
                   "element counts differ"});
  t.bad.push_back({"lost batch", {{DType::kF32, Shape{Shape::kBatch, 3}}},
                   Attrs{{"shape", Shape{3}}}, "element counts differ"});
  t.bad.push_back({"N inside", {{DType::kF32, Shape{Shape::kBatch, 3}}},
                   Attrs{{"shape", Shape{3, Shape::kBatch}}}, "only dimension 0"});
  return t;
}

}  // namespace

const OpDef kReshapeOp = {
    .name = "reshape",
    .arity = 1,
    .fusion = FusionKind::kIndexMap,
    .infer = Infer,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      return {Reshape(g.output_grad, g.inputs[0].shape())};
    },
    .interp = Copy,
    // Row-major positions are kept: fusible where the input is in memory.
    .index_map = [](const TensorType&, const TensorType&,
                    const Attrs&) -> absl::StatusOr<IndexMap> {
      return IndexMap{.same_flat_position = true};
    },
    .reference = Copy,
    .tests = Tests,
};

Tensor Reshape(const Tensor& x, const Shape& shape, SourceLoc loc) {
  return Apply(kReshapeOp, {x}, Attrs{{"shape", shape}}, loc);
}

}  // namespace kiln
