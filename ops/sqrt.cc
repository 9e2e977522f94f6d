// sqrt: the square root, elementwise on f32 (correctly rounded; NaN below 0).
// Gradient: grad * 0.5 / y, reusing the output y (inf at x = 0).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/sqrt.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct SqrtFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const { return hn::Sqrt(x); }
};
void SqrtF32(const float* x, float* y, size_t n) { UnaryLoop(SqrtFn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(SqrtF32);

const OpDef kSqrtOp = {
    .name = "sqrt",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Tensor& y = g.output;  // grad * 0.5 / y
      return {Mul(g.output_grad, Div(ScalarLike(y, 0.5), y))};
    },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(SqrtF32));
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return c.builder.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, c.operands[0]);
    }>,
    .reference = UnaryReference<+[](double x) { return std::sqrt(x); }>,
    .tests = [] { return UnaryFloatTests(0.1, 4); },
};

Tensor Sqrt(const Tensor& x, SourceLoc loc) { return Apply(kSqrtOp, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
