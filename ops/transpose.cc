// transpose: permutes the dimensions of a tensor of any rank and dtype.
// Attribute permutation=(p0,...,p{r-1}), a permutation of 0..r-1: output
// dimension i is input dimension p_i, out[c] = x[c'] with c'[p_i] = c[i].
// Gradient: the output gradient transposed by the inverse permutation.
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"
#include "ops/strided_copy.h"

namespace kiln {
namespace {

absl::StatusOr<IntList> Permutation(const Attrs& attrs, int rank) {
  KILN_ASSIGN_OR_RETURN(IntList perm, attrs.Get<IntList>("permutation"));
  const std::string text = AttrValueToString(perm);
  if (static_cast<int>(perm.size()) != rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a permutation of length ", rank, " (the rank), got ", text));
  }
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p]) {
      return absl::InvalidArgumentError(absl::StrCat(
          text, " is not a permutation of 0..", rank - 1));
    }
    seen[p] = true;
  }
  return perm;
}

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(IntList perm, Permutation(ctx.attrs, x.shape.rank()));
  std::vector<int64_t> dims;
  for (int64_t p : perm) dims.push_back(x.shape.dim(p));
  return TensorType{x.dtype, Shape(std::move(dims))};
}

// Output dimension j reads input dimension perm[j].
absl::StatusOr<IndexMap> Map(const TensorType& in, const TensorType& out, const Attrs& attrs) {
  const int rank = in.shape.rank();
  if (out.shape.rank() != rank) return absl::InvalidArgumentError("input and output ranks differ");
  KILN_ASSIGN_OR_RETURN(IntList perm, Permutation(attrs, rank));
  IndexMap map;
  map.offset.assign(rank, 0);
  map.coeff.assign(rank, std::vector<int64_t>(rank, 0));
  for (int j = 0; j < rank; ++j) map.coeff[perm[j]][j] = 1;
  return map;
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(IntList perm, Permutation(ctx.attrs, x.shape().rank()));
  const std::vector<int64_t> in_strides = x.shape().Strides();
  std::vector<int64_t> src_strides;
  for (int64_t p : perm) src_strides.push_back(in_strides[p]);
  StridedCopy(x.raw(), ctx.output->raw(), DTypeSize(x.dtype()),
              ctx.output->shape().dims(), std::move(src_strides),
              ctx.output->shape().Strides(), ctx.parallel);
  return absl::OkStatus();
}

// For every output element: its coordinates, the input coordinates they
// name, and a byte copy.
absl::Status Reference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Shape& out = ctx.output->shape();
  const IntList perm = *ctx.attrs.Get<IntList>("permutation");
  const size_t elem = DTypeSize(x.dtype());
  const int rank = out.rank();
  for (int64_t i = 0; i < ctx.output->num_elements(); ++i) {
    std::vector<int64_t> in_coord(rank);
    int64_t rest = i;
    for (int d = rank - 1; d >= 0; --d) {
      in_coord[perm[d]] = rest % out.dim(d);
      rest /= out.dim(d);
    }
    int64_t src = 0;
    for (int d = 0; d < rank; ++d) src = src * x.shape().dim(d) + in_coord[d];
    std::memcpy(static_cast<char*>(ctx.output->raw()) + i * elem,
                static_cast<const char*>(x.raw()) + src * elem, elem);
  }
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  auto add = [&](Shape in, IntList perm, DType dtype = DType::kF32) {
    const bool is_float = dtype == DType::kF32;
    t.cases.push_back({absl::StrCat(DTypeName(dtype), in.ToString(), AttrValueToString(perm)),
                       {{{dtype, in}, is_float ? -2.0 : 0.0, is_float ? 2.0 : 1.0, false, !is_float}},
                       Attrs{{"permutation", perm}},
                       is_float});
  };
  add(Shape{}, {});
  add(Shape{7}, {0});
  add(Shape{2, 3}, {1, 0});
  add(Shape{17, 33}, {1, 0});
  add(Shape{3, 1, 5}, {2, 0, 1});
  add(Shape{2, 3, 4, 5}, {3, 1, 0, 2});
  add(Shape{2, 3, 4, 5}, {1, 0, 2, 3});
  add(Shape{Shape::kBatch, 3, 4}, {0, 2, 1});
  add(Shape{19, 5}, {1, 0}, DType::kI32);
  add(Shape{3, 2, 7}, {2, 1, 0}, DType::kI64);
  add(Shape{5, 6, 3}, {1, 0, 2}, DType::kBool);
  auto bad = [&](const char* label, Shape in, IntList perm, const char* msg) {
    t.bad.push_back({label, {{DType::kF32, in}}, Attrs{{"permutation", perm}}, msg});
  };
  bad("short", Shape{2, 3}, {0}, "expected a permutation of length 2 (the rank), got (0)");
  bad("repeated", Shape{2, 3, 4}, {0, 0, 1}, "(0,0,1) is not a permutation of 0..2");
  bad("out of range", Shape{2, 3}, {0, 2}, "(0,2) is not a permutation of 0..1");
  bad("negative", Shape{2, 3}, {-1, 0}, "is not a permutation");
  return t;
}

}  // namespace

const OpDef kTransposeOp = {
    .name = "transpose",
    .arity = 1,
    .fusion = FusionKind::kIndexMap,
    .infer = Infer,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const IntList perm = g.attrs.GetOr<IntList>("permutation", {});
      IntList inverse(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
      return {Transpose(g.output_grad, inverse)};
    },
    .interp = Interp,
    .index_map = Map,
    .reference = Reference,
    .tests = Tests,
};

Tensor Transpose(const Tensor& x, const IntList& permutation, SourceLoc loc) {
  return Apply(kTransposeOp, {x}, Attrs{{"permutation", permutation}}, loc);
}

}  // namespace kiln
