// reduce_sum: sum over `axes` (keepdims 0|1) of an f32 tensor.
// Gradient: the output gradient broadcast back over the reduced axes.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/reduce_sum.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/reduction-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct SumFn {
  template <class D> HWY_INLINE auto Identity(D d) const { return hn::Zero(d); }
  template <class D, class V> HWY_INLINE V operator()(D, V a, V b) const { return hn::Add(a, b); }
  template <class D, class V> HWY_INLINE V Reduce(D d, V v) const { return hn::SumOfLanes(d, v); }
};
void SumRows(const float* x, size_t count, size_t r, float* out) {
  for (size_t o = 0; o < count; ++o) out[o] = RowReduce(SumFn(), x + o * r, r);
}
void SumColumns(const float* x, size_t r, size_t stride, size_t inner, float* out) {
  ColumnReduce(SumFn(), x, r, stride, inner, out);
}
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"
#include "ops/reduction.h"

namespace kiln {
HWY_EXPORT(SumRows);
HWY_EXPORT(SumColumns);

const OpDef kReduceSumOp = {
    .name = "reduce_sum",
    .arity = 1,
    .fusion = FusionKind::kReduction,
    .infer = InferReduction,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Shape& in = g.inputs[0].shape();
      absl::StatusOr<IntList> axes = ReducedAxes(g.attrs, in.rank());
      if (!axes.ok()) return {Tensor()};
      return {BroadcastTo(Reshape(g.output_grad, KeepDimsShape(in, *axes)), in)};
    },
    .interp = [](const KernelContext& ctx) {
      return RunReduction(ctx, {HWY_DYNAMIC_DISPATCH(SumRows), HWY_DYNAMIC_DISPATCH(SumColumns)});
    },
    .lower = [](LoweringContext& c) {
      return LowerReduction(c, 0.0, [](llvm::IRBuilderBase& b, llvm::Value* acc, llvm::Value* x) {
        return b.CreateFAdd(acc, x);
      }, kContract);
    },
    .reference = [](const KernelContext& ctx) {
      return ReductionReference(ctx, +[](double a, double b) { return a + b; }, 0.0);
    },
    .tests = ReductionTests,
};

Tensor ReduceSum(const Tensor& x, const IntList& axes, bool keepdims, SourceLoc loc) {
  return Apply(kReduceSumOp, {x}, Attrs{{"axes", axes}, {"keepdims", int64_t{keepdims}}}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
