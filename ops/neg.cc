// neg: -x, elementwise on f32. Gradient: -grad.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/neg.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct NegFn {
  template <class D, class V>
  HWY_INLINE V operator()(D, V x) const { return hn::Neg(x); }
};
void NegF32(const float* x, float* y, size_t n) { UnaryLoop(NegFn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(NegF32);

const OpDef kNegOp = {
    .name = "neg",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> { return {Neg(g.output_grad)}; },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(NegF32));
    },
    .lower = LowerElement<+[](LoweringContext& c) { return c.builder.CreateFNeg(c.operands[0]); }>,
    .reference = UnaryReference<+[](double x) { return -x; }>,
    .tests = [] { return UnaryFloatTests(-3, 3); },
};

Tensor Neg(const Tensor& x, SourceLoc loc) { return Apply(kNegOp, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
