// conv_filter_grad: the gradient of conv with respect to its filter (dW),
// f32, channels-last. x [B, in..., Cin], output_grad [B, out..., Cout] ->
// dW [k..., Cin/groups, Cout] = filter_shape (a Shape attr, fully known):
//   dW[t, c, f] = sum_{b, o} xpad[b, o * s + t * d, G(f) * Cin/groups + c] * output_grad[b, o, f]
// with xpad, G(f) and the attrs (strides, dilations, pad_low, pad_high,
// groups) as in conv, plus filter_shape.
// Gradient (bilinear): d/dx = conv_input_grad(output_grad, G), d/d(output_grad)
// = conv(x, G).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/conv_filter_grad.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/conv_filter_grad_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
void ConvFilterGradF32(const ConvGeometry& g, const float* xpad, const int64_t* off,
                       const float* dy, float* dw, int64_t begin, int64_t end) {
  ConvFilterGradTiles(g, xpad, off, dy, dw, begin, end);
}
int64_t ConvFilterGradTileCount(const ConvGeometry& g) { return FilterGradTileCount(g); }
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/conv_geometry.h"
#include "ops/conv_gemm.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(ConvFilterGradF32);
HWY_EXPORT(ConvFilterGradTileCount);
namespace {

// The geometry of the forward conv whose filter gradient this is.
absl::StatusOr<ConvGeometry> Geometry(const Shape& x, const Shape& dy, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(Shape w, attrs.Get<Shape>("filter_shape"));
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, ConvGeometryOf(x, w, attrs));
  KILN_RETURN_IF_ERROR(CheckShapeMatches("output_grad", dy, g.OutputShape()));
  return g;
}

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  KILN_RETURN_IF_ERROR(CheckAllF32(ctx.inputs));
  KILN_ASSIGN_OR_RETURN(ConvGeometry g,
                        Geometry(ctx.inputs[0].shape, ctx.inputs[1].shape, ctx.attrs));
  return TensorType{DType::kF32, g.FilterShape()};
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Buffer& dy = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(x.shape(), dy.shape(), ctx.attrs));
  std::unique_ptr<float[]> storage;
  const float* xpad = PaddedInput(g, x.data<float>(), ctx.parallel, storage);
  const std::vector<int64_t> off = TapOffsets(g, g.in_channels);
  const int64_t tiles = HWY_DYNAMIC_DISPATCH(ConvFilterGradTileCount)(g);
  const int64_t tile_work = ConvFlops(g) / std::max<int64_t>(1, tiles);
  ctx.parallel.For(tiles, std::max<int64_t>(1, (1 << 17) / std::max<int64_t>(1, tile_work)),
                   [&](int64_t begin, int64_t end) {
                     HWY_DYNAMIC_DISPATCH(ConvFilterGradF32)(g, xpad, off.data(),
                                                             dy.data<float>(),
                                                             ctx.output->data<float>(), begin, end);
                   });
  return absl::OkStatus();
}

// Accumulates every term of the forward convolution into dW.
absl::Status Reference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Buffer& dy = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(x.shape(), dy.shape(), ctx.attrs));
  std::vector<double> dw(ctx.output->num_elements(), 0.0);
  ForEachConvTerm(g, [&](int64_t xi, int64_t wi, int64_t yi) {
    dw[wi] += x.GetAsDouble(xi) * dy.GetAsDouble(yi);
  });
  for (size_t i = 0; i < dw.size(); ++i) ctx.output->SetFromDouble(i, dw[i]);
  return absl::OkStatus();
}

// The JIT runs it as an implicit GEMM (ops/conv_gemm.h).
absl::StatusOr<GemmProblem> Contraction(absl::Span<const TensorType> inputs,
                                        const TensorType& /*output*/, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(inputs[0].shape, inputs[1].shape, attrs));
  return ConvFilterGradGemm(g);
}

// Depthwise: the JIT sums over windows in a window kernel instead.
absl::StatusOr<WindowReduction> Windows(absl::Span<const TensorType> inputs,
                                        const TensorType& /*output*/, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(inputs[0].shape, inputs[1].shape, attrs));
  return DepthwiseFilterGradWindows(g);
}

OpTests Tests() {
  OpTests t;
  for (const ConvTestConfig& c : ConvTestConfigs()) {
    ConvGeometry g = *ConvGeometryOf(c.x, c.filter, c.attrs);
    Attrs attrs = c.attrs;
    attrs.Set("filter_shape", c.filter);
    t.cases.push_back(
        {c.label, {ConvTestInput(c.x), ConvTestInput(g.OutputShape())}, attrs});
  }
  auto attrs = [](Shape w, int64_t groups = 1) {
    Attrs a = ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, groups);
    a.Set("filter_shape", w);
    return a;
  };
  auto bad = [&](std::string label, Shape x, Shape dy, Attrs a, std::string message,
                 DType dtype = DType::kF32) {
    t.bad.push_back({std::move(label), {{DType::kF32, x}, {dtype, dy}}, std::move(a),
                     std::move(message)});
  };
  bad("i32 output_grad", {1, 5, 5, 3}, {1, 3, 3, 2}, attrs({3, 3, 3, 2}),
      "expected f32 inputs, got f32[1,5,5,3], i32[1,3,3,2]", DType::kI32);
  bad("output_grad shape", {1, 5, 5, 3}, {1, 3, 4, 2}, attrs({3, 3, 3, 2}),
      "expected output_grad of shape [1,3,3,2], got [1,3,4,2]");
  bad("output_grad batch", {2, 5, 5, 3}, {1, 3, 3, 2}, attrs({3, 3, 3, 2}),
      "expected output_grad of shape [2,3,3,2], got [1,3,3,2]");
  bad("unknown filter_shape", {1, 5, 5, 3}, {1, 3, 3, 2}, attrs({Shape::kBatch, 3, 3, 2}),
      "filter dimensions must be known");
  bad("filter_shape rank", {1, 5, 5, 3}, {1, 3, 3, 2}, attrs({3, 3, 2}),
      "expected a 4-D filter");
  bad("groups", {1, 5, 5, 4}, {1, 3, 3, 3}, attrs({3, 3, 2, 3}, 2),
      "output channels 3 are not a positive multiple of groups 2");
  bad("missing filter_shape", {1, 5, 5, 3}, {1, 3, 3, 2},
      ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 1), "missing attribute 'filter_shape'");
  bad("input rank", {5, 3}, {1, 3, 3, 2}, attrs({3, 3, 3, 2}),
      "expected an input of rank 3, 4 or 5");
  t.tolerance = 2e-5;
  return t;
}

}  // namespace

const OpDef kConvFilterGradOp = {
    .name = "conv_filter_grad",
    .arity = 2,
    .fusion = FusionKind::kContraction,
    .infer = Infer,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Tensor& x = g.inputs[0];
      const Tensor& dy = g.inputs[1];
      const ConvParams p = ConvParamsOf(g.attrs);
      std::vector<Tensor> grads(2);
      if (g.needs_grad[0]) {
        grads[0] = ConvInputGrad(dy, g.output_grad, x.shape(), p.strides, p.dilations,
                                 p.pad_low, p.pad_high, p.groups);
      }
      if (g.needs_grad[1]) {
        grads[1] = Conv(x, g.output_grad, p.strides, p.dilations, p.pad_low, p.pad_high,
                        p.groups);
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
      absl::StatusOr<ConvGeometry> g = Geometry(inputs[0].shape, inputs[1].shape, attrs);
      return g.ok() ? ConvFlops(*g) : 0;
    },
};

Tensor ConvFilterGrad(const Tensor& x, const Tensor& output_grad, const Shape& filter_shape,
                      const IntList& strides, const IntList& dilations, const IntList& pad_low,
                      const IntList& pad_high, int64_t groups, SourceLoc loc) {
  Attrs attrs = ConvAttrs(strides, dilations, pad_low, pad_high, groups);
  attrs.Set("filter_shape", filter_shape);
  return Apply(kConvFilterGradOp, {x, output_grad}, std::move(attrs), loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
