// Convolutions as JIT implicit GEMMs: the forward, input-gradient and
// filter-gradient kernels against naive loops written here from the
// definition, on awkward geometries (1-, 2-, 3-D, odd sizes, channel
// tails, strides, dilations, asymmetric pads, groups, batch 1, outputs of
// one to four channels); the same bits for 1 and 2 threads; bias + relu
// fused into the forward kernel.
// Depthwise convolutions and max pooling: the window kernels, likewise.
// The interpreter's register-tiled kernels of the same three ops against the
// same loops, on every Highway target this CPU runs.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "codegen/executable.h"
#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "ops/composites.h"
#include "ops/ops.h"

namespace kiln {
namespace {

struct Case {
  std::string label;
  std::vector<int64_t> x;  // [B, spatial..., Cin]
  std::vector<int64_t> kernel;
  int64_t cout = 1, groups = 1;
  IntList strides, dilations, pad_low, pad_high;
  // How many of the three GEMMs read full A panels in place through
  // per-tap depth tables (direct a: filter gradients), how many keep their
  // rows in the vector lanes (at most four columns), and how many read
  // every panel through row tables (windows along the rows); -1: not
  // checked.
  int direct = -1;
  int rows_in_lanes = -1;
  int row_tables = -1;
};

// How often `marker` occurs in `text`.
int Count(const std::string& text, const std::string& marker) {
  int count = 0;
  for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
    ++count;
  }
  return count;
}

// The geometry padded to 3 spatial dims, and the naive loops.
struct Naive {
  explicit Naive(const Case& c) : rank(static_cast<int>(c.kernel.size())) {
    batch = c.x[0];
    cin = c.x.back();
    cout = c.cout;
    groups = c.groups;
    for (int i = 0; i < rank; ++i) {
      const int e = 3 - rank + i;
      in[e] = c.x[1 + i];
      k[e] = c.kernel[i];
      s[e] = c.strides[i];
      d[e] = c.dilations[i];
      pl[e] = c.pad_low[i];
      out[e] = (in[e] + c.pad_low[i] + c.pad_high[i] - ((k[e] - 1) * d[e] + 1)) / s[e] + 1;
    }
  }
  // fn(x index, w index, y index) for every product of the convolution.
  template <typename Fn>
  void ForEachTerm(Fn fn) const {
    const int64_t cpg = cin / groups, opg = cout / groups;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t o0 = 0; o0 < out[0]; ++o0)
        for (int64_t o1 = 0; o1 < out[1]; ++o1)
          for (int64_t o2 = 0; o2 < out[2]; ++o2)
            for (int64_t t0 = 0; t0 < k[0]; ++t0)
              for (int64_t t1 = 0; t1 < k[1]; ++t1)
                for (int64_t t2 = 0; t2 < k[2]; ++t2) {
                  const int64_t i0 = o0 * s[0] + t0 * d[0] - pl[0];
                  const int64_t i1 = o1 * s[1] + t1 * d[1] - pl[1];
                  const int64_t i2 = o2 * s[2] + t2 * d[2] - pl[2];
                  if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2]) {
                    continue;
                  }
                  const int64_t xcell = ((b * in[0] + i0) * in[1] + i1) * in[2] + i2;
                  const int64_t ycell = ((b * out[0] + o0) * out[1] + o1) * out[2] + o2;
                  const int64_t tap = (t0 * k[1] + t1) * k[2] + t2;
                  for (int64_t f = 0; f < cout; ++f) {
                    const int64_t grp = f / opg;
                    for (int64_t c = 0; c < cpg; ++c) {
                      fn(xcell * cin + grp * cpg + c, (tap * cpg + c) * cout + f,
                         ycell * cout + f);
                    }
                  }
                }
  }
  int rank;
  int64_t batch, cin, cout, groups;
  std::array<int64_t, 3> in{1, 1, 1}, k{1, 1, 1}, s{1, 1, 1}, d{1, 1, 1}, pl{0, 0, 0},
      out{1, 1, 1};
};

Buffer Random(Shape shape, uint64_t seed) {
  Buffer b(DType::kF32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : b.span<float>()) v = u(rng);
  return b;
}

void ExpectNear(const Buffer& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.num_elements(), static_cast<int64_t>(want.size())) << what;
  const float* g = got.data<float>();
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(g[i], want[i], 1e-4 * std::max(1.0, std::abs(want[i]))) << what << " at " << i;
  }
}

std::vector<Case> Cases() {
  return {
      {"2d 3x3 same", {2, 7, 9, 16}, {3, 3}, 24, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      {"2d odd channels stride 2 asym pad", {1, 11, 8, 13}, {3, 2}, 37, 1, {2, 2}, {1, 1},
       {1, 0}, {2, 1}},
      {"2d dilation", {2, 9, 10, 8}, {3, 3}, 20, 1, {1, 1}, {2, 3}, {2, 3}, {2, 3}},
      {"2d one input channel 5x5", {3, 12, 12, 1}, {5, 5}, 32, 1, {1, 1}, {1, 1}, {2, 2}, {2, 2}},
      {"2d groups", {2, 6, 7, 24}, {3, 3}, 32, 2, {1, 2}, {1, 1}, {1, 1}, {1, 1}},
      {"1d stride dilation", {2, 29, 20}, {4}, 50, 1, {3}, {2}, {3}, {0}},
      {"3d", {1, 5, 6, 7, 9}, {2, 3, 2}, 17, 1, {1, 2, 1}, {1, 1, 2}, {1, 1, 1}, {0, 1, 1}},
      {"2d wide channels", {1, 6, 6, 64}, {3, 3}, 64, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      // Row tables: the forward and input gradient read every panel in place,
      // padding and the strided gradient's skipped cells from zeros; the
      // filter gradient reads every panel in place per tap (32 channels).
      {"2d in-place panels", {2, 12, 20, 32}, {3, 3}, 40, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1,
       0, 2},
      {"1d strided in-place panels", {2, 60, 16}, {3}, 24, 1, {2}, {2}, {2}, {2}, 1, 0, 2},
      // Four input channels: the forward reads through row tables too; the
      // input gradient has four columns; the filter gradient packs (4
      // channels do not fill a panel of one tap).
      {"2d few channels in-place panels", {2, 12, 20, 4}, {3, 3}, 24, 1, {1, 1}, {1, 1}, {1, 1},
       {1, 1}, 0, 1, 1},
      // At most four columns: rows in the vector lanes. Three output
      // channels: the forward (windows) and filter gradient (cells); one
      // input channel: the input gradient (and the filter gradient reads a
      // tap's table per row); groups of four channels: all three, per group.
      {"2d three output channels", {2, 9, 11, 16}, {3, 3}, 3, 1, {1, 1}, {1, 1}, {1, 1},
       {1, 1}, -1, 2},
      {"1d one output channel strided", {2, 30, 5}, {4}, 1, 1, {2}, {1}, {2}, {1}, -1, 2},
      {"2d one input channel", {2, 10, 9, 1}, {3, 3}, 8, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1},
       1, 1, 1},
      {"2d groups of four channels", {1, 7, 7, 8}, {3, 3}, 8, 2, {1, 1}, {1, 1}, {1, 1},
       {1, 1}, -1, 3},
      // More output cells than the interpreter's filter-gradient chunk (512):
      // sums carried from chunk to chunk through dW.
      {"2d many cells", {2, 21, 19, 12}, {3, 3}, 40, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      // Two input channels: the interpreter's input gradient as dot products,
      // its filter-gradient tiles of rows spanning taps.
      {"2d two input channels", {1, 9, 8, 2}, {3, 3}, 15, 1, {2, 1}, {1, 2}, {0, 2}, {1, 1}},
      // Depthwise: window kernels, channel tails.
      {"depthwise 3x3", {2, 9, 11, 37}, {3, 3}, 37, 37, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      {"depthwise strided dilated", {1, 12, 10, 20}, {3, 2}, 20, 20, {2, 3}, {2, 1}, {2, 0},
       {1, 1}},
      {"depthwise 1d", {3, 17, 16}, {5}, 16, 16, {1}, {1}, {4}, {0}},
      {"depthwise many cells", {2, 20, 16, 19}, {3, 3}, 19, 19, {1, 1}, {1, 1}, {1, 1},
       {1, 1}},
      // Depth multipliers: 3 (21 outputs, a channel tail), 2 strided.
      {"depthwise multiplier 3", {2, 8, 9, 7}, {3, 3}, 21, 7, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      {"depthwise multiplier 2 strided", {1, 9, 10, 12}, {3, 2}, 24, 12, {2, 2}, {1, 2}, {1, 0},
       {1, 1}},
  };
}

class ConvKernelTest : public ::testing::TestWithParam<Case> {};

TEST_P(ConvKernelTest, AllThreeKernelsOfBothBackendsMatchNaiveLoopsAndThreadCounts) {
  const Case& c = GetParam();
  const Naive nv(c);
  auto g = Graph::Create();
  const Shape xs(c.x);
  std::vector<int64_t> wdims = c.kernel;
  wdims.insert(wdims.end(), {c.x.back() / c.groups, c.cout});
  const Shape ws(wdims);
  std::vector<int64_t> ydims = {c.x[0]};
  for (int i = 0; i < nv.rank; ++i) ydims.push_back(nv.out[3 - nv.rank + i]);
  ydims.push_back(c.cout);
  const Shape ys(ydims);
  Tensor x = Input(g, "x", DType::kF32, xs);
  Tensor w = Input(g, "w", DType::kF32, ws);
  Tensor dy = Input(g, "dy", DType::kF32, ys);
  std::vector<Tensor> outs = {
      Conv(x, w, c.strides, c.dilations, c.pad_low, c.pad_high, c.groups),
      ConvInputGrad(dy, w, xs, c.strides, c.dilations, c.pad_low, c.pad_high, c.groups),
      ConvFilterGrad(x, dy, ws, c.strides, c.dilations, c.pad_low, c.pad_high, c.groups)};
  const Buffer xv = Random(xs, 1), wv = Random(ws, 2), dyv = Random(ys, 3);
  const Feeds feeds = {{"x", &xv}, {"w", &wv}, {"dy", &dyv}};

  std::vector<double> y(ys.NumElements()), dx(xs.NumElements()), dw(ws.NumElements());
  const float *xp = xv.data<float>(), *wp = wv.data<float>(), *dyp = dyv.data<float>();
  nv.ForEachTerm([&](int64_t xi, int64_t wi, int64_t yi) {
    y[yi] += double{xp[xi]} * wp[wi];
    dx[xi] += double{dyp[yi]} * wp[wi];
    dw[wi] += double{xp[xi]} * dyp[yi];
  });

  // Runs all three on a backend with 1 and 2 threads: the naive loops' results,
  // the same bits.
  auto check = [&](Backend backend, const std::string& what) {
    std::vector<std::vector<Buffer>> runs;
    for (int threads : {1, 2}) {
      auto exe = Executable::Compile(outs, {.backend = backend, .num_threads = threads});
      ASSERT_TRUE(exe.ok()) << exe.status();
      if (backend == Backend::kJit) {
        absl::StatusOr<std::string> text = (*exe)->ProgramText(c.x[0]);
        ASSERT_TRUE(text.ok()) << text.status();
        if (c.groups == c.x.back() && c.groups > 1) {
          // Depthwise: all three are window kernels.
          EXPECT_EQ(Count(*text, " window: "), 3) << *text;
        } else {
          // All three run as JIT GEMMs, not interpreter kernels.
          EXPECT_EQ(text->find("runs its interpreter kernel"), std::string::npos) << *text;
          EXPECT_EQ(text->find(" window: "), std::string::npos) << *text;
        }
        if (c.direct >= 0) EXPECT_EQ(Count(*text, " direct a"), c.direct) << *text;
        if (c.rows_in_lanes >= 0) {
          EXPECT_EQ(Count(*text, " rows in lanes"), c.rows_in_lanes) << *text;
        }
        if (c.row_tables >= 0) EXPECT_EQ(Count(*text, " row tables"), c.row_tables) << *text;
      }
      auto out = (*exe)->Run(feeds);
      ASSERT_TRUE(out.ok()) << out.status();
      ExpectNear((*out)[0], y, what + " forward");
      ExpectNear((*out)[1], dx, what + " input gradient");
      ExpectNear((*out)[2], dw, what + " filter gradient");
      runs.push_back(std::move(*out));
    }
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(0, std::memcmp(runs[0][k].raw(), runs[1][k].raw(), runs[0][k].size_bytes()))
          << what << " output " << k << " depends on the thread count";
    }
  };
  check(Backend::kJit, c.label + " jit");
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    check(Backend::kInterp, c.label + " interp " + hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(0);
}

INSTANTIATE_TEST_SUITE_P(Geometries, ConvKernelTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name = info.param.label;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(ConvKernelFusionTest, BiasAndReluFuseIntoTheForwardKernel) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{2, 9, 9, 16});
  Tensor w = Input(g, "w", DType::kF32, Shape{3, 3, 16, 24});
  Tensor bias = Input(g, "b", DType::kF32, Shape{24});
  Tensor y = Conv(x, w, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1);
  Tensor out = Relu(Add(y, bias));
  auto jit = Executable::Compile({out}, {.backend = Backend::kJit});
  auto interp = Executable::Compile({out}, {.backend = Backend::kInterp});
  ASSERT_TRUE(jit.ok() && interp.ok());
  absl::StatusOr<std::string> text = (*jit)->ProgramText(2);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("epilogue"), std::string::npos) << *text;
  EXPECT_EQ(text->find("takes no epilogue"), std::string::npos) << *text;
  const Buffer xv = Random({2, 9, 9, 16}, 4), wv = Random({3, 3, 16, 24}, 5),
               bv = Random({24}, 6);
  const Feeds feeds = {{"x", &xv}, {"w", &wv}, {"b", &bv}};
  auto a = (*jit)->Run(feeds);
  auto b = (*interp)->Run(feeds);
  ASSERT_TRUE(a.ok() && b.ok());
  const float *pa = (*a)[0].data<float>(), *pb = (*b)[0].data<float>();
  int positive = 0;
  for (int64_t i = 0; i < (*a)[0].num_elements(); ++i) {
    ASSERT_NEAR(pa[i], pb[i], kBackendTolerance * std::max(1.0f, std::abs(pb[i])));
    positive += pb[i] > 0;
  }
  EXPECT_GT(positive, 0);
}

TEST(MaxPoolKernelTest, WindowKernelsMatchNaiveLoopsForPoolAndGradient) {
  // 2x2 stride 2 (the convnet's), 3x3 stride 2 with asymmetric padding
  // (overlapping windows), 2x3 stride 1, and non-overlapping ones.
  struct Pool {
    Shape x;
    IntList window, strides, pad_low, pad_high;
  };
  for (const Pool& p : {Pool{{3, 28, 28, 32}, {2, 2}, {2, 2}, {0, 0}, {0, 0}},
                        Pool{{2, 9, 8, 19}, {3, 3}, {2, 2}, {1, 0}, {1, 1}},
                        Pool{{1, 7, 9, 5}, {2, 3}, {1, 1}, {0, 1}, {1, 1}},
                        // Non-overlapping windows, searched once each: a
                        // tail row and column, gaps (stride 3), padding.
                        // Channels a multiple of 3 put the ties below in
                        // horizontally adjacent cells of a window.
                        Pool{{2, 7, 9, 6}, {2, 2}, {2, 2}, {0, 0}, {0, 0}},
                        Pool{{1, 8, 10, 3}, {2, 2}, {3, 3}, {0, 0}, {0, 0}},
                        Pool{{2, 5, 7, 9}, {2, 2}, {2, 2}, {1, 0}, {0, 1}}}) {
    auto g = Graph::Create();
    const int64_t B = p.x.dim(0), H = p.x.dim(1), W = p.x.dim(2), C = p.x.dim(3);
    const int64_t oh = (H + p.pad_low[0] + p.pad_high[0] - p.window[0]) / p.strides[0] + 1;
    const int64_t ow = (W + p.pad_low[1] + p.pad_high[1] - p.window[1]) / p.strides[1] + 1;
    const Shape ys{B, oh, ow, C};
    Tensor x = Input(g, "x", DType::kF32, p.x);
    Tensor dy = Input(g, "dy", DType::kF32, ys);
    Tensor y = MaxPool(x, p.window, p.strides, p.pad_low, p.pad_high);
    Tensor dx = MaxPoolGrad(x, dy, p.window, p.strides, p.pad_low, p.pad_high);
    Buffer xv = Random(p.x, 7);
    // Ties (repeated values) check that the first maximum takes the gradient.
    for (int64_t i = 0; i < xv.num_elements(); i += 3) xv.data<float>()[i] = 0.25f;
    const Buffer dyv = Random(ys, 8);
    const Feeds feeds = {{"x", &xv}, {"dy", &dyv}};
    std::vector<double> want(B * oh * ow * C), want_dx(p.x.NumElements());
    const float *xp = xv.data<float>(), *dyp = dyv.data<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j)
          for (int64_t c = 0; c < C; ++c) {
            double best = -INFINITY;
            int64_t at = -1;
            for (int64_t u = 0; u < p.window[0]; ++u)
              for (int64_t v = 0; v < p.window[1]; ++v) {
                const int64_t r = i * p.strides[0] + u - p.pad_low[0];
                const int64_t q = j * p.strides[1] + v - p.pad_low[1];
                if (r < 0 || r >= H || q < 0 || q >= W) continue;
                const int64_t k = ((b * H + r) * W + q) * C + c;
                if (xp[k] > best) best = xp[k], at = k;
              }
            const int64_t o = ((b * oh + i) * ow + j) * C + c;
            want[o] = best;
            want_dx[at] += dyp[o];
          }
    std::vector<std::vector<Buffer>> runs;
    for (int threads : {1, 2}) {
      auto exe =
          Executable::Compile({y, dx}, {.backend = Backend::kJit, .num_threads = threads});
      ASSERT_TRUE(exe.ok()) << exe.status();
      absl::StatusOr<std::string> text = (*exe)->ProgramText(B);
      ASSERT_TRUE(text.ok());
      EXPECT_EQ(text->find("library"), std::string::npos) << *text;
      auto out = (*exe)->Run(feeds);
      ASSERT_TRUE(out.ok()) << out.status();
      ExpectNear((*out)[0], want, "max_pool");
      ExpectNear((*out)[1], want_dx, "max_pool_grad");
      runs.push_back(std::move(*out));
    }
    for (int k = 0; k < 2; ++k) {
      EXPECT_EQ(0, std::memcmp(runs[0][k].raw(), runs[1][k].raw(), runs[0][k].size_bytes()));
    }
  }
}

}  // namespace
}  // namespace kiln
