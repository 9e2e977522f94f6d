// minimum: the smaller of a and b with numpy broadcasting, on f32, i32 and
// i64 (f32: NaN if either is NaN, as in numpy).
// Gradient: the output gradient goes to a where a <= b and to b where a > b
// (on a tie all of it goes to the first input a), summed back to each
// input's shape.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/minimum.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct MinimumFn : StoreSame {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const {
    const V m = hn::Min(a, b);
    if constexpr (hwy::IsFloat<hn::TFromD<D>>()) {
      // NaN handling of Max/Min differs between targets: propagate it here.
      return hn::IfThenElse(hn::IsNaN(a), a, hn::IfThenElse(hn::IsNaN(b), b, m));
    } else {
      return m;
    }
  }
};
template <typename T>
void MinimumLoop(const T* a, const T* b, T* out, size_t n, int mode) {
  BinaryLoop(MinimumFn(), a, b, out, n, mode);
}
void MinimumF32(const float* a, const float* b, float* o, size_t n, int m) { MinimumLoop(a, b, o, n, m); }
void MinimumI32(const int32_t* a, const int32_t* b, int32_t* o, size_t n, int m) { MinimumLoop(a, b, o, n, m); }
void MinimumI64(const int64_t* a, const int64_t* b, int64_t* o, size_t n, int m) { MinimumLoop(a, b, o, n, m); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <limits>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(MinimumF32);
HWY_EXPORT(MinimumI32);
HWY_EXPORT(MinimumI64);

const OpDef kMinimumOp = {
    .name = "minimum",
    .arity = 2,
    .fusion = FusionKind::kElementwise,
    .infer = InferBinaryNumeric,
    .grad = [](const GradContext& g) { return ExtremumGrad(g, /*max=*/false); },
    .interp = [](const KernelContext& ctx) {
      return RunBinary(ctx, {HWY_DYNAMIC_DISPATCH(MinimumF32), HWY_DYNAMIC_DISPATCH(MinimumI32),
                             HWY_DYNAMIC_DISPATCH(MinimumI64)});
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return MaxOrMin(c.builder, /*max=*/false, c.operands[0], c.operands[1]);
    }>,
    .reference = BinaryReference<+[](double a, double b) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
      return b < a ? b : a;
    }>,
    .tests = ExtremumTests,
};

Tensor Minimum(const Tensor& a, const Tensor& b, SourceLoc loc) {
  return Apply(kMinimumOp, {a, b}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
