#include "ops/reduction.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace kiln {

absl::StatusOr<IntList> ReducedAxes(const Attrs& attrs, int rank) {
  KILN_ASSIGN_OR_RETURN(IntList axes, attrs.Get<IntList>("axes"));
  for (int64_t& a : axes) {
    KILN_ASSIGN_OR_RETURN(int n, NormalizeAxis(a, rank));
    a = n;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) {
    return absl::InvalidArgumentError("axes must not repeat");
  }
  return axes;
}

Shape KeepDimsShape(const Shape& in, const IntList& axes) {
  Shape out = in;
  for (int64_t a : axes) out.dim(a) = 1;
  return out;
}

absl::StatusOr<TensorType> InferReduction(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  if (x.dtype != DType::kF32) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an f32 input, got ", x.ToString()));
  }
  KILN_ASSIGN_OR_RETURN(IntList axes, ReducedAxes(ctx.attrs, x.shape.rank()));
  KILN_ASSIGN_OR_RETURN(int64_t keepdims, ctx.attrs.Get<int64_t>("keepdims"));
  if (keepdims) return TensorType{x.dtype, KeepDimsShape(x.shape, axes)};
  std::vector<int64_t> dims;
  for (int i = 0; i < x.shape.rank(); ++i) {
    if (!std::binary_search(axes.begin(), axes.end(), i)) dims.push_back(x.shape.dim(i));
  }
  return TensorType{x.dtype, Shape(std::move(dims))};
}

namespace {

// Reduces block [outer, r, inner] of `x` into `out` ([outer, inner]).
void ReduceBlock(const ReductionKernels& k, const Parallelism& parallel,
                 const float* x, int64_t outer, int64_t r, int64_t inner,
                 float* out) {
  if (inner == 1) {
    parallel.For(outer, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(r, 1)),
                 [&](int64_t b, int64_t e) { k.rows(x + b * r, e - b, r, out + b); });
    return;
  }
  constexpr int64_t kColumns = 256;
  const int64_t chunks = (inner + kColumns - 1) / kColumns;
  parallel.For(outer * chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      const int64_t o = w / chunks, c = (w % chunks) * kColumns;
      k.columns(x + o * r * inner + c, r, inner, std::min(kColumns, inner - c),
                out + o * inner + c);
    }
  });
}

}  // namespace

absl::Status RunReduction(const KernelContext& ctx, const ReductionKernels& k) {
  const Shape& in = ctx.inputs[0]->shape();
  KILN_ASSIGN_OR_RETURN(IntList axes, ReducedAxes(ctx.attrs, in.rank()));
  // Merge neighbouring dimensions of the same kind: (size, reduced?) blocks.
  std::vector<std::pair<int64_t, bool>> blocks;
  for (int i = 0; i < in.rank(); ++i) {
    const bool reduced = std::binary_search(axes.begin(), axes.end(), i);
    if (!blocks.empty() && blocks.back().second == reduced) {
      blocks.back().first *= in.dim(i);
    } else {
      blocks.push_back({in.dim(i), reduced});
    }
  }
  const float* src = ctx.inputs[0]->data<float>();
  std::vector<float> scratch[2];
  int flip = 0;
  bool any = false;
  // Reduce the last reduced block until none is left.
  for (int b = static_cast<int>(blocks.size()) - 1; b >= 0; --b) {
    if (!blocks[b].second) continue;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < b; ++i) outer *= blocks[i].first;
    for (int i = b + 1; i < static_cast<int>(blocks.size()); ++i) inner *= blocks[i].first;
    bool last = true;
    for (int i = 0; i < b; ++i) last = last && !blocks[i].second;
    float* dst = ctx.output->data<float>();
    if (!last) {
      scratch[flip].resize(outer * inner);
      dst = scratch[flip].data();
    }
    ReduceBlock(k, ctx.parallel, src, outer, blocks[b].first, inner, dst);
    src = dst;
    flip ^= 1;
    blocks[b].first = 1;
    any = true;
  }
  if (!any) {
    std::copy_n(src, ctx.output->num_elements(), ctx.output->data<float>());
  }
  return absl::OkStatus();
}

absl::Status ReductionReference(const KernelContext& ctx,
                                double (*combine)(double, double),
                                double identity) {
  const Buffer& x = *ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(IntList axes, ReducedAxes(ctx.attrs, x.shape().rank()));
  const Shape kept = KeepDimsShape(x.shape(), axes);
  std::vector<double> acc(ctx.output->num_elements(), identity);
  const std::vector<int64_t> kept_strides = kept.Strides();
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    int64_t rest = i, target = 0;
    for (int d = x.shape().rank() - 1; d >= 0; --d) {
      const int64_t coord = rest % x.shape().dim(d);
      rest /= x.shape().dim(d);
      if (kept.dim(d) != 1) target += coord * kept_strides[d];
    }
    acc[target] = combine(acc[target], x.GetAsDouble(i));
  }
  for (size_t i = 0; i < acc.size(); ++i) ctx.output->SetFromDouble(i, acc[i]);
  return absl::OkStatus();
}

OpTests ReductionTests() {
  OpTests t;
  auto add = [&](Shape s, IntList axes, int64_t keepdims) {
    t.cases.push_back({absl::StrCat(s.ToString(), " axes ", axes.size(), " keep ", keepdims),
                       {{{DType::kF32, s}}},
                       Attrs{{"axes", axes}, {"keepdims", keepdims}}});
  };
  add(Shape{37}, {0}, 0);
  add(Shape{5, 33}, {1}, 0);
  add(Shape{5, 33}, {0}, 1);
  add(Shape{Shape::kBatch, 3, 20}, {0, 2}, 0);
  add(Shape{4, 3, 5, 2}, {1, 3}, 1);
  add(Shape{2, 3}, {-1}, 0);
  add(Shape{2, 3}, {}, 0);
  t.bad.push_back({"axis out of range", {{DType::kF32, Shape{2, 3}}},
                   Attrs{{"axes", IntList{2}}, {"keepdims", int64_t{0}}}, "out of range"});
  t.bad.push_back({"repeated axis", {{DType::kF32, Shape{2, 3}}},
                   Attrs{{"axes", IntList{1, -1}}, {"keepdims", int64_t{0}}}, "must not repeat"});
  t.bad.push_back({"integer input", {{DType::kI32, Shape{2, 3}}},
                   Attrs{{"axes", IntList{1}}, {"keepdims", int64_t{0}}}, "expected an f32 input"});
  return t;
}

}  // namespace kiln
