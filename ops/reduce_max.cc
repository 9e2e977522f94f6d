// reduce_max: maximum over `axes` (keepdims 0|1) of an f32 tensor; an empty
// reduction gives -inf. NaN propagates: a NaN anywhere among the reduced
// elements makes the result NaN (like numpy.max and llvm.maximum).
// Gradient (TensorFlow's): the output gradient is shared equally among the
// elements equal to the maximum, g * (x == max) / count(x == max) (NaN where
// the maximum is NaN, since no element equals it).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/reduce_max.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/reduction-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
// Max that keeps NaN from either side (hn::Max may drop it on x86).
struct MaxFn {
  template <class D> HWY_INLINE auto Identity(D d) const {
    return hn::Neg(hn::Inf(d));
  }
  template <class D, class V> HWY_INLINE V operator()(D, V a, V b) const {
    return hn::IfThenElse(hn::IsNaN(a), a, hn::IfThenElse(hn::IsNaN(b), b, hn::Max(a, b)));
  }
  template <class D, class V> HWY_INLINE V Reduce(D d, V v) const {
    return hn::AllFalse(d, hn::IsNaN(v)) ? hn::MaxOfLanes(d, v) : hn::NaN(d);
  }
};
void MaxRows(const float* x, size_t count, size_t r, float* out) {
  for (size_t o = 0; o < count; ++o) out[o] = RowReduce(MaxFn(), x + o * r, r);
}
void MaxColumns(const float* x, size_t r, size_t stride, size_t inner, float* out) {
  ColumnReduce(MaxFn(), x, r, stride, inner, out);
}
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <limits>

#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"
#include "ops/reduction.h"

namespace kiln {
HWY_EXPORT(MaxRows);
HWY_EXPORT(MaxColumns);

namespace {

std::vector<Tensor> Grad(const GradContext& g) {
  const Tensor& x = g.inputs[0];
  const Shape& in = x.shape();
  absl::StatusOr<IntList> axes = ReducedAxes(g.attrs, in.rank());
  if (!g.needs_grad[0] || !axes.ok()) return {Tensor()};
  const Shape kept = KeepDimsShape(in, *axes);
  const Tensor max = Reshape(g.output, kept);
  const Tensor mask = Cast(Equal(x, max), DType::kF32);
  const Tensor count = ReduceSum(mask, *axes, /*keepdims=*/true);
  return {Div(Mul(mask, Reshape(g.output_grad, kept)), count)};
}

}  // namespace

const OpDef kReduceMaxOp = {
    .name = "reduce_max",
    .arity = 1,
    .fusion = FusionKind::kReduction,
    .infer = InferReduction,
    .grad = Grad,
    .interp = [](const KernelContext& ctx) {
      return RunReduction(ctx, {HWY_DYNAMIC_DISPATCH(MaxRows), HWY_DYNAMIC_DISPATCH(MaxColumns)});
    },
    .lower = [](LoweringContext& c) {  // NaN propagates as in MaxFn
      return LowerReduction(c, -std::numeric_limits<double>::infinity(),
                            [](llvm::IRBuilderBase& b, llvm::Value* acc, llvm::Value* x) {
                              return MaxOrMin(b, /*max=*/true, acc, x);
                            });
    },
    .reference = [](const KernelContext& ctx) {
      return ReductionReference(
          ctx,
          +[](double a, double b) {
            if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
            return a > b ? a : b;
          },
          -std::numeric_limits<double>::infinity());
    },
    .tests = ReductionTests,
};

Tensor ReduceMax(const Tensor& x, const IntList& axes, bool keepdims, SourceLoc loc) {
  return Apply(kReduceMaxOp, {x}, Attrs{{"axes", axes}, {"keepdims", int64_t{keepdims}}}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
