// conv: N-d convolution (cross-correlation, no kernel flip) on f32 in the
// channels-last layout, 1, 2 or 3 spatial dims:
//   x [B, spatial..., Cin], filter [k..., Cin/groups, Cout] (the Keras
//   kernel layout) -> y [B, out..., Cout],
//   y[b, o, f] = sum_{t, c} xpad[b, o * s + t * d, G(f) * Cin/groups + c] * filter[t, c, f]
// where xpad is x with pad_low / pad_high zeros on each spatial dim and
// G(f) = f / (Cout / groups) is f's group; out = floor((n + pad_low +
// pad_high - ((k - 1) * d + 1)) / s) + 1 (see ops/conv_geometry.h).
// Attrs: strides, dilations, pad_low, pad_high (IntList, one entry per
// spatial dim), groups (int64; groups = Cin is depthwise).
// Gradient (bilinear): dx = conv_input_grad(g, filter), dfilter =
// conv_filter_grad(x, g), with the same geometry attributes.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/conv.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/conv_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
void ConvF32(const ConvGeometry& g, const float* xpad, const int64_t* off, const float* w,
             float* y, int64_t begin, int64_t end) {
  ConvForwardRows(g, xpad, off, w, y, begin, end);
}
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/conv_geometry.h"
#include "ops/conv_gemm.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(ConvF32);
namespace {

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  KILN_RETURN_IF_ERROR(CheckAllF32(ctx.inputs));
  KILN_ASSIGN_OR_RETURN(ConvGeometry g,
                        ConvGeometryOf(ctx.inputs[0].shape, ctx.inputs[1].shape, ctx.attrs));
  return TensorType{DType::kF32, g.OutputShape()};
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Buffer& w = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, ConvGeometryOf(x.shape(), w.shape(), ctx.attrs));
  std::unique_ptr<float[]> storage;
  const float* xpad = PaddedInput(g, x.data<float>(), ctx.parallel, storage);
  const std::vector<int64_t> off = TapOffsets(g, g.in_channels);
  const int64_t row_work = g.out[2] * g.taps() * g.in_per_group() * g.out_channels;
  ctx.parallel.For(g.batch * g.out[0] * g.out[1], std::max<int64_t>(1, (1 << 16) / row_work),
                   [&](int64_t begin, int64_t end) {
                     HWY_DYNAMIC_DISPATCH(ConvF32)(g, xpad, off.data(), w.data<float>(),
                                                   ctx.output->data<float>(), begin, end);
                   });
  return absl::OkStatus();
}

absl::Status Reference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Buffer& w = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, ConvGeometryOf(x.shape(), w.shape(), ctx.attrs));
  std::vector<double> y(ctx.output->num_elements(), 0.0);
  ForEachConvTerm(g, [&](int64_t xi, int64_t wi, int64_t yi) {
    y[yi] += x.GetAsDouble(xi) * w.GetAsDouble(wi);
  });
  for (size_t i = 0; i < y.size(); ++i) ctx.output->SetFromDouble(i, y[i]);
  return absl::OkStatus();
}

// The JIT runs it as an implicit GEMM (ops/conv_gemm.h).
absl::StatusOr<GemmProblem> Contraction(absl::Span<const TensorType> inputs,
                                        const TensorType& /*output*/, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, ConvGeometryOf(inputs[0].shape, inputs[1].shape, attrs));
  return ConvForwardGemm(g);
}

// Depthwise: the JIT runs it as a window reduction instead.
absl::StatusOr<WindowReduction> Windows(absl::Span<const TensorType> inputs,
                                        const TensorType& /*output*/, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, ConvGeometryOf(inputs[0].shape, inputs[1].shape, attrs));
  return DepthwiseForwardWindows(g);
}

OpTests Tests() {
  OpTests t;
  for (const ConvTestConfig& c : ConvTestConfigs()) {
    t.cases.push_back({c.label, {ConvTestInput(c.x), ConvTestInput(c.filter)}, c.attrs});
  }
  const Attrs a2 = ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 1);
  auto bad = [&](std::string label, Shape x, Shape w, Attrs attrs, std::string message,
                 DType dtype = DType::kF32) {
    t.bad.push_back({std::move(label), {{dtype, x}, {DType::kF32, w}}, std::move(attrs),
                     std::move(message)});
  };
  bad("i32 input", {1, 5, 5, 3}, {3, 3, 3, 4}, a2, "expected f32 inputs, got i32[1,5,5,3]",
      DType::kI32);
  bad("rank 2 input", {32, 784}, {3, 3}, a2, "expected an input of rank 3, 4 or 5");
  bad("filter rank", {1, 5, 5, 3}, {3, 3, 3}, a2, "expected a 4-D filter");
  bad("strides length", {1, 5, 5, 3}, {3, 3, 3, 4}, ConvAttrs({1, 1, 1}, {1, 1}, {0, 0}, {0, 0}, 1),
      "strides must have 2 entries (one per spatial dim), got (1,1,1)");
  bad("zero stride", {1, 5, 5, 3}, {3, 3, 3, 4}, ConvAttrs({0, 1}, {1, 1}, {0, 0}, {0, 0}, 1),
      "strides must be >= 1, got (0,1)");
  bad("zero dilation", {1, 5, 5, 3}, {3, 3, 3, 4}, ConvAttrs({1, 1}, {1, 0}, {0, 0}, {0, 0}, 1),
      "dilations must be >= 1, got (1,0)");
  bad("negative pad", {1, 5, 5, 3}, {3, 3, 3, 4}, ConvAttrs({1, 1}, {1, 1}, {-1, 0}, {0, 0}, 1),
      "pad_low must be >= 0, got (-1,0)");
  bad("pad_high length", {1, 5, 5, 3}, {3, 3, 3, 4}, ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0}, 1),
      "pad_high must have 2 entries");
  bad("zero groups", {1, 5, 5, 3}, {3, 3, 3, 4}, ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 0),
      "groups must be >= 1, got 0");
  bad("groups vs input channels", {1, 5, 5, 3}, {3, 3, 1, 4},
      ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 2), "input channels 3 are not divisible by groups 2");
  bad("filter input channels", {1, 5, 5, 3}, {3, 3, 4, 4}, a2,
      "has 4 input channels per group, expected 3");
  bad("groups vs output channels", {1, 5, 5, 4}, {3, 3, 2, 5},
      ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 2),
      "output channels 5 are not a positive multiple of groups 2");
  bad("output too small", {1, 2, 8, 1}, {3, 3, 1, 1}, a2,
      "non-positive output size in spatial dim 0: input 2 padded by 0+0 is shorter than the "
      "dilated kernel 3");
  bad("dilated output too small", {1, 5, 5, 1}, {3, 3, 1, 1},
      ConvAttrs({1, 1}, {1, 3}, {0, 0}, {0, 0}, 1), "non-positive output size in spatial dim 1");
  bad("unknown filter dim", {1, 5, 5, 1}, {Shape::kBatch, 3, 1, 1}, a2,
      "filter dimensions must be known");
  bad("zero kernel size", {1, 5, 5, 1}, {0, 3, 1, 1}, a2, "filter spatial sizes must be >= 1");
  bad("missing attributes", {1, 5, 5, 1}, {3, 3, 1, 1}, Attrs{{"groups", int64_t{1}}},
      "missing attribute 'strides'");
  bad("zero channels", {1, 5, 5, 0}, {3, 3, 0, 1}, a2, "expected at least one input channel");
  t.tolerance = 2e-5;
  return t;
}

}  // namespace

const OpDef kConvOp = {
    .name = "conv",
    .arity = 2,
    .fusion = FusionKind::kContraction,
    .infer = Infer,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Tensor& x = g.inputs[0];
      const Tensor& w = g.inputs[1];
      const ConvParams p = ConvParamsOf(g.attrs);
      std::vector<Tensor> grads(2);
      if (g.needs_grad[0]) {
        grads[0] = ConvInputGrad(g.output_grad, w, x.shape(), p.strides, p.dilations,
                                 p.pad_low, p.pad_high, p.groups);
      }
      if (g.needs_grad[1]) {
        grads[1] = ConvFilterGrad(x, g.output_grad, w.shape(), p.strides, p.dilations,
                                  p.pad_low, p.pad_high, p.groups);
      }
      return grads;
    },
    .interp = Interp,
    .contraction = Contraction,
    .window = Windows,
    .reference = Reference,
    .tests = Tests,
    .flops = [](absl::Span<const TensorType> inputs, const TensorType&,
                const Attrs& attrs) -> int64_t {
      absl::StatusOr<ConvGeometry> g = ConvGeometryOf(inputs[0].shape, inputs[1].shape, attrs);
      return g.ok() ? ConvFlops(*g) : 0;
    },
};

Tensor Conv(const Tensor& x, const Tensor& filter, const IntList& strides,
            const IntList& dilations, const IntList& pad_low, const IntList& pad_high,
            int64_t groups, SourceLoc loc) {
  return Apply(kConvOp, {x, filter}, ConvAttrs(strides, dilations, pad_low, pad_high, groups),
               loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
