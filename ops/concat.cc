// concat: joins one or more tensors of one dtype (any dtype) along `axis`
// (negative counts from the back). All inputs have the same rank >= 1 and
// the same dimensions except along the axis, which cannot be the batch N.
// Gradient: for each input, the slice of the output gradient it came from.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {
namespace {

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  if (ctx.inputs.empty()) return absl::InvalidArgumentError("expected at least one input, got 0");
  const TensorType& first = ctx.inputs[0];
  const int rank = first.shape.rank();
  if (rank == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected inputs of rank >= 1, got ", first.ToString()));
  }
  KILN_ASSIGN_OR_RETURN(int64_t axis_attr, ctx.attrs.Get<int64_t>("axis"));
  KILN_ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, rank));
  Shape out = first.shape;
  out.dim(axis) = 0;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const TensorType& t = ctx.inputs[i];
    if (t.dtype != first.dtype) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected inputs of one dtype, got ", first.ToString(), " and ", t.ToString(),
          " (input ", i, ")"));
    }
    bool match = t.shape.rank() == rank;
    for (int d = 0; match && d < rank; ++d) {
      match = d == axis || t.shape.dim(d) == first.shape.dim(d);
    }
    if (!match) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input ", i, " has shape ", t.shape.ToString(), " but input 0 has ",
          first.shape.ToString(), "; only dimension ", axis, " (the axis) may differ"));
    }
    if (t.shape.dim(axis) == Shape::kBatch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot concatenate along the batch dimension N (axis ", axis, ")"));
    }
    out.dim(axis) += t.shape.dim(axis);
  }
  return TensorType{first.dtype, out};
}

// Each output row (the dimensions before the axis) is the inputs' rows one
// after the other: one memcpy per (row, input).
absl::Status Interp(const KernelContext& ctx) {
  const Shape& out = ctx.output->shape();
  KILN_ASSIGN_OR_RETURN(int64_t axis_attr, ctx.attrs.Get<int64_t>("axis"));
  KILN_ASSIGN_OR_RETURN(const int axis, NormalizeAxis(axis_attr, out.rank()));
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= out.dim(d);
  for (int d = axis + 1; d < out.rank(); ++d) inner *= out.dim(d);
  const size_t elem = DTypeSize(ctx.output->dtype());
  const int64_t parts = static_cast<int64_t>(ctx.inputs.size());
  std::vector<int64_t> chunk(parts), offset(parts);  // in bytes, per row
  for (int64_t i = 0; i < parts; ++i) {
    chunk[i] = ctx.inputs[i]->shape().dim(axis) * inner * elem;
    offset[i] = i == 0 ? 0 : offset[i - 1] + chunk[i - 1];
  }
  const int64_t row = out.dim(axis) * inner * elem;
  if (row == 0) return absl::OkStatus();
  char* dst = static_cast<char*>(ctx.output->raw());
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / (row / parts + 1));
  ctx.parallel.For(outer * parts, grain, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      const int64_t r = w / parts, i = w % parts;
      if (chunk[i] == 0) continue;
      std::memcpy(dst + r * row + offset[i],
                  static_cast<const char*>(ctx.inputs[i]->raw()) + r * chunk[i], chunk[i]);
    }
  });
  return absl::OkStatus();
}

// For every output element: find the input whose range along the axis holds
// its coordinate, and copy from the same coordinates there.
absl::Status Reference(const KernelContext& ctx) {
  const Shape& out = ctx.output->shape();
  KILN_ASSIGN_OR_RETURN(int64_t axis_attr, ctx.attrs.Get<int64_t>("axis"));
  KILN_ASSIGN_OR_RETURN(const int axis, NormalizeAxis(axis_attr, out.rank()));
  const size_t elem = DTypeSize(ctx.output->dtype());
  for (int64_t i = 0; i < ctx.output->num_elements(); ++i) {
    std::vector<int64_t> c(out.rank());
    int64_t rest = i;
    for (int d = out.rank() - 1; d >= 0; --d) {
      c[d] = rest % out.dim(d);
      rest /= out.dim(d);
    }
    size_t k = 0;
    while (c[axis] >= ctx.inputs[k]->shape().dim(axis)) c[axis] -= ctx.inputs[k++]->shape().dim(axis);
    const Buffer& in = *ctx.inputs[k];
    int64_t src = 0;
    for (int d = 0; d < out.rank(); ++d) src = src * in.shape().dim(d) + c[d];
    std::memcpy(static_cast<char*>(ctx.output->raw()) + i * elem,
                static_cast<const char*>(in.raw()) + src * elem, elem);
  }
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  auto add = [&](std::vector<Shape> shapes, int64_t axis, DType dtype = DType::kF32) {
    const bool is_float = dtype == DType::kF32;
    TestCase c{absl::StrCat(DTypeName(dtype), " axis ", axis), {}, Attrs{{"axis", axis}}, is_float};
    for (const Shape& s : shapes) {
      absl::StrAppend(&c.label, " ", s.ToString());
      c.inputs.push_back({{dtype, s}, is_float ? -2.0 : 0.0, is_float ? 2.0 : 1.0, false, !is_float});
    }
    t.cases.push_back(std::move(c));
  };
  add({Shape{5}}, 0);
  add({Shape{3}, Shape{4}}, 0);
  add({Shape{2, 3}, Shape{2, 1}, Shape{2, 5}}, 1);
  add({Shape{2, 3}, Shape{4, 3}}, -2);
  add({Shape{Shape::kBatch, 3}, Shape{Shape::kBatch, 2}}, -1);
  add({Shape{2, 0, 3}, Shape{2, 4, 3}, Shape{2, 1, 3}}, 1);  // an empty part
  add({Shape{3, 17}, Shape{3, 2}}, 1, DType::kI32);
  add({Shape{2, 2, 3}, Shape{1, 2, 3}}, 0, DType::kI64);
  add({Shape{4, 1}, Shape{4, 2}}, 1, DType::kBool);
  auto bad = [&](const char* label, std::vector<TensorType> in, int64_t axis, const char* msg) {
    t.bad.push_back({label, std::move(in), Attrs{{"axis", axis}}, msg});
  };
  bad("no inputs", {}, 0, "expected at least one input, got 0");
  bad("scalars", {{DType::kF32, Shape{}}, {DType::kF32, Shape{}}}, 0, "expected inputs of rank >= 1");
  bad("dtypes", {{DType::kF32, Shape{2}}, {DType::kI32, Shape{2}}}, 0,
      "expected inputs of one dtype, got f32[2] and i32[2] (input 1)");
  bad("ranks", {{DType::kF32, Shape{2, 3}}, {DType::kF32, Shape{3}}}, 1,
      "input 1 has shape [3] but input 0 has [2,3]; only dimension 1 (the axis) may differ");
  bad("dims", {{DType::kF32, Shape{2, 3}}, {DType::kF32, Shape{3, 3}}}, 1, "only dimension 1");
  bad("axis range", {{DType::kF32, Shape{2, 3}}}, 2, "out of range");
  bad("along N", {{DType::kF32, Shape{Shape::kBatch, 3}}, {DType::kF32, Shape{Shape::kBatch, 3}}},
      0, "cannot concatenate along the batch dimension N");
  return t;
}

std::vector<Tensor> Grad(const GradContext& g) {
  std::vector<Tensor> grads(g.inputs.size());
  const int rank = g.output.rank();
  absl::StatusOr<int> axis = NormalizeAxis(g.attrs.GetOr<int64_t>("axis", 0), rank);
  if (!axis.ok()) return grads;
  int64_t offset = 0;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const int64_t len = g.inputs[i].shape().dim(*axis);
    if (g.needs_grad[i]) {
      IntList begin(rank, 0), end(rank, std::numeric_limits<int64_t>::max()), strides(rank, 1);
      begin[*axis] = offset;
      end[*axis] = offset + len;
      grads[i] = Slice(g.output_grad, begin, end, strides);
    }
    offset += len;
  }
  return grads;
}

}  // namespace

const OpDef kConcatOp = {
    .name = "concat",
    .arity = OpDef::kVariadic,
    .fusion = FusionKind::kIndexMap,
    .infer = Infer,
    .grad = Grad,
    .interp = Interp,
    .reference = Reference,
    .tests = Tests,
};

Tensor Concat(const std::vector<Tensor>& inputs, int64_t axis, SourceLoc loc) {
  return Apply(kConcatOp, inputs, Attrs{{"axis", axis}}, loc);
}

}  // namespace kiln
