// sign: -1, 0 or 1 by the sign of x, elementwise on f32 (±0 and NaN pass
// through unchanged).
// Gradient: zero (the op is piecewise constant); the rule is kept so that
// autodiff through sign succeeds.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/sign.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct SignFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    // Zero and NaN fail both comparisons and keep x.
    const V zero = hn::Zero(d);
    const V one = hn::Set(d, 1.0f);
    const V r = hn::IfThenElse(hn::Gt(x, zero), one, x);
    return hn::IfThenElse(hn::Lt(x, zero), hn::Neg(one), r);
  }
};
void SignF32(const float* x, float* y, size_t n) { UnaryLoop(SignFn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(SignF32);

const OpDef kSignOp = {
    .name = "sign",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      return {ZerosLike(g.inputs[0])};
    },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(SignF32));
    },
    .lower = LowerElement<+[](LoweringContext& c) {  // as SignFn
      llvm::IRBuilderBase& b = c.builder;
      llvm::Value* x = c.operands[0];
      llvm::Value* zero = SplatLike(c, c.result_type, 0.0);
      llvm::Value* one = SplatLike(c, c.result_type, 1.0);
      llvm::Value* r = b.CreateSelect(b.CreateFCmpOGT(x, zero), one, x);
      return b.CreateSelect(b.CreateFCmpOLT(x, zero), b.CreateFNeg(one), r);
    }>,
    .reference = UnaryReference<+[](double x) { return (x > 0) ? 1.0 : (x < 0) ? -1.0 : x; }>,
    // Away from the jump at 0.
    .tests = [] { return UnaryFloatTests(-3, 3, /*avoid_integers=*/true); },
};

Tensor Sign(const Tensor& x, SourceLoc loc) { return Apply(kSignOp, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
