// less_equal: a <= b with numpy broadcasting, on f32, i32 and i64; bool
// result (false when either is NaN). Not differentiable.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/less_equal.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/compare-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct LessEqualFn : StoreMaskAsBytes {
  template <class D, class V>
  HWY_INLINE auto operator()(D, V a, V b) const {
    // Highway 1.0 has Le for floats only; Not(Gt) would make NaN <= x true.
    if constexpr (hwy::IsFloat<hn::TFromD<D>>()) {
      return hn::Le(a, b);
    } else {
      return hn::Not(hn::Gt(a, b));
    }
  }
};
void LessEqualF32(const float* a, const float* b, uint8_t* o, size_t n, int m) { BinaryLoop(LessEqualFn(), a, b, o, n, m); }
void LessEqualI32(const int32_t* a, const int32_t* b, uint8_t* o, size_t n, int m) { BinaryLoop(LessEqualFn(), a, b, o, n, m); }
void LessEqualI64(const int64_t* a, const int64_t* b, uint8_t* o, size_t n, int m) { BinaryLoop(LessEqualFn(), a, b, o, n, m); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(LessEqualF32);
HWY_EXPORT(LessEqualI32);
HWY_EXPORT(LessEqualI64);

const OpDef kLessEqualOp = {
    .name = "less_equal",
    .arity = 2,
    .fusion = FusionKind::kElementwise,
    .infer = InferCompare,
    .interp = [](const KernelContext& ctx) {
      return RunCompare(ctx, {HWY_DYNAMIC_DISPATCH(LessEqualF32), HWY_DYNAMIC_DISPATCH(LessEqualI32),
                              HWY_DYNAMIC_DISPATCH(LessEqualI64)});
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return Compare(c, llvm::CmpInst::FCMP_OLE, llvm::CmpInst::ICMP_SLE);
    }>,
    .reference = BinaryReference<+[](double a, double b) { return a <= b ? 1.0 : 0.0; }>,
    .tests = [] {
      // Integer-valued draws, so that ties (a == b) actually occur.
      OpTests t = BinaryTests(-2, 2, {DType::kI32, DType::kI64});
      for (TestCase& c : t.cases) {
        for (TestInput& in : c.inputs) in.integer_values = true;
      }
      return t;
    },
};

Tensor LessEqual(const Tensor& a, const Tensor& b, SourceLoc loc) {
  return Apply(kLessEqualOp, {a, b}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
