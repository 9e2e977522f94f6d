// conv_input_grad: the transpose of conv with respect to its input x (dx),
// f32, channels-last. output_grad [B, out..., Cout], filter [k..., Cin/groups,
// Cout] -> dx [B, in..., Cin] = input_shape (a Shape attr that may hold N;
// its dimension 0 follows output_grad's batch):
//   dx[b, i, c] = sum over (o, t, f) with o * s + t * d - pad_low = i and
//                 c in f's group of output_grad[b, o, f] * filter[t, c mod Cin/groups, f].
// Cells that only the padding or no window reaches get 0. Attrs as conv
// (strides, dilations, pad_low, pad_high, groups) plus input_shape.
// Gradient (bilinear): d/d(output_grad) = conv(G, filter), d/d(filter) =
// conv_filter_grad(G, output_grad).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/conv_input_grad.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/conv_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
void ConvInputGradF32(const ConvGeometry& g, const float* dy, const float* wt, float* dx,
                      int64_t begin, int64_t end) {
  ConvInputGradRows(g, dy, wt, dx, begin, end);
}
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/conv_geometry.h"
#include "ops/conv_gemm.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(ConvInputGradF32);
namespace {

// The geometry of the forward conv whose input gradient this is.
absl::StatusOr<ConvGeometry> Geometry(const Shape& dy, const Shape& w, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(Shape x, attrs.Get<Shape>("input_shape"));
  if (x.rank() > 0 && dy.rank() > 0) {
    if (x.dim(0) != Shape::kBatch && dy.dim(0) != Shape::kBatch && x.dim(0) != dy.dim(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input_shape ", x.ToString(), " has batch ", x.dim(0), " but output_grad ",
          dy.ToString(), " has batch ", dy.dim(0)));
    }
    x.dim(0) = dy.dim(0);
  }
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, ConvGeometryOf(x, w, attrs));
  KILN_RETURN_IF_ERROR(CheckShapeMatches("output_grad", dy, g.OutputShape()));
  return g;
}

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  KILN_RETURN_IF_ERROR(CheckAllF32(ctx.inputs));
  KILN_ASSIGN_OR_RETURN(ConvGeometry g,
                        Geometry(ctx.inputs[0].shape, ctx.inputs[1].shape, ctx.attrs));
  return TensorType{DType::kF32, g.InputShape()};
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& dy = *ctx.inputs[0];
  const Buffer& w = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(dy.shape(), w.shape(), ctx.attrs));
  // The tiles read the filter transposed, [taps][Cout/groups][Cin]: each
  // row of weights runs over input channels.
  const int64_t taps = g.taps(), cin_g = g.in_per_group(), cout_g = g.out_per_group();
  const float* wp = w.data<float>();
  std::vector<float> wt;
  if (InputGradLayout(g) == InputGradKind::kTiles) {
    wt.resize(w.num_elements());
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t co = 0; co < cout_g; ++co)
        for (int64_t gi = 0; gi < g.groups; ++gi)
          for (int64_t ci = 0; ci < cin_g; ++ci)
            wt[(t * cout_g + co) * g.in_channels + gi * cin_g + ci] =
                wp[(t * cin_g + ci) * g.out_channels + gi * cout_g + co];
    wp = wt.data();
  }
  const int64_t row_work = g.in[2] * taps * cin_g * g.out_channels;
  ctx.parallel.For(g.batch * g.in[0] * g.in[1], std::max<int64_t>(1, (1 << 16) / row_work),
                   [&](int64_t begin, int64_t end) {
                     HWY_DYNAMIC_DISPATCH(ConvInputGradF32)(g, dy.data<float>(), wp,
                                                            ctx.output->data<float>(), begin, end);
                   });
  return absl::OkStatus();
}

// Scatters every term of the forward convolution into dx.
absl::Status Reference(const KernelContext& ctx) {
  const Buffer& dy = *ctx.inputs[0];
  const Buffer& w = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(dy.shape(), w.shape(), ctx.attrs));
  std::vector<double> dx(ctx.output->num_elements(), 0.0);
  ForEachConvTerm(g, [&](int64_t xi, int64_t wi, int64_t yi) {
    dx[xi] += dy.GetAsDouble(yi) * w.GetAsDouble(wi);
  });
  for (size_t i = 0; i < dx.size(); ++i) ctx.output->SetFromDouble(i, dx[i]);
  return absl::OkStatus();
}

// The JIT runs it as an implicit GEMM (ops/conv_gemm.h).
absl::StatusOr<GemmProblem> Contraction(absl::Span<const TensorType> inputs,
                                        const TensorType& /*output*/, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(inputs[0].shape, inputs[1].shape, attrs));
  return ConvInputGradGemm(g);
}

// Depthwise: the JIT runs it as a window reduction instead.
absl::StatusOr<WindowReduction> Windows(absl::Span<const TensorType> inputs,
                                        const TensorType& /*output*/, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, Geometry(inputs[0].shape, inputs[1].shape, attrs));
  return DepthwiseInputGradWindows(g);
}

OpTests Tests() {
  OpTests t;
  for (const ConvTestConfig& c : ConvTestConfigs()) {
    ConvGeometry g = *ConvGeometryOf(c.x, c.filter, c.attrs);
    Attrs attrs = c.attrs;
    attrs.Set("input_shape", c.x);
    t.cases.push_back(
        {c.label, {ConvTestInput(g.OutputShape()), ConvTestInput(c.filter)}, attrs});
  }
  auto attrs = [](Shape x, int64_t groups = 1) {
    Attrs a = ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, groups);
    a.Set("input_shape", x);
    return a;
  };
  auto bad = [&](std::string label, Shape dy, Shape w, Attrs a, std::string message,
                 DType dtype = DType::kF32) {
    t.bad.push_back({std::move(label), {{dtype, dy}, {DType::kF32, w}}, std::move(a),
                     std::move(message)});
  };
  bad("i32 output_grad", {1, 3, 3, 2}, {3, 3, 3, 2}, attrs({1, 5, 5, 3}),
      "expected f32 inputs, got i32[1,3,3,2]", DType::kI32);
  bad("output_grad shape", {1, 4, 4, 2}, {3, 3, 3, 2}, attrs({1, 5, 5, 3}),
      "expected output_grad of shape [1,3,3,2], got [1,4,4,2]");
  bad("output_grad channels", {1, 3, 3, 5}, {3, 3, 3, 2}, attrs({1, 5, 5, 3}),
      "expected output_grad of shape [1,3,3,2], got [1,3,3,5]");
  bad("batch mismatch", {2, 3, 3, 2}, {3, 3, 3, 2}, attrs({4, 5, 5, 3}),
      "input_shape [4,5,5,3] has batch 4 but output_grad [2,3,3,2] has batch 2");
  bad("filter channels", {1, 3, 3, 2}, {3, 3, 2, 2}, attrs({1, 5, 5, 3}),
      "has 2 input channels per group, expected 3");
  bad("groups", {1, 3, 3, 2}, {3, 3, 1, 2}, attrs({1, 5, 5, 3}, 2),
      "input channels 3 are not divisible by groups 2");
  bad("missing input_shape", {1, 3, 3, 2}, {3, 3, 3, 2},
      ConvAttrs({1, 1}, {1, 1}, {0, 0}, {0, 0}, 1), "missing attribute 'input_shape'");
  bad("zero stride", {1, 3, 3, 2}, {3, 3, 3, 2},
      [&] { Attrs a = attrs({1, 5, 5, 3}); a.Set("strides", IntList{1, 0}); return a; }(),
      "strides must be >= 1, got (1,0)");
  t.tolerance = 2e-5;
  return t;
}

}  // namespace

const OpDef kConvInputGradOp = {
    .name = "conv_input_grad",
    .arity = 2,
    .fusion = FusionKind::kContraction,
    .infer = Infer,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Tensor& dy = g.inputs[0];
      const Tensor& w = g.inputs[1];
      const ConvParams p = ConvParamsOf(g.attrs);
      std::vector<Tensor> grads(2);
      if (g.needs_grad[0]) {
        grads[0] = Conv(g.output_grad, w, p.strides, p.dilations, p.pad_low, p.pad_high,
                        p.groups);
      }
      if (g.needs_grad[1]) {
        grads[1] = ConvFilterGrad(g.output_grad, dy, w.shape(), p.strides, p.dilations,
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
      absl::StatusOr<ConvGeometry> g = Geometry(inputs[0].shape, inputs[1].shape, attrs);
      return g.ok() ? ConvFlops(*g) : 0;
    },
};

Tensor ConvInputGrad(const Tensor& output_grad, const Tensor& filter, const Shape& input_shape,
                     const IntList& strides, const IntList& dilations, const IntList& pad_low,
                     const IntList& pad_high, int64_t groups, SourceLoc loc) {
  Attrs attrs = ConvAttrs(strides, dilations, pad_low, pad_high, groups);
  attrs.Set("input_shape", input_shape);
  return Apply(kConvInputGradOp, {output_grad, filter}, std::move(attrs), loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
