// equal: a == b with numpy broadcasting, on f32, i32 and i64; bool result
// (NaN equals nothing). Not differentiable (its result is not a float).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/equal.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/compare-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct EqualFn : StoreMaskAsBytes {
  template <class D, class V>
  HWY_INLINE auto operator()(D, V a, V b) const { return hn::Eq(a, b); }
};
void EqualF32(const float* a, const float* b, uint8_t* o, size_t n, int m) { BinaryLoop(EqualFn(), a, b, o, n, m); }
void EqualI32(const int32_t* a, const int32_t* b, uint8_t* o, size_t n, int m) { BinaryLoop(EqualFn(), a, b, o, n, m); }
void EqualI64(const int64_t* a, const int64_t* b, uint8_t* o, size_t n, int m) { BinaryLoop(EqualFn(), a, b, o, n, m); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(EqualF32);
HWY_EXPORT(EqualI32);
HWY_EXPORT(EqualI64);

const OpDef kEqualOp = {
    .name = "equal",
    .arity = 2,
    .fusion = FusionKind::kElementwise,
    .infer = InferCompare,
    .interp = [](const KernelContext& ctx) {
      return RunCompare(ctx, {HWY_DYNAMIC_DISPATCH(EqualF32), HWY_DYNAMIC_DISPATCH(EqualI32),
                              HWY_DYNAMIC_DISPATCH(EqualI64)});
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return Compare(c, llvm::CmpInst::FCMP_OEQ, llvm::CmpInst::ICMP_EQ);
    }>,
    .reference = BinaryReference<+[](double a, double b) { return a == b ? 1.0 : 0.0; }>,
    .tests = [] {
      // Integer-valued draws, so that ties (a == b) actually occur.
      OpTests t = BinaryTests(-2, 2, {DType::kI32, DType::kI64});
      for (TestCase& c : t.cases) {
        for (TestInput& in : c.inputs) in.integer_values = true;
      }
      return t;
    },
};

Tensor Equal(const Tensor& a, const Tensor& b, SourceLoc loc) {
  return Apply(kEqualOp, {a, b}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
