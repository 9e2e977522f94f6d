// not_equal: a != b with numpy broadcasting, on f32, i32 and i64; bool
// result (NaN differs from everything, itself included). Not differentiable.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/not_equal.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/compare-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct NotEqualFn : StoreMaskAsBytes {
  template <class D, class V>
  // Not(Eq): x86's ordered Ne would call NaN equal to everything.
  HWY_INLINE auto operator()(D, V a, V b) const { return hn::Not(hn::Eq(a, b)); }
};
void NotEqualF32(const float* a, const float* b, uint8_t* o, size_t n, int m) { BinaryLoop(NotEqualFn(), a, b, o, n, m); }
void NotEqualI32(const int32_t* a, const int32_t* b, uint8_t* o, size_t n, int m) { BinaryLoop(NotEqualFn(), a, b, o, n, m); }
void NotEqualI64(const int64_t* a, const int64_t* b, uint8_t* o, size_t n, int m) { BinaryLoop(NotEqualFn(), a, b, o, n, m); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(NotEqualF32);
HWY_EXPORT(NotEqualI32);
HWY_EXPORT(NotEqualI64);

const OpDef kNotEqualOp = {
    .name = "not_equal",
    .arity = 2,
    .fusion = FusionKind::kElementwise,
    .infer = InferCompare,
    .interp = [](const KernelContext& ctx) {
      return RunCompare(ctx, {HWY_DYNAMIC_DISPATCH(NotEqualF32), HWY_DYNAMIC_DISPATCH(NotEqualI32),
                              HWY_DYNAMIC_DISPATCH(NotEqualI64)});
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return Compare(c, llvm::CmpInst::FCMP_UNE, llvm::CmpInst::ICMP_NE);
    }>,
    .reference = BinaryReference<+[](double a, double b) { return a != b ? 1.0 : 0.0; }>,
    .tests = [] {
      // Integer-valued draws, so that ties (a == b) actually occur.
      OpTests t = BinaryTests(-2, 2, {DType::kI32, DType::kI64});
      for (TestCase& c : t.cases) {
        for (TestInput& in : c.inputs) in.integer_values = true;
      }
      return t;
    },
};

Tensor NotEqual(const Tensor& a, const Tensor& b, SourceLoc loc) {
  return Apply(kNotEqualOp, {a, b}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
