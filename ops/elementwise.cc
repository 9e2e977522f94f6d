#include "ops/elementwise.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per parallel chunk, at least

std::string DTypeList(std::initializer_list<DType> allowed) {
  return absl::StrJoin(allowed, " or ", [](std::string* out, DType t) {
    absl::StrAppend(out, DTypeName(t));
  });
}

}  // namespace

absl::StatusOr<TensorType> InferUnaryFloat(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  if (x.dtype != DType::kF32) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an f32 input, got ", x.ToString()));
  }
  return x;
}

absl::StatusOr<TensorType> InferBinary(const InferContext& ctx,
                                       std::initializer_list<DType> allowed,
                                       bool bool_result) {
  const TensorType& a = ctx.inputs[0];
  const TensorType& b = ctx.inputs[1];
  if (a.dtype != b.dtype) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected inputs of one dtype, got ", a.ToString(), " and ", b.ToString()));
  }
  if (std::find(allowed.begin(), allowed.end(), a.dtype) == allowed.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected ", DTypeList(allowed), " inputs, got ", a.ToString()));
  }
  KILN_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(a.shape, b.shape));
  return TensorType{bool_result ? DType::kBool : a.dtype, std::move(shape)};
}

absl::StatusOr<TensorType> InferBinaryFloat(const InferContext& ctx) {
  return InferBinary(ctx, {DType::kF32});
}
absl::StatusOr<TensorType> InferBinaryNumeric(const InferContext& ctx) {
  return InferBinary(ctx, {DType::kF32, DType::kI32, DType::kI64});
}
absl::StatusOr<TensorType> InferCompare(const InferContext& ctx) {
  return InferBinary(ctx, {DType::kF32, DType::kI32, DType::kI64},
                     /*bool_result=*/true);
}

absl::Status RunUnary(const KernelContext& ctx, UnaryKernelF32 kernel) {
  const float* x = ctx.inputs[0]->data<float>();
  float* y = ctx.output->data<float>();
  ctx.parallel.For(ctx.output->num_elements(), kGrain,
                   [&](int64_t begin, int64_t end) {
                     kernel(x + begin, y + begin, end - begin);
                   });
  return absl::OkStatus();
}

namespace {

// The two inputs' strides over the output's dimensions after merging
// dimensions that can be walked as one: the last dimension is the inner run.
struct BroadcastPlan {
  std::vector<int64_t> dims, a_strides, b_strides;
};

BroadcastPlan PlanBroadcast(const Shape& a, const Shape& b, const Shape& out) {
  const int rank = out.rank();
  auto strides_of = [&](const Shape& in) {
    std::vector<int64_t> s(rank, 0);
    int64_t stride = 1;
    for (int i = rank - 1; i >= 0; --i) {
      const int j = in.rank() - rank + i;
      if (j < 0) break;
      s[i] = in.dim(j) == 1 ? 0 : stride;
      stride *= in.dim(j);
    }
    return s;
  };
  std::vector<int64_t> sa = strides_of(a), sb = strides_of(b);
  BroadcastPlan plan;
  for (int i = 0; i < rank; ++i) {
    if (out.dim(i) == 1) continue;  // size-1 dimensions do not move anything
    if (!plan.dims.empty() &&
        plan.a_strides.back() == sa[i] * out.dim(i) &&
        plan.b_strides.back() == sb[i] * out.dim(i)) {
      plan.dims.back() *= out.dim(i);
      plan.a_strides.back() = sa[i];
      plan.b_strides.back() = sb[i];
    } else {
      plan.dims.push_back(out.dim(i));
      plan.a_strides.push_back(sa[i]);
      plan.b_strides.push_back(sb[i]);
    }
  }
  if (plan.dims.empty()) plan = {{1}, {0}, {0}};
  return plan;
}

// Walks the output in parallel chunks; for each contiguous run of the inner
// dimension calls run(a_offset, b_offset, out_offset, length, mode).
template <typename Run>
void ForEachRun(const KernelContext& ctx, Run run) {
  const BroadcastPlan plan =
      PlanBroadcast(ctx.inputs[0]->shape(), ctx.inputs[1]->shape(),
                    ctx.output->shape());
  const int outer_rank = static_cast<int>(plan.dims.size()) - 1;
  const int64_t inner = plan.dims.back();
  const int64_t sa_inner = plan.a_strides.back();
  const int64_t sb_inner = plan.b_strides.back();
  const int mode = (sa_inner == 0 ? 1 : 0) | (sb_inner == 0 ? 2 : 0);
  ctx.parallel.For(
      ctx.output->num_elements(), kGrain, [&](int64_t begin, int64_t end) {
        int64_t pos = begin;
        while (pos < end) {
          int64_t row = pos / inner;
          const int64_t col = pos % inner;
          const int64_t len = std::min(inner - col, end - pos);
          int64_t a_off = col * sa_inner, b_off = col * sb_inner;
          for (int d = outer_rank - 1; d >= 0; --d) {
            const int64_t idx = row % plan.dims[d];
            row /= plan.dims[d];
            a_off += idx * plan.a_strides[d];
            b_off += idx * plan.b_strides[d];
          }
          run(a_off, b_off, pos, len, mode);
          pos += len;
        }
      });
}

template <typename T, typename TOut>
absl::Status RunTyped(const KernelContext& ctx, BinaryKernel<T, TOut> kernel) {
  if (kernel == nullptr) {
    return absl::UnimplementedError(absl::StrCat(
        "no kernel for ", DTypeName(ctx.inputs[0]->dtype()), " inputs"));
  }
  const T* a = ctx.inputs[0]->data<T>();
  const T* b = ctx.inputs[1]->data<T>();
  TOut* out = ctx.output->data<TOut>();
  ForEachRun(ctx, [&](int64_t ao, int64_t bo, int64_t oo, int64_t n, int mode) {
    kernel(a + ao, b + bo, out + oo, n, mode);
  });
  return absl::OkStatus();
}

}  // namespace

absl::Status RunBinary(const KernelContext& ctx, const BinaryKernels& k) {
  switch (ctx.inputs[0]->dtype()) {
    case DType::kF32: return RunTyped<float, float>(ctx, k.f32);
    case DType::kI32: return RunTyped<int32_t, int32_t>(ctx, k.i32);
    case DType::kI64: return RunTyped<int64_t, int64_t>(ctx, k.i64);
    default: return absl::InvalidArgumentError("unsupported dtype");
  }
}

absl::Status RunCompare(const KernelContext& ctx, const CompareKernels& k) {
  switch (ctx.inputs[0]->dtype()) {
    case DType::kF32: return RunTyped<float, uint8_t>(ctx, k.f32);
    case DType::kI32: return RunTyped<int32_t, uint8_t>(ctx, k.i32);
    case DType::kI64: return RunTyped<int64_t, uint8_t>(ctx, k.i64);
    default: return absl::InvalidArgumentError("unsupported dtype");
  }
}

int64_t BroadcastSourceIndex(const Shape& in_shape, const Shape& out_shape,
                             int64_t out_index) {
  int64_t in_index = 0, in_stride = 1;
  for (int i = out_shape.rank() - 1; i >= 0; --i) {
    const int64_t coord = out_index % out_shape.dim(i);
    out_index /= out_shape.dim(i);
    const int j = in_shape.rank() - out_shape.rank() + i;
    if (j < 0) break;
    if (in_shape.dim(j) != 1) in_index += coord * in_stride;
    in_stride *= in_shape.dim(j);
  }
  return in_index;
}

Tensor ReduceToShape(const Tensor& grad, const Shape& shape) {
  if (!grad.ok() || grad.shape() == shape) return grad;
  const Shape& g = grad.shape();
  IntList axes;
  const int lead = g.rank() - shape.rank();
  for (int i = 0; i < g.rank(); ++i) {
    if (i < lead || (shape.dim(i - lead) == 1 && g.dim(i) != 1)) axes.push_back(i);
  }
  Tensor summed = axes.empty() ? grad : ReduceSum(grad, axes, /*keepdims=*/true);
  return summed.ok() && summed.shape() == shape ? summed : Reshape(summed, shape);
}

namespace {

std::vector<Shape> UnaryShapes() {
  return {Shape{}, Shape{7}, Shape{3, 17}, Shape{Shape::kBatch, 2, 19}};
}

}  // namespace

OpTests UnaryFloatTests(double lo, double hi, bool avoid_integers) {
  OpTests t;
  for (const Shape& s : UnaryShapes()) {
    t.cases.push_back({s.ToString(), {{{DType::kF32, s}, lo, hi, avoid_integers}}});
  }
  t.bad.push_back({"integer input", {{DType::kI32, Shape{3}}}, {}, "expected an f32 input"});
  return t;
}

OpTests BinaryTests(double lo, double hi, std::initializer_list<DType> dtypes,
                    bool avoid_integers) {
  OpTests t;
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {Shape{}, Shape{}},
      {Shape{3, 17}, Shape{3, 17}},
      {Shape{3, 1}, Shape{1, 5}},
      {Shape{4, 17}, Shape{17}},
      {Shape{}, Shape{2, 9}},
      {Shape{Shape::kBatch, 2, 19}, Shape{2, 1}},
  };
  auto add_cases = [&](DType dtype) {
    for (const auto& [a, b] : pairs) {
      TestInput ia{{dtype, a}, lo, hi, avoid_integers, dtype != DType::kF32};
      TestInput ib{{dtype, b}, lo, hi, avoid_integers, dtype != DType::kF32};
      t.cases.push_back({absl::StrCat(DTypeName(dtype), a.ToString(), b.ToString()),
                         {ia, ib}});
    }
  };
  add_cases(DType::kF32);
  for (DType d : dtypes) add_cases(d);
  t.bad.push_back({"no broadcast", {{DType::kF32, Shape{3}}, {DType::kF32, Shape{4}}},
                   {}, "do not broadcast"});
  t.bad.push_back({"mixed dtypes", {{DType::kF32, Shape{3}}, {DType::kI32, Shape{3}}},
                   {}, "expected inputs of one dtype"});
  t.bad.push_back({"bool inputs", {{DType::kBool, Shape{3}}, {DType::kBool, Shape{3}}},
                   {}, "inputs, got bool[3]"});
  return t;
}

}  // namespace kiln
