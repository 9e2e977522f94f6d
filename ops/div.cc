// div: a / b with numpy broadcasting, on f32.
// Gradient: grad / b for a and -grad * (a / b) / b for b, reusing the output.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/div.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
struct DivFn : StoreSame {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const { return hn::Div(a, b); }
};
void DivF32(const float* a, const float* b, float* o, size_t n, int m) {
  BinaryLoop(DivFn(), a, b, o, n, m);
}
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(DivF32);

const OpDef kDivOp = {
    .name = "div",
    .arity = 2,
    .fusion = FusionKind::kElementwise,
    .infer = InferBinaryFloat,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      std::vector<Tensor> grads(2);
      const Tensor& b = g.inputs[1];
      if (g.needs_grad[0]) grads[0] = ReduceToShape(Div(g.output_grad, b), g.inputs[0].shape());
      if (g.needs_grad[1]) {
        grads[1] = ReduceToShape(Neg(Div(Mul(g.output_grad, g.output), b)), b.shape());
      }
      return grads;
    },
    .interp = [](const KernelContext& ctx) {
      return RunBinary(ctx, {.f32 = HWY_DYNAMIC_DISPATCH(DivF32)});
    },
    .lower = LowerElement<+[](LoweringContext& c) {
      return c.builder.CreateFDiv(c.operands[0], c.operands[1]);
    }>,
    .reference = BinaryReference<+[](double a, double b) { return a / b; }>,
    .tests = [] {
      OpTests t = BinaryTests(0.5, 3, {});
      t.bad.push_back({"integer inputs", {{DType::kI32, Shape{3}}, {DType::kI32, Shape{3}}},
                       {}, "expected f32 inputs"});
      return t;
    },
};

Tensor Div(const Tensor& a, const Tensor& b, SourceLoc loc) {
  return Apply(kDivOp, {a, b}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
