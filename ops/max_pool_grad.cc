// max_pool_grad: the gradient of max_pool with respect to x, f32,
// channels-last. x [B, spatial..., C], output_grad [B, out..., C] (max_pool's
// output shape) -> dx [B, spatial..., C]: each window's gradient goes to the
// FIRST maximum of the window in window order (row-major over the window;
// a later cell wins only when strictly greater; padding never), and
// overlapping windows add up. Attrs as max_pool: window, strides, pad_low,
// pad_high.
// Gradient: none for x (piecewise constant). For output_grad the map is
// linear: its transpose gathers G at each window's first maximum, built as
// slices of the -inf-padded x compared with max_pool(x), and a select chain
// that keeps the first tap that equals the maximum.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/max_pool_grad.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/max_pool_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
void MaxPoolGradF32(const ConvGeometry& g, const float* x, const float* dy, float* dx,
                    int64_t begin, int64_t end) {
  MaxPoolGradBlocks(g, x, dy, dx, begin, end);
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
HWY_EXPORT(MaxPoolGradF32);
namespace {

absl::StatusOr<ConvGeometry> Geometry(const Shape& x, const Shape& dy, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, PoolGeometryOf(x, attrs));
  KILN_RETURN_IF_ERROR(CheckShapeMatches("output_grad", dy, g.OutputShape()));
  return g;
}

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  KILN_RETURN_IF_ERROR(CheckAllF32(ctx.inputs));
  KILN_RETURN_IF_ERROR(Geometry(ctx.inputs[0].shape, ctx.inputs[1].shape, ctx.attrs).status());
  return ctx.inputs[0];
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Buffer& dy = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(x.shape(), dy.shape(), ctx.attrs));
  const int64_t chunks = (g.in_channels + kMaxPoolGradChannels - 1) / kMaxPoolGradChannels;
  ctx.parallel.For(g.batch * chunks, 1, [&](int64_t begin, int64_t end) {
    HWY_DYNAMIC_DISPATCH(MaxPoolGradF32)(g, x.data<float>(), dy.data<float>(),
                                         ctx.output->data<float>(), begin, end);
  });
  return absl::OkStatus();
}

// Plain loops: find each window's first maximum, add the window's gradient.
absl::Status Reference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Buffer& dy = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(x.shape(), dy.shape(), ctx.attrs));
  const int64_t C = g.in_channels;
  std::vector<int64_t> arg(dy.num_elements(), -1);  // x index of each window's maximum
  ForEachWindowTap(g, [&](int64_t out_cell, int64_t, int64_t in_cell) {
    for (int64_t c = 0; c < C; ++c) {
      int64_t& a = arg[out_cell * C + c];
      if (a < 0 || x.GetAsDouble(in_cell * C + c) > x.GetAsDouble(a)) a = in_cell * C + c;
    }
  });
  std::vector<double> dx(x.num_elements(), 0.0);
  for (size_t i = 0; i < arg.size(); ++i) dx[arg[i]] += dy.GetAsDouble(i);
  for (size_t i = 0; i < dx.size(); ++i) ctx.output->SetFromDouble(i, dx[i]);
  return absl::OkStatus();
}

// The JIT gathers each input cell's gradient in a window kernel instead.
absl::StatusOr<WindowReduction> Windows(absl::Span<const TensorType> inputs,
                                        const TensorType& /*output*/, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(inputs[0].shape, inputs[1].shape, attrs));
  return MaxPoolGradWindows(g);
}

OpTests Tests() {
  OpTests t;
  for (const ConvTestConfig& c : PoolTestConfigs()) {
    const Shape out = PoolGeometryOf(c.x, c.attrs)->OutputShape();
    t.cases.push_back({c.label, {PoolTestInput(c.x), {{DType::kF32, out}}}, c.attrs});
  }
  auto bad = [&](std::string label, Shape x, Shape dy, Attrs attrs, std::string message,
                 DType dtype = DType::kF32) {
    t.bad.push_back({std::move(label), {{DType::kF32, x}, {dtype, dy}}, std::move(attrs),
                     std::move(message)});
  };
  const Attrs a2 = PoolAttrs({2, 2}, {2, 2}, {0, 0}, {0, 0});
  bad("i32 output_grad", {1, 4, 4, 1}, {1, 2, 2, 1}, a2,
      "expected f32 inputs, got f32[1,4,4,1], i32[1,2,2,1]", DType::kI32);
  bad("output_grad shape", {1, 4, 4, 1}, {1, 3, 2, 1}, a2,
      "expected output_grad of shape [1,2,2,1], got [1,3,2,1]");
  bad("output_grad channels", {1, 4, 4, 1}, {1, 2, 2, 2}, a2,
      "expected output_grad of shape [1,2,2,1], got [1,2,2,2]");
  bad("zero stride", {1, 4, 4, 1}, {1, 2, 2, 1}, PoolAttrs({2, 2}, {0, 2}, {0, 0}, {0, 0}),
      "strides must be >= 1, got (0,2)");
  bad("pad as large as the window", {1, 4, 4, 1}, {1, 2, 2, 1},
      PoolAttrs({2, 2}, {2, 2}, {0, 0}, {0, 3}), "pads must be smaller than the window");
  bad("rank 2", {4, 4}, {2, 2}, a2, "expected an input of rank 3, 4 or 5");
  return t;
}

// The transpose of dx = A(x) output_grad applied to G (shaped like x): at
// each output cell, G at the window's first maximum.
std::vector<Tensor> Grad(const GradContext& g) {
  std::vector<Tensor> grads(2);  // none for x: piecewise constant
  if (!g.needs_grad[1]) return grads;
  const Tensor& x = g.inputs[0];
  absl::StatusOr<ConvGeometry> geo = PoolGeometryOf(x.shape(), g.attrs);
  if (!geo.ok()) return grads;
  const PoolParams p = PoolParamsOf(g.attrs);
  const int r = geo->rank, off = 3 - r;
  IntList low(r + 2, 0), high(r + 2, 0), interior(r + 2, 0);
  for (int i = 0; i < r; ++i) {
    low[1 + i] = p.pad_low[i];
    high[1 + i] = p.pad_high[i];
  }
  const Tensor xp = Pad(x, low, high, interior, -std::numeric_limits<double>::infinity());
  const Tensor gp = Pad(g.output_grad, low, high, interior, 0.0);
  const Tensor y = MaxPool(x, p.window, p.strides, p.pad_low, p.pad_high);
  // Tap t of every window, as strided slices of the padded tensors.
  std::vector<Tensor> equal, picked;
  IntList k(r, 0);
  for (int64_t t = 0; t < geo->taps(); ++t) {
    IntList begin(r + 2, 0), end(r + 2, std::numeric_limits<int64_t>::max()),
        strides(r + 2, 1);
    for (int64_t i = r - 1, rest = t; i >= 0; --i) {
      k[i] = rest % p.window[i];
      rest /= p.window[i];
      begin[1 + i] = k[i];
      end[1 + i] = k[i] + (geo->out[off + i] - 1) * p.strides[i] + 1;
      strides[1 + i] = p.strides[i];
    }
    equal.push_back(Equal(Slice(xp, begin, end, strides), y));
    picked.push_back(Slice(gp, begin, end, strides));
  }
  Tensor result = ScalarLike(y, 0.0);
  for (int64_t t = geo->taps() - 1; t >= 0; --t) result = Select(equal[t], picked[t], result);
  grads[1] = result;
  return grads;
}

}  // namespace

const OpDef kMaxPoolGradOp = {
    .name = "max_pool_grad",
    .arity = 2,
    .fusion = FusionKind::kContraction,
    .infer = Infer,
    .grad = Grad,
    .interp = Interp,
    .window = Windows,
    .reference = Reference,
    .tests = Tests,
};

Tensor MaxPoolGrad(const Tensor& x, const Tensor& output_grad, const IntList& window,
                   const IntList& strides, const IntList& pad_low, const IntList& pad_high,
                   SourceLoc loc) {
  return Apply(kMaxPoolGradOp, {x, output_grad}, PoolAttrs(window, strides, pad_low, pad_high),
               loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
