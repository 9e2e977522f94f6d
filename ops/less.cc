// less: a < b with numpy broadcasting, on f32, i32 and i64; bool result.
// Not differentiable (its result is not a float).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/less.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/compare-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct LessFn : StoreMaskAsBytes {
  template <class D, class V>
  HWY_INLINE auto operator()(D, V a, V b) const { return hn::Lt(a, b); }
};
void LessF32(const float* a, const float* b, uint8_t* o, size_t n, int m) { BinaryLoop(LessFn(), a, b, o, n, m); }
void LessI32(const int32_t* a, const int32_t* b, uint8_t* o, size_t n, int m) { BinaryLoop(LessFn(), a, b, o, n, m); }
void LessI64(const int64_t* a, const int64_t* b, uint8_t* o, size_t n, int m) { BinaryLoop(LessFn(), a, b, o, n, m); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(LessF32);
HWY_EXPORT(LessI32);
HWY_EXPORT(LessI64);

const OpDef kLessOp = {
    .name = "less",
    .arity = 2,
    .fusion = FusionKind::kElementwise,
    .infer = InferCompare,
    .interp = [](const KernelContext& ctx) {
      return RunCompare(ctx, {HWY_DYNAMIC_DISPATCH(LessF32), HWY_DYNAMIC_DISPATCH(LessI32),
                              HWY_DYNAMIC_DISPATCH(LessI64)});
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return Compare(c, llvm::CmpInst::FCMP_OLT, llvm::CmpInst::ICMP_SLT);
    }>,
    .reference = BinaryReference<+[](double a, double b) { return a < b ? 1.0 : 0.0; }>,
    .tests = [] { return BinaryTests(-3, 3, {DType::kI32, DType::kI64}); },
};

Tensor Less(const Tensor& a, const Tensor& b, SourceLoc loc) {
  return Apply(kLessOp, {a, b}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
