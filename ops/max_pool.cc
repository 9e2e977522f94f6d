// max_pool: the maximum of each window, channels pooled independently, f32,
// channels-last with 1, 2 or 3 spatial dims: x [B, spatial..., C] ->
// [B, out..., C], out = floor((n + pad_low + pad_high - window) / s) + 1.
// Padding cells count as -inf (never selected); every window must reach a
// real cell (pads < window). Attrs: window, strides, pad_low, pad_high
// (IntList, one entry per spatial dim).
// Gradient: max_pool_grad(x, g), which routes each window's gradient to its
// first maximum (window order).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/max_pool.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/max_pool_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
void MaxPoolF32(const ConvGeometry& g, const float* x, float* y, int64_t begin, int64_t end) {
  MaxPoolRows(g, x, y, begin, end);
}
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <limits>
#include <vector>

#include "graph/status_macros.h"
#include "ops/conv_geometry.h"
#include "ops/conv_gemm.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(MaxPoolF32);
namespace {

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  KILN_RETURN_IF_ERROR(CheckAllF32(ctx.inputs));
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, PoolGeometryOf(ctx.inputs[0].shape, ctx.attrs));
  return TensorType{DType::kF32, g.OutputShape()};
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, PoolGeometryOf(x.shape(), ctx.attrs));
  const int64_t row_work = g.out[2] * g.taps() * g.in_channels;
  ctx.parallel.For(g.batch * g.out[0] * g.out[1], std::max<int64_t>(1, (1 << 15) / row_work),
                   [&](int64_t begin, int64_t end) {
                     HWY_DYNAMIC_DISPATCH(MaxPoolF32)(g, x.data<float>(),
                                                      ctx.output->data<float>(), begin, end);
                   });
  return absl::OkStatus();
}

// The JIT runs it as a window reduction (ops/conv_gemm.h).
absl::StatusOr<WindowReduction> Windows(absl::Span<const TensorType> inputs,
                                        const TensorType& /*output*/, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, PoolGeometryOf(inputs[0].shape, attrs));
  return MaxPoolWindows(g);
}

// Plain loops: the first strictly greater value in window order wins.
absl::Status Reference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, PoolGeometryOf(x.shape(), ctx.attrs));
  const int64_t C = g.in_channels;
  std::vector<double> best(ctx.output->num_elements(), -std::numeric_limits<double>::infinity());
  ForEachWindowTap(g, [&](int64_t out_cell, int64_t, int64_t in_cell) {
    for (int64_t c = 0; c < C; ++c) {
      best[out_cell * C + c] = std::max(best[out_cell * C + c], x.GetAsDouble(in_cell * C + c));
    }
  });
  for (size_t i = 0; i < best.size(); ++i) ctx.output->SetFromDouble(i, best[i]);
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  for (const ConvTestConfig& c : PoolTestConfigs()) {
    t.cases.push_back({c.label, {PoolTestInput(c.x)}, c.attrs});
  }
  auto bad = [&](std::string label, Shape x, Attrs attrs, std::string message,
                 DType dtype = DType::kF32) {
    t.bad.push_back({std::move(label), {{dtype, x}}, std::move(attrs), std::move(message)});
  };
  const Attrs a2 = PoolAttrs({2, 2}, {2, 2}, {0, 0}, {0, 0});
  bad("i32", {1, 4, 4, 1}, a2, "expected f32 inputs, got i32[1,4,4,1]", DType::kI32);
  bad("rank 2", {32, 784}, a2, "expected an input of rank 3, 4 or 5");
  bad("window length", {1, 4, 4, 1}, PoolAttrs({2}, {2, 2}, {0, 0}, {0, 0}),
      "window must have 2 entries (one per spatial dim), got (2)");
  bad("zero window", {1, 4, 4, 1}, PoolAttrs({0, 2}, {2, 2}, {0, 0}, {0, 0}),
      "window must be >= 1, got (0,2)");
  bad("zero stride", {1, 4, 4, 1}, PoolAttrs({2, 2}, {2, 0}, {0, 0}, {0, 0}),
      "strides must be >= 1, got (2,0)");
  bad("negative pad", {1, 4, 4, 1}, PoolAttrs({2, 2}, {2, 2}, {0, 0}, {0, -1}),
      "pad_high must be >= 0, got (0,-1)");
  bad("pad as large as the window", {1, 4, 4, 1}, PoolAttrs({2, 2}, {1, 1}, {2, 0}, {0, 0}),
      "pads must be smaller than the window");
  bad("window too large", {1, 4, 4, 1}, PoolAttrs({5, 2}, {1, 1}, {0, 0}, {0, 0}),
      "non-positive output size in spatial dim 0: input 4 padded by 0+0 is shorter than the "
      "window 5");
  bad("empty spatial dim", {1, 0, 4, 1}, PoolAttrs({2, 2}, {1, 1}, {1, 0}, {1, 0}),
      "expected non-empty spatial dims");
  bad("missing window", {1, 4, 4, 1}, Attrs{{"strides", IntList{1, 1}}},
      "missing attribute 'window'");
  return t;
}

}  // namespace

const OpDef kMaxPoolOp = {
    .name = "max_pool",
    .arity = 1,
    .fusion = FusionKind::kContraction,
    .infer = Infer,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const PoolParams p = PoolParamsOf(g.attrs);
      return {MaxPoolGrad(g.inputs[0], g.output_grad, p.window, p.strides, p.pad_low,
                          p.pad_high)};
    },
    .interp = Interp,
    .window = Windows,
    .reference = Reference,
    .tests = Tests,
};

Tensor MaxPool(const Tensor& x, const IntList& window, const IntList& strides,
               const IntList& pad_low, const IntList& pad_high, SourceLoc loc) {
  return Apply(kMaxPoolOp, {x}, PoolAttrs(window, strides, pad_low, pad_high), loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
