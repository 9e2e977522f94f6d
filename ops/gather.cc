// gather: one element of x (any dtype, rank >= 1) along `axis` per index.
// indices (i32 or i64) has x's shape without the axis; so does the output:
//   out[a..., b...] = x[a..., indices[a..., b...], b...]
// e.g. picking the true class's logit: x [B,C], labels [B], axis 1 -> [B].
// An index outside [0, C) fails at run time: "index 12 is out of range
// [0, 10) at position 3" (position = flat index into `indices`). The axis
// cannot be the batch N.
// Gradient for x (f32): one_hot(indices, C) * g, with the one-hot dimension
// moved to `axis`; indices get none.
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {
namespace {

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  const TensorType& indices = ctx.inputs[1];
  if (x.shape.rank() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("expected x of rank >= 1, got ", x.ToString()));
  }
  if (!IsInteger(indices.dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected i32 or i64 indices, got ", indices.ToString()));
  }
  KILN_ASSIGN_OR_RETURN(int64_t axis_attr, ctx.attrs.Get<int64_t>("axis"));
  KILN_ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, x.shape.rank()));
  if (x.shape.dim(axis) == Shape::kBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot gather along the batch dimension N (axis ", axis, ")"));
  }
  std::vector<int64_t> dims = x.shape.dims();
  dims.erase(dims.begin() + axis);
  const Shape expected(std::move(dims));
  if (indices.shape != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected indices of shape ", expected.ToString(), " (x ", x.shape.ToString(),
        " without axis ", axis, "), got ", indices.shape.ToString()));
  }
  return TensorType{x.dtype, expected};
}

int64_t IndexAt(const Buffer& indices, int64_t p) {
  return indices.dtype() == DType::kI32 ? indices.data<int32_t>()[p]
                                        : indices.data<int64_t>()[p];
}

absl::Status OutOfRange(int64_t index, int64_t size, int64_t position) {
  return absl::InvalidArgumentError(absl::StrCat("[gather] index ", index,
                                                 " is out of range [0, ", size,
                                                 ") at position ", position));
}

// x viewed as [outer, size, inner], indices and output as [outer, inner].
template <typename T>
void GatherTyped(const KernelContext& ctx, const Buffer& indices, int64_t size, int64_t inner) {
  const T* x = ctx.inputs[0]->data<T>();
  T* out = ctx.output->data<T>();
  ctx.parallel.For(ctx.output->num_elements(), 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t o = p / inner, i = p % inner;
      out[p] = x[(o * size + IndexAt(indices, p)) * inner + i];
    }
  });
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Buffer& indices = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(int64_t axis_attr, ctx.attrs.Get<int64_t>("axis"));
  KILN_ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, x.shape().rank()));
  const int64_t size = x.shape().dim(axis);
  for (int64_t p = 0; p < indices.num_elements(); ++p) {
    const int64_t index = IndexAt(indices, p);
    if (index < 0 || index >= size) return OutOfRange(index, size, p);
  }
  int64_t inner = 1;
  for (int d = axis + 1; d < x.shape().rank(); ++d) inner *= x.shape().dim(d);
  if (inner == 0 || ctx.output->num_elements() == 0) return absl::OkStatus();
  switch (DTypeSize(x.dtype())) {
    case 1: GatherTyped<uint8_t>(ctx, indices, size, inner); break;
    case 4: GatherTyped<uint32_t>(ctx, indices, size, inner); break;
    default: GatherTyped<uint64_t>(ctx, indices, size, inner); break;
  }
  return absl::OkStatus();
}

// For every output element: its coordinates, with the index inserted at the
// axis, name the input element; byte copy.
absl::Status Reference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Buffer& indices = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(int64_t axis_attr, ctx.attrs.Get<int64_t>("axis"));
  KILN_ASSIGN_OR_RETURN(const int axis, NormalizeAxis(axis_attr, x.shape().rank()));
  const Shape& out = ctx.output->shape();
  const size_t elem = DTypeSize(x.dtype());
  for (int64_t p = 0; p < ctx.output->num_elements(); ++p) {
    std::vector<int64_t> c(out.rank());
    int64_t rest = p;
    for (int d = out.rank() - 1; d >= 0; --d) {
      c[d] = rest % out.dim(d);
      rest /= out.dim(d);
    }
    const int64_t index = static_cast<int64_t>(indices.GetAsDouble(p));
    if (index < 0 || index >= x.shape().dim(axis)) return OutOfRange(index, x.shape().dim(axis), p);
    c.insert(c.begin() + axis, index);
    int64_t src = 0;
    for (int d = 0; d < x.shape().rank(); ++d) src = src * x.shape().dim(d) + c[d];
    std::memcpy(static_cast<char*>(ctx.output->raw()) + p * elem,
                static_cast<const char*>(x.raw()) + src * elem, elem);
  }
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  auto add = [&](Shape x, int64_t axis, DType index_type, DType dtype = DType::kF32) {
    const bool is_float = dtype == DType::kF32;
    const int a = *NormalizeAxis(axis, x.rank());
    std::vector<int64_t> dims = x.dims();
    dims.erase(dims.begin() + a);
    t.cases.push_back(
        {absl::StrCat(DTypeName(dtype), x.ToString(), " axis ", axis, " ", DTypeName(index_type)),
         {{{dtype, x}, is_float ? -2.0 : 0.0, is_float ? 2.0 : 1.0, false, !is_float},
          {{index_type, Shape(std::move(dims))}, 0.0, x.dim(a) - 1.0, false, true}},
         Attrs{{"axis", axis}},
         is_float});
  };
  add(Shape{4, 10}, 1, DType::kI32);
  add(Shape{Shape::kBatch, 7}, -1, DType::kI64);
  add(Shape{5, 3, 4}, 1, DType::kI32);
  add(Shape{6, 2}, 0, DType::kI64);
  add(Shape{9}, 0, DType::kI32);  // scalar index
  add(Shape{2, 3, 17}, 2, DType::kI64, DType::kI32);
  add(Shape{3, 5}, 0, DType::kI32, DType::kI64);
  add(Shape{4, 3}, 1, DType::kI32, DType::kBool);
  auto bad = [&](const char* label, TensorType x, TensorType idx, int64_t axis, const char* msg) {
    t.bad.push_back({label, {x, idx}, Attrs{{"axis", axis}}, msg});
  };
  bad("float indices", {DType::kF32, Shape{2, 3}}, {DType::kF32, Shape{2}}, 1,
      "expected i32 or i64 indices, got f32[2]");
  bad("scalar x", {DType::kF32, Shape{}}, {DType::kI32, Shape{}}, 0, "expected x of rank >= 1, got f32[]");
  bad("axis range", {DType::kF32, Shape{2, 3}}, {DType::kI32, Shape{2}}, 2, "out of range");
  bad("shape", {DType::kF32, Shape{2, 3}}, {DType::kI32, Shape{3}}, 1,
      "expected indices of shape [2] (x [2,3] without axis 1), got [3]");
  bad("along N", {DType::kF32, Shape{Shape::kBatch, 3}}, {DType::kI32, Shape{3}}, 0,
      "cannot gather along the batch dimension N");
  return t;
}

std::vector<Tensor> Grad(const GradContext& g) {
  const Tensor& x = g.inputs[0];
  if (!g.needs_grad[0] || x.dtype() != DType::kF32) return {Tensor(), Tensor()};
  const int rank = x.rank();
  const int axis = NormalizeAxis(g.attrs.GetOr<int64_t>("axis", 0), rank).value_or(0);
  std::vector<int64_t> dims = g.output_grad.shape().dims();
  dims.push_back(1);
  // [indices..., C]: the gradient of each output at its index, 0 elsewhere.
  Tensor spread = Mul(OneHot(g.inputs[1], x.shape().dim(axis)),
                      Reshape(g.output_grad, Shape(std::move(dims))));
  if (axis == rank - 1) return {spread, Tensor()};
  IntList perm;
  for (int d = 0; d < rank; ++d) perm.push_back(d < axis ? d : d == axis ? rank - 1 : d - 1);
  return {Transpose(spread, perm), Tensor()};
}

}  // namespace

const OpDef kGatherOp = {
    .name = "gather",
    .arity = 2,
    .fusion = FusionKind::kIndexMap,
    .infer = Infer,
    .grad = Grad,
    .interp = Interp,
    .reference = Reference,
    .tests = Tests,
};

Tensor Gather(const Tensor& x, const Tensor& indices, int64_t axis, SourceLoc loc) {
  return Apply(kGatherOp, {x, indices}, Attrs{{"axis", axis}}, loc);
}

}  // namespace kiln
