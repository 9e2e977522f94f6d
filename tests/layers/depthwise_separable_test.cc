// DepthwiseConv2D and SeparableConv2D against the spec's formulas (2.14,
// 2.15) in plain loops: output channel c * M + m, the pointwise stage over
// q = c * M + m, odd sizes with asymmetric same padding, dilation, both
// data formats; weight order and layouts, gradients, dropped masks.
#include <ostream>
#include <string>
#include <vector>

#include "autodiff/gradient_check.h"
#include "gtest/gtest.h"
#include "layers/depthwise_conv2d.h"
#include "layers/separable_conv2d.h"
#include "ops/ops.h"
#include "tests/layers/conv_test_util.h"

namespace kiln {
namespace {

struct DwCase {
  std::string label;
  int64_t h, w, c, m;
  IntList kernel, strides, dilation;
  std::string padding;
  bool channels_first;
  int64_t filters;  // SeparableConv2D
};
void PrintTo(const DwCase& c, std::ostream* os) { *os << c.label; }

struct DwGeometry {
  int64_t oh, ow, ph, pw;
};

DwGeometry GeometryOf(const DwCase& t) {
  const int64_t sh = t.strides[0], sw = t.strides.back();
  const int64_t dh = t.dilation[0], dw = t.dilation.back();
  return {RefOutputLength(t.h, t.kernel[0], sh, dh, t.padding),
          RefOutputLength(t.w, t.kernel[1], sw, dw, t.padding),
          RefPadBefore(t.h, t.kernel[0], sh, dh, t.padding),
          RefPadBefore(t.w, t.kernel[1], sw, dw, t.padding)};
}

// D[b, i, j, c * M + m] (channels-last order, no bias), spec 2.14.
std::vector<double> ReferenceDepthwise(const DwCase& t, int64_t batch, const Buffer& x,
                                       const Buffer& dk) {
  const DwGeometry g = GeometryOf(t);
  const int64_t C = t.c, M = t.m, kh = t.kernel[0], kw = t.kernel[1];
  std::vector<double> d(batch * g.oh * g.ow * C * M, 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < g.oh; ++i) {
      for (int64_t j = 0; j < g.ow; ++j) {
        for (int64_t c = 0; c < C; ++c) {
          for (int64_t m = 0; m < M; ++m) {
            double acc = 0;
            for (int64_t u = 0; u < kh; ++u) {
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t hi = i * t.strides[0] + u * t.dilation[0] - g.ph;
                const int64_t wi = j * t.strides.back() + v * t.dilation.back() - g.pw;
                if (hi < 0 || hi >= t.h || wi < 0 || wi >= t.w) continue;
                const int64_t xi = t.channels_first ? ((b * C + c) * t.h + hi) * t.w + wi
                                                    : ((b * t.h + hi) * t.w + wi) * C + c;
                acc += x.GetAsDouble(xi) * dk.GetAsDouble(((u * kw + v) * C + c) * M + m);
              }
            }
            d[((b * g.oh + i) * g.ow + j) * C * M + c * M + m] = acc;
          }
        }
      }
    }
  }
  return d;
}

// Channels-last [B, oh, ow, K] values + bias, laid out in the case's format.
std::vector<double> InFormat(const DwCase& t, int64_t batch, const std::vector<double>& cl,
                             int64_t channels, const Buffer& bias) {
  const DwGeometry g = GeometryOf(t);
  std::vector<double> y(cl.size());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t p = 0; p < g.oh * g.ow; ++p) {
      for (int64_t k = 0; k < channels; ++k) {
        const double v = cl[(b * g.oh * g.ow + p) * channels + k] + bias.GetAsDouble(k);
        y[t.channels_first ? (b * channels + k) * g.oh * g.ow + p
                           : (b * g.oh * g.ow + p) * channels + k] = v;
      }
    }
  }
  return y;
}

Shape InputShape(const DwCase& t, int64_t batch) {
  return t.channels_first ? Shape{batch, t.c, t.h, t.w} : Shape{batch, t.h, t.w, t.c};
}

const DwCase kCases[] = {
    {"valid", 5, 6, 3, 2, {3, 2}, {1}, {1}, "valid", false, 4},
    // h: n=7, k=4, s=2 -> pads 1 before, 2 after.
    {"same_odd_strided", 7, 6, 2, 3, {4, 3}, {2, 3}, {1}, "same", false, 3},
    {"same_dilated", 6, 7, 2, 1, {3, 2}, {1}, {2, 3}, "same", false, 2},
    {"cf_same_odd_strided", 7, 5, 3, 2, {4, 3}, {2}, {1}, "same", true, 2},
    {"cf_valid_dilated", 8, 7, 2, 2, {2, 3}, {1}, {3, 2}, "valid", true, 3},
};

class DepthwiseTest : public ::testing::TestWithParam<DwCase> {};

TEST_P(DepthwiseTest, OutputChannelIsInputChannelTimesMPlusM) {
  const DwCase& t = GetParam();
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, InputShape(t, Shape::kBatch));
  auto dw = MakeLayer<DepthwiseConv2D>(
      t.kernel, DepthwiseConv2DOptions{.strides = t.strides,
                                       .padding = t.padding,
                                       .depth_multiplier = t.m,
                                       .data_format = t.channels_first ? "channels_first" : "",
                                       .dilation_rate = t.dilation});
  Tensor y = dw(x);
  ASSERT_TRUE(y.ok()) << g->status();
  const DwGeometry geo = GeometryOf(t);
  EXPECT_EQ(y.shape(), t.channels_first ? (Shape{Shape::kBatch, t.c * t.m, geo.oh, geo.ow})
                                        : (Shape{Shape::kBatch, geo.oh, geo.ow, t.c * t.m}));
  ASSERT_EQ(dw->weights().size(), 2u);
  EXPECT_EQ(dw->weights()[0].name, dw->name() + "/depthwise_kernel");
  EXPECT_EQ(dw->weights()[0].value.shape(), (Shape{t.kernel[0], t.kernel[1], t.c, t.m}));
  EXPECT_EQ(dw->weights()[1].name, dw->name() + "/bias");
  EXPECT_EQ(dw->weights()[1].value.shape(), (Shape{t.c * t.m}));
  dw->weights()[1].value = ConvTestRandom(Shape{t.c * t.m}, 2);

  Buffer xv = ConvTestRandom(InputShape(t, 2), 1);
  ExpectValuesNear(RunOnBothBackends(y, {{"x", &xv}}),
                   InFormat(t, 2, ReferenceDepthwise(t, 2, xv, dw->weights()[0].value), t.c * t.m,
                            dw->weights()[1].value));
}

INSTANTIATE_TEST_SUITE_P(Cases, DepthwiseTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.label; });

class SeparableTest : public ::testing::TestWithParam<DwCase> {};

TEST_P(SeparableTest, IsDepthwiseThenPointwiseThenBias) {
  const DwCase& t = GetParam();
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, InputShape(t, Shape::kBatch));
  auto sep = MakeLayer<SeparableConv2D>(
      t.filters, t.kernel,
      SeparableConv2DOptions{.strides = t.strides,
                             .padding = t.padding,
                             .data_format = t.channels_first ? "channels_first" : "",
                             .dilation_rate = t.dilation,
                             .depth_multiplier = t.m});
  Tensor y = sep(x);
  ASSERT_TRUE(y.ok()) << g->status();
  const DwGeometry geo = GeometryOf(t);
  const int64_t F = t.filters, Q = t.c * t.m;
  EXPECT_EQ(y.shape(), t.channels_first ? (Shape{Shape::kBatch, F, geo.oh, geo.ow})
                                        : (Shape{Shape::kBatch, geo.oh, geo.ow, F}));
  ASSERT_EQ(sep->weights().size(), 3u);
  EXPECT_EQ(sep->weights()[0].name, sep->name() + "/depthwise_kernel");
  EXPECT_EQ(sep->weights()[0].value.shape(), (Shape{t.kernel[0], t.kernel[1], t.c, t.m}));
  EXPECT_EQ(sep->weights()[1].name, sep->name() + "/pointwise_kernel");
  EXPECT_EQ(sep->weights()[1].value.shape(), (Shape{1, 1, Q, F}));
  EXPECT_EQ(sep->weights()[2].name, sep->name() + "/bias");
  EXPECT_EQ(sep->weights()[2].value.shape(), (Shape{F}));
  sep->weights()[2].value = ConvTestRandom(Shape{F}, 5);

  Buffer xv = ConvTestRandom(InputShape(t, 2), 4);
  const std::vector<double> d = ReferenceDepthwise(t, 2, xv, sep->weights()[0].value);
  const Buffer& pk = sep->weights()[1].value;
  std::vector<double> cl(2 * geo.oh * geo.ow * F, 0.0);
  for (int64_t r = 0; r < 2 * geo.oh * geo.ow; ++r) {
    for (int64_t f = 0; f < F; ++f) {
      for (int64_t q = 0; q < Q; ++q) cl[r * F + f] += pk.GetAsDouble(q * F + f) * d[r * Q + q];
    }
  }
  ExpectValuesNear(RunOnBothBackends(y, {{"x", &xv}}),
                   InFormat(t, 2, cl, F, sep->weights()[2].value));
}

INSTANTIATE_TEST_SUITE_P(Cases, SeparableTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.label; });

TEST(DepthwiseSeparableTest, GradientsMatchFiniteDifferences) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 5, 6, 2});
  Tensor h = MakeLayer<DepthwiseConv2D>(
      IntList{3, 2},
      DepthwiseConv2DOptions{.strides = {2}, .padding = "same", .depth_multiplier = 2})(x);
  Tensor y = MakeLayer<SeparableConv2D>(3, IntList{2},
                                        SeparableConv2DOptions{.padding = "same",
                                                               .data_format = "channels_first",
                                                               .depth_multiplier = 2,
                                                               .activation = "tanh"})(h);
  ASSERT_TRUE(y.ok()) << g->status();
  Buffer xv = ConvTestRandom(Shape{2, 5, 6, 2}, 8);
  Feeds feeds = LayerFeeds(g, false);
  feeds["x"] = &xv;
  std::vector<Tensor> wrt = GraphVariables(g);
  EXPECT_EQ(wrt.size(), 5u);
  wrt.push_back(x);
  auto r = CheckGradients(y, wrt, feeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok) << r->worst;
}

TEST(DepthwiseSeparableTest, DropTheMask) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 4, 4, 2});
  Tensor m = Input(g, "m", DType::kBool, Shape{Shape::kBatch, 4, 4});
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  Tensor a = MakeLayer<DepthwiseConv2D>(IntList{2})(x);
  Tensor b = MakeLayer<SeparableConv2D>(2, IntList{2})(x);
  ASSERT_TRUE(a.ok() && b.ok()) << g->status();
  EXPECT_FALSE(MaskOf(a).defined());
  EXPECT_FALSE(MaskOf(b).defined());
}

}  // namespace
}  // namespace kiln
