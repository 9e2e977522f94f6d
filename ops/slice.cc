// slice: a strided sub-box of a tensor of any dtype. Attributes begin, end,
// strides (one entry per dimension): dimension d takes the indices
// begin, begin + stride, ... below min(end, dim), so its length is
// ceil((min(end, dim) - begin) / stride), or 0 when end <= begin; an end of
// INT64_MAX means "to the end". Requires 0 <= begin <= dim, end >= 0,
// stride >= 1. A batch dimension N can only be taken whole (begin 0,
// end INT64_MAX, stride 1) and stays N.
// Gradient: pad of the output gradient with low = begin, interior =
// stride - 1 and high = what restores the input length (zeros elsewhere).
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"
#include "ops/strided_copy.h"

namespace kiln {
namespace {

constexpr int64_t kToEnd = std::numeric_limits<int64_t>::max();

struct SliceAttrs {
  IntList begin, end, strides;
};

absl::StatusOr<SliceAttrs> GetAttrs(const Attrs& attrs, int rank) {
  SliceAttrs a;
  KILN_ASSIGN_OR_RETURN(a.begin, attrs.Get<IntList>("begin"));
  KILN_ASSIGN_OR_RETURN(a.end, attrs.Get<IntList>("end"));
  KILN_ASSIGN_OR_RETURN(a.strides, attrs.Get<IntList>("strides"));
  if (a.begin.size() != rank || a.end.size() != rank || a.strides.size() != rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected begin, end and strides of length ", rank, " (the rank), got ",
        a.begin.size(), ", ", a.end.size(), " and ", a.strides.size()));
  }
  return a;
}

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(SliceAttrs a, GetAttrs(ctx.attrs, x.shape.rank()));
  std::vector<int64_t> dims;
  for (int d = 0; d < x.shape.rank(); ++d) {
    const int64_t b = a.begin[d], e = a.end[d], s = a.strides[d], n = x.shape.dim(d);
    const std::string where = absl::StrCat(" in dimension ", d);
    if (b < 0) return absl::InvalidArgumentError(absl::StrCat("begin must be >= 0, got ", b, where));
    if (e < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "end must be >= 0 (ends do not count from the back), got ", e, where));
    }
    if (s < 1) return absl::InvalidArgumentError(absl::StrCat("strides must be >= 1, got ", s, where));
    if (n == Shape::kBatch) {
      if (b != 0 || e != kToEnd || s != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dimension ", d, " is the batch N and can only be taken whole (begin 0, end ",
            kToEnd, ", stride 1), got begin ", b, ", end ", e, ", stride ", s));
      }
      dims.push_back(Shape::kBatch);
      continue;
    }
    if (b > n) {
      return absl::InvalidArgumentError(
          absl::StrCat("begin ", b, " is past the end of dimension ", d, " (size ", n, ")"));
    }
    const int64_t stop = std::min(e, n);
    dims.push_back(stop > b ? (stop - b + s - 1) / s : 0);
  }
  return TensorType{x.dtype, Shape(std::move(dims))};
}

// Input index begin + stride * output index, per dimension.
absl::StatusOr<IndexMap> Map(const TensorType& in, const TensorType& out, const Attrs& attrs) {
  const int rank = in.shape.rank();
  if (out.shape.rank() != rank) return absl::InvalidArgumentError("input and output ranks differ");
  KILN_ASSIGN_OR_RETURN(SliceAttrs a, GetAttrs(attrs, rank));
  IndexMap map;
  map.offset = a.begin;
  map.coeff.assign(rank, std::vector<int64_t>(rank, 0));
  for (int d = 0; d < rank; ++d) map.coeff[d][d] = a.strides[d];
  return map;
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  if (ctx.output->num_elements() == 0) return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(SliceAttrs a, GetAttrs(ctx.attrs, x.shape().rank()));
  const std::vector<int64_t> in_strides = x.shape().Strides();
  const size_t elem = DTypeSize(x.dtype());
  int64_t offset = 0;
  std::vector<int64_t> src_strides;
  for (int d = 0; d < x.shape().rank(); ++d) {
    offset += a.begin[d] * in_strides[d];
    src_strides.push_back(in_strides[d] * a.strides[d]);
  }
  StridedCopy(static_cast<const char*>(x.raw()) + offset * elem, ctx.output->raw(), elem,
              ctx.output->shape().dims(), std::move(src_strides),
              ctx.output->shape().Strides(), ctx.parallel);
  return absl::OkStatus();
}

// Output coordinate c reads input coordinate begin + c * stride.
absl::Status Reference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Shape& out = ctx.output->shape();
  KILN_ASSIGN_OR_RETURN(SliceAttrs a, GetAttrs(ctx.attrs, x.shape().rank()));
  const size_t elem = DTypeSize(x.dtype());
  for (int64_t i = 0; i < ctx.output->num_elements(); ++i) {
    int64_t rest = i, src = 0, in_stride = 1;
    for (int d = out.rank() - 1; d >= 0; --d) {
      const int64_t c = rest % out.dim(d);
      rest /= out.dim(d);
      src += (a.begin[d] + c * a.strides[d]) * in_stride;
      in_stride *= x.shape().dim(d);
    }
    std::memcpy(static_cast<char*>(ctx.output->raw()) + i * elem,
                static_cast<const char*>(x.raw()) + src * elem, elem);
  }
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  auto add = [&](Shape in, IntList b, IntList e, IntList s, DType dtype = DType::kF32) {
    const bool is_float = dtype == DType::kF32;
    t.cases.push_back({absl::StrCat(DTypeName(dtype), in.ToString(), AttrValueToString(b),
                                    AttrValueToString(e), AttrValueToString(s)),
                       {{{dtype, in}, is_float ? -2.0 : 0.0, is_float ? 2.0 : 1.0, false, !is_float}},
                       Attrs{{"begin", b}, {"end", e}, {"strides", s}},
                       is_float});
  };
  add(Shape{}, {}, {}, {});
  add(Shape{10}, {1}, {8}, {3});
  add(Shape{7, 9}, {0, 2}, {kToEnd, 9}, {2, 1});
  add(Shape{Shape::kBatch, 5}, {0, 1}, {kToEnd, 4}, {1, 2});
  add(Shape{3, 4, 19}, {1, 0, 2}, {3, 4, 18}, {1, 3, 1});
  add(Shape{4, 3}, {2, 0}, {2, kToEnd}, {1, 1});  // empty: end == begin
  add(Shape{5}, {3}, {1}, {1});                   // empty: end < begin
  add(Shape{5}, {5}, {kToEnd}, {2});              // empty: begin at the end
  add(Shape{6, 17}, {1, 1}, {5, 16}, {2, 5}, DType::kI32);
  add(Shape{3, 4, 5}, {0, 1, 1}, {kToEnd, kToEnd, 4}, {2, 2, 1}, DType::kI64);
  add(Shape{8, 3}, {1, 0}, {8, 3}, {3, 2}, DType::kBool);
  auto bad = [&](const char* label, Shape in, IntList b, IntList e, IntList s, const char* msg) {
    t.bad.push_back({label, {{DType::kF32, in}},
                     Attrs{{"begin", b}, {"end", e}, {"strides", s}}, msg});
  };
  bad("lengths", Shape{2, 3}, {0}, {1, 1}, {1, 1},
      "expected begin, end and strides of length 2 (the rank), got 1, 2 and 2");
  bad("negative begin", Shape{4}, {-1}, {3}, {1}, "begin must be >= 0, got -1 in dimension 0");
  bad("negative end", Shape{4}, {0}, {-1}, {1}, "end must be >= 0");
  bad("zero stride", Shape{4, 4}, {0, 0}, {4, 4}, {1, 0}, "strides must be >= 1, got 0 in dimension 1");
  bad("begin past end", Shape{3}, {4}, {kToEnd}, {1}, "begin 4 is past the end of dimension 0 (size 3)");
  bad("partial N", Shape{Shape::kBatch, 3}, {1, 0}, {kToEnd, 3}, {1, 1},
      "dimension 0 is the batch N and can only be taken whole");
  bad("N with end", Shape{Shape::kBatch, 3}, {0, 0}, {8, 3}, {1, 1}, "can only be taken whole");
  return t;
}

std::vector<Tensor> Grad(const GradContext& g) {
  const Shape& in = g.inputs[0].shape();
  absl::StatusOr<SliceAttrs> a = GetAttrs(g.attrs, in.rank());
  if (!g.needs_grad[0] || !a.ok()) return {Tensor()};
  const Shape& out = g.output.shape();
  IntList low(in.rank(), 0), high(in.rank(), 0), interior(in.rank(), 0);
  for (int d = 0; d < in.rank(); ++d) {
    if (in.dim(d) == Shape::kBatch) continue;
    low[d] = a->begin[d];
    interior[d] = a->strides[d] - 1;
    const int64_t covered = out.dim(d) > 0 ? (out.dim(d) - 1) * a->strides[d] + 1 : 0;
    high[d] = in.dim(d) - low[d] - covered;
  }
  return {Pad(g.output_grad, low, high, interior, 0.0)};
}

}  // namespace

const OpDef kSliceOp = {
    .name = "slice",
    .arity = 1,
    .fusion = FusionKind::kIndexMap,
    .infer = Infer,
    .grad = Grad,
    .interp = Interp,
    .index_map = Map,
    .reference = Reference,
    .tests = Tests,
};

Tensor Slice(const Tensor& x, const IntList& begin, const IntList& end, const IntList& strides,
             SourceLoc loc) {
  return Apply(kSliceOp, {x}, Attrs{{"begin", begin}, {"end", end}, {"strides", strides}}, loc);
}

}  // namespace kiln
