// Conv1D and Conv2D against the spec's cross-correlation written as plain
// loops (1.5, 2.13): valid/same/causal with odd sizes and strides
// (asymmetric same), dilation, groups, both data formats, extra batch axes;
// weight layouts and names, gradients, dropped masks.
#include "layers/conv.h"

#include <ostream>
#include <string>
#include <vector>

#include "autodiff/grad.h"
#include "autodiff/gradient_check.h"
#include "layers/activation.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/layers/conv_test_util.h"

namespace kiln {
namespace {

// One convolution over a 2-D geometry (1-D: height 1, kh 1).
struct ConvCase {
  std::string label;
  int rank;
  int64_t h, w, c, f;
  IntList kernel, strides, dilation;
  std::string padding;
  int64_t groups;
  bool channels_first;
};
void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.label; }

// y = bias + sum over the window of xpad * K, per spec 1.5 / 2.13.
std::vector<double> ReferenceConv(const ConvCase& t, int64_t batch, const Buffer& x,
                                  const Buffer& kernel, const Buffer& bias) {
  const int64_t H = t.rank == 1 ? 1 : t.h, W = t.w, C = t.c, F = t.f;
  const int64_t kh = t.rank == 1 ? 1 : t.kernel[0], kw = t.kernel.back();
  const int64_t sh = t.rank == 1 ? 1 : t.strides[0], sw = t.strides.back();
  const int64_t dh = t.rank == 1 ? 1 : t.dilation[0], dw = t.dilation.back();
  const int64_t oh = RefOutputLength(H, kh, sh, dh, t.padding);
  const int64_t ow = RefOutputLength(W, kw, sw, dw, t.padding);
  const int64_t ph = t.rank == 1 ? 0 : RefPadBefore(H, kh, sh, dh, t.padding);
  const int64_t pw = RefPadBefore(W, kw, sw, dw, t.padding);
  const int64_t cg = C / t.groups, fg = F / t.groups;
  std::vector<double> y(batch * oh * ow * F);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        for (int64_t f = 0; f < F; ++f) {
          double acc = bias.GetAsDouble(f);
          for (int64_t u = 0; u < kh; ++u) {
            for (int64_t v = 0; v < kw; ++v) {
              const int64_t hi = i * sh + u * dh - ph, wi = j * sw + v * dw - pw;
              if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;  // zero padding
              for (int64_t c = 0; c < cg; ++c) {
                const int64_t ch = f / fg * cg + c;
                const int64_t xi = t.channels_first ? ((b * C + ch) * H + hi) * W + wi
                                                    : ((b * H + hi) * W + wi) * C + ch;
                acc += x.GetAsDouble(xi) * kernel.GetAsDouble(((u * kw + v) * cg + c) * F + f);
              }
            }
          }
          y[t.channels_first ? ((b * F + f) * oh + i) * ow + j : ((b * oh + i) * ow + j) * F + f] =
              acc;
        }
      }
    }
  }
  return y;
}

Shape InputShape(const ConvCase& t, int64_t batch) {
  std::vector<int64_t> dims{batch};
  if (t.channels_first) dims.push_back(t.c);
  if (t.rank == 2) dims.push_back(t.h);
  dims.push_back(t.w);
  if (!t.channels_first) dims.push_back(t.c);
  return Shape(dims);
}

std::shared_ptr<BaseConv> MakeConv(const ConvCase& t) {
  ConvOptions o{.strides = t.strides,
                .padding = t.padding,
                .data_format = t.channels_first ? "channels_first" : "",
                .dilation_rate = t.dilation,
                .groups = t.groups};
  if (t.rank == 1) return std::make_shared<Conv1D>(t.f, t.kernel, o);
  return std::make_shared<Conv2D>(t.f, t.kernel, o);
}

class ConvForwardTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvForwardTest, MatchesTheSpecCrossCorrelation) {
  const ConvCase& t = GetParam();
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, InputShape(t, Shape::kBatch));
  std::shared_ptr<BaseConv> conv = MakeConv(t);
  Tensor y = (*conv)(x);
  ASSERT_TRUE(y.ok()) << g->status();

  // Output shape, weight layout (Keras's for both formats) and names.
  const int64_t H = t.rank == 1 ? 1 : t.h;
  const int64_t oh =
      t.rank == 1 ? 1 : RefOutputLength(H, t.kernel[0], t.strides[0], t.dilation[0], t.padding);
  const int64_t ow =
      RefOutputLength(t.w, t.kernel.back(), t.strides.back(), t.dilation.back(), t.padding);
  std::vector<int64_t> out{Shape::kBatch};
  if (t.channels_first) out.push_back(t.f);
  if (t.rank == 2) out.push_back(oh);
  out.push_back(ow);
  if (!t.channels_first) out.push_back(t.f);
  EXPECT_EQ(y.shape(), Shape(out));
  ASSERT_EQ(conv->weights().size(), 2u);
  std::vector<int64_t> kernel_dims = t.kernel;
  kernel_dims.push_back(t.c / t.groups);
  kernel_dims.push_back(t.f);
  EXPECT_EQ(conv->weights()[0].value.shape(), Shape(kernel_dims));
  EXPECT_EQ(conv->weights()[0].name, conv->name() + "/kernel");
  EXPECT_EQ(conv->weights()[1].value.shape(), (Shape{t.f}));
  EXPECT_EQ(conv->weights()[1].name, conv->name() + "/bias");
  conv->weights()[1].value = ConvTestRandom(Shape{t.f}, 7);

  const int64_t batch = 2;
  Buffer xv = ConvTestRandom(InputShape(t, batch), 3);
  std::vector<double> got = RunOnBothBackends(y, {{"x", &xv}});
  ExpectValuesNear(got,
                   ReferenceConv(t, batch, xv, conv->weights()[0].value, conv->weights()[1].value));
}

INSTANTIATE_TEST_SUITE_P(
    Conv2D, ConvForwardTest,
    ::testing::Values(
        ConvCase{"valid_3x2", 2, 5, 7, 3, 4, {3, 2}, {1}, {1}, "valid", 1, false},
        ConvCase{"valid_strides_2x1", 2, 7, 6, 2, 3, {3, 2}, {2, 1}, {1}, "valid", 1, false},
        // n=7, k=4, s=2: out 4, pad_total 3 -> 1 before, 2 after.
        ConvCase{"same_odd_asymmetric", 2, 7, 6, 2, 3, {4, 3}, {2, 3}, {1}, "SAME", 1, false},
        ConvCase{"same_dilated", 2, 6, 5, 2, 2, {3, 2}, {1}, {2, 3}, "same", 1, false},
        ConvCase{"valid_dilated", 2, 7, 8, 1, 2, {2, 3}, {1}, {3, 2}, "valid", 1, false},
        ConvCase{"groups", 2, 5, 5, 4, 6, {3, 3}, {1}, {1}, "valid", 2, false},
        ConvCase{"cf_same_odd_asymmetric", 2, 7, 5, 3, 2, {4, 3}, {2}, {1}, "same", 1, true},
        ConvCase{"cf_groups_dilated", 2, 6, 7, 6, 3, {2, 3}, {1}, {2, 1}, "same", 3, true},
        ConvCase{"cf_valid_strided", 2, 8, 7, 2, 4, {3, 3}, {3, 2}, {1}, "valid", 1, true}),
    [](const auto& info) { return info.param.label; });

INSTANTIATE_TEST_SUITE_P(
    Conv1D, ConvForwardTest,
    ::testing::Values(
        ConvCase{"valid", 1, 1, 9, 3, 2, {3}, {1}, {1}, "valid", 1, false},
        // n=7, k=4, s=2: pad 1 before, 2 after.
        ConvCase{"same_stride2", 1, 1, 7, 2, 3, {4}, {2}, {1}, "same", 1, false},
        ConvCase{"causal_dilated", 1, 1, 9, 2, 3, {3}, {1}, {2}, "causal", 1, false},
        ConvCase{"causal_stride2", 1, 1, 8, 2, 2, {3}, {2}, {1}, "Causal", 1, false},
        ConvCase{"groups3_same", 1, 1, 6, 6, 3, {2}, {1}, {1}, "same", 3, false},
        ConvCase{"cf_causal_dilated", 1, 1, 9, 3, 2, {2}, {1}, {3}, "causal", 1, true},
        ConvCase{"cf_valid_strided", 1, 1, 10, 2, 3, {3}, {3}, {1}, "valid", 1, true}),
    [](const auto& info) { return info.param.label; });

TEST(ConvTest, ExtraLeadingAxesAreBatchAxes) {
  for (bool channels_first : {false, true}) {
    ConvCase t{"extra", 1, 1, 7, 3, 2, {3}, {1}, {1}, "causal", 1, channels_first};
    auto g = Graph::Create();
    // [N, 2, T, C] (or [N, 2, C, T]) is a batch of N * 2 sequences.
    Shape in = channels_first ? Shape{Shape::kBatch, 2, 3, 7} : Shape{Shape::kBatch, 2, 7, 3};
    Tensor x = Input(g, "x", DType::kF32, in);
    std::shared_ptr<BaseConv> conv = MakeConv(t);
    Tensor y = (*conv)(x);
    ASSERT_TRUE(y.ok()) << g->status();
    EXPECT_EQ(y.shape(),
              channels_first ? (Shape{Shape::kBatch, 2, 2, 7}) : (Shape{Shape::kBatch, 2, 7, 2}));
    conv->weights()[1].value = ConvTestRandom(Shape{2}, 9);
    Buffer xv = ConvTestRandom(in.Specialize(3), 4);
    ExpectValuesNear(RunOnBothBackends(y, {{"x", &xv}}),
                     ReferenceConv(t, 6, xv, conv->weights()[0].value, conv->weights()[1].value));
  }
}

TEST(ConvTest, CausalOutputsSeeOnlyThePast) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{1, 8, 1});
  Tensor y =
      MakeLayer<Conv1D>(1, IntList{3}, ConvOptions{.padding = "causal", .dilation_rate = {2}})(x);
  ASSERT_TRUE(y.ok()) << g->status();
  Buffer a = ConvTestRandom(Shape{1, 8, 1}, 1);
  Buffer b = a.Clone();
  b.SetFromDouble(5, 10.0);  // change x[5]
  std::vector<double> ya = RunOnBothBackends(y, {{"x", &a}});
  std::vector<double> yb = RunOnBothBackends(y, {{"x", &b}});
  ASSERT_EQ(ya.size(), 8u);
  for (int t = 0; t < 5; ++t) EXPECT_EQ(ya[t], yb[t]) << t;
  EXPECT_NE(ya[5], yb[5]);
}

TEST(ConvTest, ActivationAndNoBias) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 4, 4, 2});
  auto conv =
      MakeLayer<Conv2D>(3, IntList{2}, ConvOptions{.activation = "relu", .use_bias = false});
  Tensor y = conv(x);
  ASSERT_TRUE(y.ok()) << g->status();
  ASSERT_EQ(conv->weights().size(), 1u);
  ConvCase t{"relu", 2, 4, 4, 2, 3, {2, 2}, {1}, {1}, "valid", 1, false};
  Buffer xv = ConvTestRandom(Shape{2, 4, 4, 2}, 5);
  std::vector<double> want =
      ReferenceConv(t, 2, xv, conv->weights()[0].value, Buffer::Zeros(DType::kF32, Shape{3}));
  for (double& v : want) v = std::max(v, 0.0);
  ExpectValuesNear(RunOnBothBackends(y, {{"x", &xv}}), want);
}

TEST(ConvTest, GradientsMatchFiniteDifferences) {
  const ConvCase cases[] = {
      {"conv2d", 2, 5, 6, 4, 2, {3, 2}, {2, 2}, {1}, "same", 2, false},
      {"conv1d", 1, 1, 7, 2, 3, {3}, {1}, {2}, "causal", 1, true},
  };
  for (const ConvCase& t : cases) {
    auto g = Graph::Create();
    Tensor x = Input(g, "x", DType::kF32, InputShape(t, Shape::kBatch));
    std::shared_ptr<BaseConv> conv = MakeConv(t);
    Tensor y = Tanh((*conv)(x));
    ASSERT_TRUE(y.ok()) << g->status();
    Buffer xv = ConvTestRandom(InputShape(t, 2), 11);
    Feeds feeds = LayerFeeds(g, false);
    feeds["x"] = &xv;
    std::vector<Tensor> wrt = GraphVariables(g);
    wrt.push_back(x);
    auto r = CheckGradients(y, wrt, feeds);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->ok) << t.label << ": " << r->worst;
  }
}

// The transposes a program text lists.
int Transposes(const std::string& program) {
  int count = 0;
  for (size_t at = program.find(" = transpose("); at != std::string::npos;
       at = program.find(" = transpose(", at + 1)) {
    ++count;
  }
  return count;
}

// A chain of channels_first layers runs channels-last inside: the layout
// changes between layers, and their transposed gradients, undo each other
// and drop out of the compiled program, leaving the input's and the
// output's (forward and backward); the values are the graph's as built.
TEST(ConvTest, ChannelsFirstChainsChangeTheLayoutOnlyAtTheEnds) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3, 9, 8});
  const ConvOptions cf{.padding = "same", .data_format = "channels_first", .activation = "relu"};
  Tensor h = MakeLayer<Conv2D>(4, IntList{3, 3}, cf)(x);
  h = MakeLayer<Conv2D>(5, IntList{3, 3}, cf)(h);
  Tensor y = MakeLayer<Conv2D>(2, IntList{3, 3}, cf)(h);
  std::vector<Tensor> wrt = GraphVariables(g);
  wrt.push_back(x);
  absl::StatusOr<std::vector<Tensor>> grads = Grad(ReduceSum(Tanh(y), {0, 1, 2, 3}), wrt);
  ASSERT_TRUE(grads.ok()) << grads.status();
  std::vector<Tensor> outputs = {y};
  outputs.insert(outputs.end(), grads->begin(), grads->end());
  Buffer xv = ConvTestRandom(Shape{2, 3, 9, 8}, 12);
  Feeds feeds = LayerFeeds(g, false);
  feeds["x"] = &xv;
  absl::StatusOr<std::vector<Buffer>> want = EvaluateTensors(outputs, feeds);
  ASSERT_TRUE(want.ok()) << want.status();
  for (Backend backend : {Backend::kJit, Backend::kInterp}) {
    auto exe = Executable::Compile(outputs, ExecutableOptions{.backend = backend});
    ASSERT_TRUE(exe.ok()) << exe.status();
    absl::StatusOr<std::string> text = (*exe)->ProgramText(2);
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(Transposes(*text), 4) << *text;
    absl::StatusOr<std::vector<Buffer>> got = (*exe)->Run(feeds);
    ASSERT_TRUE(got.ok()) << got.status();
    for (size_t k = 0; k < outputs.size(); ++k) {
      for (int64_t i = 0; i < (*want)[k].num_elements(); ++i) {
        const double w = (*want)[k].GetAsDouble(i);
        ASSERT_NEAR((*got)[k].GetAsDouble(i), w, kBackendTolerance * std::max(1.0, std::abs(w)))
            << "output " << k << " at " << i;
      }
    }
  }
}

// For inference, an activation layer between channels_first convolutions
// runs channels-last too: the transposes around it cancel.
TEST(ConvTest, ChannelsFirstActivationLayersRunInTheInnerLayout) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3, 7, 6});
  const ConvOptions cf{.padding = "same", .data_format = "channels_first"};
  Tensor h = MakeLayer<ActivationLayer>("tanh")(MakeLayer<Conv2D>(4, IntList{3, 3}, cf)(x));
  Tensor y = MakeLayer<Conv2D>(2, IntList{3, 3}, cf)(h);
  auto exe = Executable::Compile({y}, ExecutableOptions{.backend = Backend::kJit});
  ASSERT_TRUE(exe.ok()) << exe.status();
  absl::StatusOr<std::string> text = (*exe)->ProgramText(2);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(Transposes(*text), 2) << *text;
  Buffer xv = ConvTestRandom(Shape{2, 3, 7, 6}, 13);
  RunOnBothBackends(y, {{"x", &xv}});  // the JIT (optimized) agrees with the evaluator
}

TEST(ConvTest, DropsTheMaskAndKeepsRegularizersAndConstraints) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 6, 2});
  Tensor m = Input(g, "m", DType::kBool, Shape{Shape::kBatch, 6});
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  auto conv = MakeLayer<Conv1D>(2, IntList{3},
                                ConvOptions{.kernel_regularizer = L2(0.1),
                                            .activity_regularizer = L1(0.5),
                                            .kernel_constraint = NonNeg()});
  Tensor y = conv(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_FALSE(MaskOf(y).defined());
  EXPECT_TRUE(conv->weights()[0].regularizer != nullptr);
  EXPECT_TRUE(conv->weights()[0].constraint != nullptr);
  EXPECT_EQ(g->Attachment<LayerGraphState>().activity_losses.size(), 1u);
  EXPECT_EQ(conv->name().substr(0, 6), "conv1d");
}

}  // namespace
}  // namespace kiln
