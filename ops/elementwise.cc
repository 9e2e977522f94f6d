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

// The inputs' strides over the output's dimensions after merging dimensions
// that can be walked as one: the last dimension is the inner run.
struct BroadcastPlan {
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> strides;  // [input][dimension]
};

BroadcastPlan PlanBroadcast(absl::Span<const Buffer* const> inputs,
                            const Shape& out) {
  const int rank = out.rank();
  const size_t n = inputs.size();
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
  std::vector<std::vector<int64_t>> s;
  for (const Buffer* in : inputs) s.push_back(strides_of(in->shape()));
  BroadcastPlan plan;
  plan.strides.resize(n);
  for (int i = 0; i < rank; ++i) {
    if (out.dim(i) == 1) continue;  // size-1 dimensions do not move anything
    bool merge = !plan.dims.empty();
    for (size_t k = 0; k < n && merge; ++k) {
      merge = plan.strides[k].back() == s[k][i] * out.dim(i);
    }
    if (merge) {
      plan.dims.back() *= out.dim(i);
      for (size_t k = 0; k < n; ++k) plan.strides[k].back() = s[k][i];
    } else {
      plan.dims.push_back(out.dim(i));
      for (size_t k = 0; k < n; ++k) plan.strides[k].push_back(s[k][i]);
    }
  }
  if (plan.dims.empty()) {
    plan.dims = {1};
    for (auto& st : plan.strides) st = {0};
  }
  return plan;
}

}  // namespace

void ForEachBroadcastRun(const KernelContext& ctx, BroadcastRunFn run) {
  const BroadcastPlan plan = PlanBroadcast(ctx.inputs, ctx.output->shape());
  const size_t n = ctx.inputs.size();
  KILN_CHECK(n <= kMaxBroadcastInputs);
  const int outer_rank = static_cast<int>(plan.dims.size()) - 1;
  const int64_t inner = plan.dims.back();
  int mode = 0;
  for (size_t k = 0; k < n; ++k) {
    if (plan.strides[k].back() == 0) mode |= 1 << k;
  }
  ctx.parallel.For(
      ctx.output->num_elements(), kGrain, [&](int64_t begin, int64_t end) {
        int64_t offsets[kMaxBroadcastInputs];
        int64_t pos = begin;
        while (pos < end) {
          int64_t row = pos / inner;
          const int64_t col = pos % inner;
          const int64_t len = std::min(inner - col, end - pos);
          for (size_t k = 0; k < n; ++k) offsets[k] = col * plan.strides[k].back();
          for (int d = outer_rank - 1; d >= 0; --d) {
            const int64_t idx = row % plan.dims[d];
            row /= plan.dims[d];
            for (size_t k = 0; k < n; ++k) offsets[k] += idx * plan.strides[k][d];
          }
          run(offsets, pos, len, mode);
          pos += len;
        }
      });
}

namespace {

template <typename T, typename TOut>
absl::Status RunTyped(const KernelContext& ctx, BinaryKernel<T, TOut> kernel) {
  if (kernel == nullptr) {
    return absl::UnimplementedError(absl::StrCat(
        "no kernel for ", DTypeName(ctx.inputs[0]->dtype()), " inputs"));
  }
  const T* a = ctx.inputs[0]->data<T>();
  const T* b = ctx.inputs[1]->data<T>();
  TOut* out = ctx.output->data<TOut>();
  ForEachBroadcastRun(ctx, [&](const int64_t* off, int64_t oo, int64_t n, int mode) {
    kernel(a + off[0], b + off[1], out + oo, n, mode);
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

std::vector<Tensor> ExtremumGrad(const GradContext& g, bool max) {
  const Tensor& a = g.inputs[0];
  const Tensor& b = g.inputs[1];
  const Tensor a_wins = max ? LessEqual(b, a) : LessEqual(a, b);
  const Tensor zero = ScalarLike(g.output_grad, 0.0);
  std::vector<Tensor> grads(2);
  if (g.needs_grad[0]) grads[0] = ReduceToShape(Select(a_wins, g.output_grad, zero), a.shape());
  if (g.needs_grad[1]) grads[1] = ReduceToShape(Select(a_wins, zero, g.output_grad), b.shape());
  return grads;
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

OpTests ExtremumTests() {
  OpTests t = BinaryTests(-3, 3, {DType::kI32, DType::kI64});
  for (TestCase& c : t.cases) {
    if (c.inputs[0].type.dtype != DType::kF32) continue;
    c.inputs[0].avoid_integers = true;
    c.inputs[1].integer_values = true;
  }
  const TestInput tie{{DType::kF32, Shape{3, 17}}, -2, 2, false, true};
  t.cases.push_back({"f32 ties", {tie, tie}, {}, /*check_grad=*/false});
  return t;
}

}  // namespace kiln
