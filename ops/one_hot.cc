// one_hot: indices (i32 or i64, any shape) -> f32 of shape indices + [depth]
// with out[p..., j] = 1 where indices[p...] == j, else 0. Attribute
// depth >= 1. An index outside [0, depth) (negative included) gives an
// all-zero row, as in TensorFlow. Not differentiable (integer input).
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {
namespace {

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  const TensorType& indices = ctx.inputs[0];
  if (!IsInteger(indices.dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected i32 or i64 indices, got ", indices.ToString()));
  }
  KILN_ASSIGN_OR_RETURN(int64_t depth, ctx.attrs.Get<int64_t>("depth"));
  if (depth < 1) return absl::InvalidArgumentError(absl::StrCat("depth must be >= 1, got ", depth));
  std::vector<int64_t> dims = indices.shape.dims();
  dims.push_back(depth);
  return TensorType{DType::kF32, Shape(std::move(dims))};
}

template <typename I>
void OneHotRows(const I* indices, int64_t depth, float* out, const Parallelism& parallel,
                int64_t rows) {
  parallel.For(rows, std::max<int64_t>(1, 4096 / depth), [&](int64_t b, int64_t e) {
    std::fill(out + b * depth, out + e * depth, 0.0f);
    for (int64_t p = b; p < e; ++p) {
      const I j = indices[p];
      if (j >= 0 && j < depth) out[p * depth + j] = 1.0f;
    }
  });
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& indices = *ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(int64_t depth, ctx.attrs.Get<int64_t>("depth"));
  float* out = ctx.output->data<float>();
  if (indices.dtype() == DType::kI32) {
    OneHotRows(indices.data<int32_t>(), depth, out, ctx.parallel, indices.num_elements());
  } else {
    OneHotRows(indices.data<int64_t>(), depth, out, ctx.parallel, indices.num_elements());
  }
  return absl::OkStatus();
}

absl::Status Reference(const KernelContext& ctx) {
  const Buffer& indices = *ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(int64_t depth, ctx.attrs.Get<int64_t>("depth"));
  for (int64_t i = 0; i < ctx.output->num_elements(); ++i) {
    const double index = indices.GetAsDouble(i / depth);
    ctx.output->SetFromDouble(i, index == static_cast<double>(i % depth) ? 1.0 : 0.0);
  }
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  auto add = [&](Shape s, DType dtype, int64_t depth) {
    t.cases.push_back({absl::StrCat(DTypeName(dtype), s.ToString(), " depth ", depth),
                       {{{dtype, s}, -2.0, depth + 1.0, false, true}},  // some out of range
                       Attrs{{"depth", depth}},
                       false});
  };
  add(Shape{}, DType::kI32, 3);
  add(Shape{7}, DType::kI32, 5);
  add(Shape{Shape::kBatch, 3}, DType::kI64, 4);
  add(Shape{2, 3, 4}, DType::kI64, 1);
  add(Shape{37}, DType::kI32, 10);
  t.bad.push_back({"float indices", {{DType::kF32, Shape{3}}}, Attrs{{"depth", int64_t{4}}},
                   "expected i32 or i64 indices, got f32[3]"});
  t.bad.push_back({"bool indices", {{DType::kBool, Shape{3}}}, Attrs{{"depth", int64_t{4}}},
                   "expected i32 or i64 indices, got bool[3]"});
  t.bad.push_back({"zero depth", {{DType::kI32, Shape{3}}}, Attrs{{"depth", int64_t{0}}},
                   "depth must be >= 1, got 0"});
  return t;
}

}  // namespace

const OpDef kOneHotOp = {
    .name = "one_hot",
    .arity = 1,
    .fusion = FusionKind::kIndexMap,
    .infer = Infer,
    .grad = nullptr,
    .interp = Interp,
    .reference = Reference,
    .tests = Tests,
};

Tensor OneHot(const Tensor& indices, int64_t depth, SourceLoc loc) {
  return Apply(kOneHotOp, {indices}, Attrs{{"depth", depth}}, loc);
}

}  // namespace kiln
