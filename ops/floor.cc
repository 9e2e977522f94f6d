// floor: the largest integer not greater than x, elementwise on f32.
// Gradient: zero (the op is piecewise constant); the rule is kept so that
// autodiff through floor succeeds.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/floor.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct FloorFn {
  template <class D, class V>
  HWY_INLINE V operator()(D, V x) const { return hn::Floor(x); }
};
void FloorF32(const float* x, float* y, size_t n) { UnaryLoop(FloorFn(), x, y, n); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(FloorF32);

const OpDef kFloorOp = {
    .name = "floor",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = InferUnaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      return {ZerosLike(g.inputs[0])};
    },
    .interp = [](const KernelContext& ctx) {
      return RunUnary(ctx, HWY_DYNAMIC_DISPATCH(FloorF32));
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return c.builder.CreateUnaryIntrinsic(llvm::Intrinsic::floor, c.operands[0]);
    }>,
    .reference = UnaryReference<+[](double x) { return std::floor(x); }>,
    // Away from the jumps at the integers.
    .tests = [] { return UnaryFloatTests(-5, 5, /*avoid_integers=*/true); },
};

Tensor Floor(const Tensor& x, SourceLoc loc) { return Apply(kFloorOp, {x}, {}, loc); }

}  // namespace kiln
#endif  // HWY_ONCE
