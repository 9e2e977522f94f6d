// pad: surrounds and interleaves a tensor of any dtype with a constant.
// Attributes low, high, interior (one non-negative entry per dimension) and
// value (a double, e.g. -inf; it must be exactly representable in the
// dtype). Dimension d of length n becomes low + n + (n - 1) * interior + high
// (low + high when n = 0): `interior` copies of `value` go between
// neighbours. A batch dimension N cannot be padded (all three must be 0).
// Gradient: slice of the output gradient with begin = low, stride =
// interior + 1 (the transpose of this linear map).
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"
#include "ops/strided_copy.h"

namespace kiln {
namespace {

struct PadAttrs {
  IntList low, high, interior;
  double value = 0;
};

absl::StatusOr<PadAttrs> GetAttrs(const Attrs& attrs, int rank) {
  PadAttrs a;
  KILN_ASSIGN_OR_RETURN(a.low, attrs.Get<IntList>("low"));
  KILN_ASSIGN_OR_RETURN(a.high, attrs.Get<IntList>("high"));
  KILN_ASSIGN_OR_RETURN(a.interior, attrs.Get<IntList>("interior"));
  KILN_ASSIGN_OR_RETURN(a.value, attrs.Get<double>("value"));
  if (a.low.size() != rank || a.high.size() != rank || a.interior.size() != rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected low, high and interior of length ", rank, " (the rank), got ",
        a.low.size(), ", ", a.high.size(), " and ", a.interior.size()));
  }
  return a;
}

int64_t PaddedLength(int64_t n, int64_t low, int64_t high, int64_t interior) {
  return low + high + (n > 0 ? n + (n - 1) * interior : 0);
}

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(PadAttrs a, GetAttrs(ctx.attrs, x.shape.rank()));
  KILN_RETURN_IF_ERROR(ElementBytes(x.dtype, a.value).status());
  std::vector<int64_t> dims;
  for (int d = 0; d < x.shape.rank(); ++d) {
    const int64_t lo = a.low[d], hi = a.high[d], in = a.interior[d];
    if (lo < 0 || hi < 0 || in < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "padding must be >= 0, got low ", lo, ", high ", hi, ", interior ", in,
          " in dimension ", d));
    }
    if (x.shape.dim(d) == Shape::kBatch) {
      if (lo != 0 || hi != 0 || in != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dimension ", d, " is the batch N and cannot be padded, got low ", lo,
            ", high ", hi, ", interior ", in));
      }
      dims.push_back(Shape::kBatch);
      continue;
    }
    dims.push_back(PaddedLength(x.shape.dim(d), lo, hi, in));
  }
  return TensorType{x.dtype, Shape(std::move(dims))};
}

// Fills the output with `value`, then copies x to its strided positions.
absl::Status Interp(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  Buffer& out = *ctx.output;
  KILN_ASSIGN_OR_RETURN(PadAttrs a, GetAttrs(ctx.attrs, x.shape().rank()));
  KILN_ASSIGN_OR_RETURN(std::vector<char> value, ElementBytes(x.dtype(), a.value));
  const size_t elem = DTypeSize(x.dtype());
  if (out.num_elements() != x.num_elements()) {
    FillElements(out.raw(), out.num_elements(), value.data(), elem, ctx.parallel);
  }
  if (x.num_elements() == 0) return absl::OkStatus();
  const std::vector<int64_t> out_strides = out.shape().Strides();
  int64_t offset = 0;
  std::vector<int64_t> dst_strides;
  for (int d = 0; d < x.shape().rank(); ++d) {
    offset += a.low[d] * out_strides[d];
    dst_strides.push_back(out_strides[d] * (a.interior[d] + 1));
  }
  StridedCopy(x.raw(), static_cast<char*>(out.raw()) + offset * elem, elem,
              x.shape().dims(), x.shape().Strides(), std::move(dst_strides), ctx.parallel);
  return absl::OkStatus();
}

// Each output coordinate c maps back to input coordinate (c - low) /
// (interior + 1) when that divides exactly and lands inside the input.
absl::Status Reference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Shape& out = ctx.output->shape();
  KILN_ASSIGN_OR_RETURN(PadAttrs a, GetAttrs(ctx.attrs, x.shape().rank()));
  const size_t elem = DTypeSize(x.dtype());
  for (int64_t i = 0; i < ctx.output->num_elements(); ++i) {
    int64_t rest = i, src = 0, in_stride = 1;
    bool inside = true;
    for (int d = out.rank() - 1; d >= 0; --d) {
      const int64_t c = rest % out.dim(d) - a.low[d];
      rest /= out.dim(d);
      const int64_t step = a.interior[d] + 1;
      if (c < 0 || c % step != 0 || c / step >= x.shape().dim(d)) inside = false;
      src += (c / step) * in_stride;
      in_stride *= x.shape().dim(d);
    }
    if (inside) {
      std::memcpy(static_cast<char*>(ctx.output->raw()) + i * elem,
                  static_cast<const char*>(x.raw()) + src * elem, elem);
    } else {
      ctx.output->SetFromDouble(i, a.value);
    }
  }
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  auto add = [&](Shape in, IntList lo, IntList hi, IntList interior, double value,
                 DType dtype = DType::kF32, bool check_grad = true) {
    const bool is_float = dtype == DType::kF32;
    Attrs attrs{{"low", lo}, {"high", hi}, {"interior", interior}, {"value", value}};
    t.cases.push_back({absl::StrCat(DTypeName(dtype), in.ToString(), " ", attrs.ToString()),
                       {{{dtype, in}, is_float ? -2.0 : 0.0, is_float ? 2.0 : 1.0, false, !is_float}},
                       attrs,
                       is_float && check_grad});
  };
  add(Shape{}, {}, {}, {}, 0.0);
  add(Shape{5}, {2}, {3}, {1}, 0.0);
  add(Shape{3, 4}, {1, 0}, {0, 2}, {0, 2}, 1.5);
  add(Shape{Shape::kBatch, 3}, {0, 1}, {0, 1}, {0, 0}, 0.0);
  add(Shape{2, 3, 17}, {0, 1, 3}, {1, 0, 0}, {1, 0, 2}, -0.5);
  add(Shape{2, 3}, {0, 0}, {0, 0}, {0, 0}, 0.0);  // no padding at all
  add(Shape{0, 3}, {1, 0}, {1, 2}, {3, 0}, 2.0);  // empty input
  add(Shape{3, 4}, {1, 1}, {1, 1}, {0, 0}, -std::numeric_limits<double>::infinity(),
      DType::kF32, /*check_grad=*/false);
  add(Shape{4, 5}, {1, 0}, {2, 1}, {1, 1}, 7.0, DType::kI32);
  add(Shape{3, 2}, {0, 2}, {1, 0}, {2, 0}, -3.0, DType::kI64);
  add(Shape{3, 3}, {1, 1}, {0, 1}, {1, 0}, 1.0, DType::kBool);
  auto bad = [&](const char* label, TensorType in, IntList lo, IntList hi, IntList interior,
                 double value, const char* msg) {
    t.bad.push_back({label, {in},
                     Attrs{{"low", lo}, {"high", hi}, {"interior", interior}, {"value", value}},
                     msg});
  };
  const TensorType f23{DType::kF32, Shape{2, 3}};
  bad("lengths", f23, {0, 0}, {0}, {0, 0}, 0,
      "expected low, high and interior of length 2 (the rank), got 2, 1 and 2");
  bad("negative low", f23, {0, -1}, {0, 0}, {0, 0}, 0,
      "padding must be >= 0, got low -1, high 0, interior 0 in dimension 1");
  bad("negative interior", f23, {0, 0}, {0, 0}, {-2, 0}, 0, "padding must be >= 0");
  bad("padded N", {DType::kF32, Shape{Shape::kBatch, 3}}, {1, 0}, {0, 0}, {0, 0}, 0,
      "dimension 0 is the batch N and cannot be padded");
  bad("fraction in i32", {DType::kI32, Shape{2}}, {1}, {1}, {0}, 1.5,
      "value 1.5 is not representable in i32");
  bad("-inf in i64", {DType::kI64, Shape{2}}, {1}, {1}, {0},
      -std::numeric_limits<double>::infinity(), "is not representable in i64");
  bad("2 in bool", {DType::kBool, Shape{2}}, {1}, {1}, {0}, 2.0,
      "value 2 is not representable in bool");
  return t;
}

std::vector<Tensor> Grad(const GradContext& g) {
  const Shape& in = g.inputs[0].shape();
  absl::StatusOr<PadAttrs> a = GetAttrs(g.attrs, in.rank());
  if (!g.needs_grad[0] || !a.ok()) return {Tensor()};
  IntList begin(in.rank(), 0), end(in.rank(), std::numeric_limits<int64_t>::max()),
      strides(in.rank(), 1);
  for (int d = 0; d < in.rank(); ++d) {
    if (in.dim(d) == Shape::kBatch) continue;
    begin[d] = a->low[d];
    strides[d] = a->interior[d] + 1;
    end[d] = a->low[d] + PaddedLength(in.dim(d), 0, 0, a->interior[d]);
  }
  return {Slice(g.output_grad, begin, end, strides)};
}

}  // namespace

const OpDef kPadOp = {
    .name = "pad",
    .arity = 1,
    .fusion = FusionKind::kIndexMap,
    .infer = Infer,
    .grad = Grad,
    .interp = Interp,
    .reference = Reference,
    .tests = Tests,
};

Tensor Pad(const Tensor& x, const IntList& low, const IntList& high, const IntList& interior,
           double value, SourceLoc loc) {
  return Apply(kPadOp, {x},
               Attrs{{"low", low}, {"high", high}, {"interior", interior}, {"value", value}},
               loc);
}

}  // namespace kiln
