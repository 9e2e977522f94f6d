// LocallyConnected1D/2D against the spec (2.16), one reference per tf.keras
// implementation, each written from its own description: implementation 1
// by patches and feature indices, implementation 2 by a dense kernel in
// Keras's (in..., out...) layout and the connectivity rule, implementation 3
// by enumerating and sorting (output, input) index pairs as tf.keras's
// conv_kernel_idxs does. Also the channels_first bias quirk, 'same' windows
// (centred, odd cell on the left), weight shapes, gradients, dropped masks.
#include "layers/locally_connected.h"

#include <algorithm>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/gradient_check.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/layers/conv_test_util.h"

namespace kiln {
namespace {

struct LcCase {
  std::string label;
  int rank;
  int impl;
  int64_t h, w, c, f;  // rank 1: h = 1
  IntList kernel, strides;
  std::string padding;
  bool channels_first;
};
void PrintTo(const LcCase& c, std::ostream* os) { *os << c.label; }

// Per axis (rows, columns); rank 1 has a unit row axis.
struct Axes {
  int64_t n[2], k[2], s[2], out[2];
};

Axes AxesOf(const LcCase& t) {
  Axes a;
  a.n[0] = t.rank == 1 ? 1 : t.h;
  a.n[1] = t.w;
  a.k[0] = t.rank == 1 ? 1 : t.kernel[0];
  a.k[1] = t.kernel.back();
  a.s[0] = t.rank == 1 ? 1 : t.strides[0];
  a.s[1] = t.strides.back();
  for (int i = 0; i < 2; ++i) a.out[i] = RefOutputLength(a.n[i], a.k[i], a.s[i], 1, t.padding);
  return a;
}

// tf.keras conv_connected_inputs: the input range output o reads.
std::pair<int64_t, int64_t> Window(const LcCase& t, const Axes& a, int axis, int64_t o) {
  const int64_t left = a.k[axis] / 2, right = a.k[axis] - left;
  int64_t center = o * a.s[axis];
  if (t.padding == "valid") center += left;
  return {std::max<int64_t>(0, center - left), std::min(a.n[axis], center + right)};
}

int64_t XIndex(const LcCase& t, const Axes& a, int64_t b, int64_t iy, int64_t ix, int64_t c) {
  return t.channels_first ? ((b * t.c + c) * a.n[0] + iy) * a.n[1] + ix
                          : ((b * a.n[0] + iy) * a.n[1] + ix) * t.c + c;
}

int64_t YIndex(const LcCase& t, const Axes& a, int64_t b, int64_t oy, int64_t ox, int64_t f) {
  return t.channels_first ? ((b * t.f + f) * a.out[0] + oy) * a.out[1] + ox
                          : ((b * a.out[0] + oy) * a.out[1] + ox) * t.f + f;
}

int64_t Ravel(const std::vector<int64_t>& index, const std::vector<int64_t>& dims) {
  int64_t flat = 0;
  for (size_t i = 0; i < dims.size(); ++i) flat = flat * dims[i] + index[i];
  return flat;
}

// Index vectors in the layer's data format: channels last or first.
std::vector<int64_t> WithChannel(const LcCase& t, std::vector<int64_t> spatial, int64_t ch) {
  if (t.channels_first)
    spatial.insert(spatial.begin(), ch);
  else
    spatial.push_back(ch);
  return spatial;
}

std::vector<int64_t> Spatial(const LcCase& t, int64_t y, int64_t x) {
  return t.rank == 1 ? std::vector<int64_t>{x} : std::vector<int64_t>{y, x};
}

// y without bias, in the layer's output layout.
std::vector<double> Reference(const LcCase& t, int64_t batch, const Buffer& x,
                              const Buffer& kernel) {
  const Axes a = AxesOf(t);
  std::vector<double> y(batch * a.out[0] * a.out[1] * t.f, 0.0);
  const std::vector<int64_t> in_dims = WithChannel(t, Spatial(t, a.n[0], a.n[1]), t.c);
  const std::vector<int64_t> out_dims = WithChannel(t, Spatial(t, a.out[0], a.out[1]), t.f);
  if (t.impl == 3) {
    std::vector<std::pair<int64_t, int64_t>> idxs;  // (out_flat, in_flat)
    for (int64_t oy = 0; oy < a.out[0]; ++oy) {
      for (int64_t ox = 0; ox < a.out[1]; ++ox) {
        const auto wy = Window(t, a, 0, oy), wx = Window(t, a, 1, ox);
        for (int64_t iy = wy.first; iy < wy.second; ++iy) {
          for (int64_t ix = wx.first; ix < wx.second; ++ix) {
            for (int64_t c = 0; c < t.c; ++c) {
              for (int64_t f = 0; f < t.f; ++f) {
                idxs.push_back({Ravel(WithChannel(t, Spatial(t, oy, ox), f), out_dims),
                                Ravel(WithChannel(t, Spatial(t, iy, ix), c), in_dims)});
              }
            }
          }
        }
      }
    }
    std::sort(idxs.begin(), idxs.end());
    EXPECT_EQ(static_cast<int64_t>(idxs.size()), kernel.num_elements());
    const int64_t in_size = x.num_elements() / batch, out_size = y.size() / batch;
    for (int64_t b = 0; b < batch; ++b) {
      for (size_t i = 0; i < idxs.size(); ++i) {
        y[b * out_size + idxs[i].first] +=
            kernel.GetAsDouble(i) * x.GetAsDouble(b * in_size + idxs[i].second);
      }
    }
    return y;
  }
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t oy = 0; oy < a.out[0]; ++oy) {
      for (int64_t ox = 0; ox < a.out[1]; ++ox) {
        const int64_t p = oy * a.out[1] + ox;
        const auto wy = Window(t, a, 0, oy), wx = Window(t, a, 1, ox);
        for (int64_t f = 0; f < t.f; ++f) {
          double acc = 0;
          for (int64_t iy = wy.first; iy < wy.second; ++iy) {
            for (int64_t ix = wx.first; ix < wx.second; ++ix) {
              for (int64_t c = 0; c < t.c; ++c) {
                int64_t ki;
                if (t.impl == 1) {
                  const int64_t u = iy - oy * a.s[0], v = ix - ox * a.s[1];
                  const int64_t feature =
                      t.channels_first ? (c * a.k[0] + u) * a.k[1] + v : (u * a.k[1] + v) * t.c + c;
                  ki = (p * a.k[0] * a.k[1] * t.c + feature) * t.f + f;
                } else {  // the impl-2 kernel: input dims, then output dims
                  std::vector<int64_t> idx = WithChannel(t, Spatial(t, iy, ix), c);
                  std::vector<int64_t> dims = in_dims;
                  const std::vector<int64_t> out_idx = WithChannel(t, Spatial(t, oy, ox), f);
                  idx.insert(idx.end(), out_idx.begin(), out_idx.end());
                  dims.insert(dims.end(), out_dims.begin(), out_dims.end());
                  ki = Ravel(idx, dims);
                }
                acc += x.GetAsDouble(XIndex(t, a, b, iy, ix, c)) * kernel.GetAsDouble(ki);
              }
            }
          }
          y[YIndex(t, a, b, oy, ox, f)] = acc;
        }
      }
    }
  }
  return y;
}

Shape InputShape(const LcCase& t, int64_t batch) {
  std::vector<int64_t> dims{batch};
  const std::vector<int64_t> rest = WithChannel(t, Spatial(t, t.h, t.w), t.c);
  dims.insert(dims.end(), rest.begin(), rest.end());
  return Shape(dims);
}

std::shared_ptr<LocallyConnected> MakeLc(const LcCase& t) {
  LocallyConnectedOptions o{.strides = t.strides,
                            .padding = t.padding,
                            .data_format = t.channels_first ? "channels_first" : "",
                            .implementation = t.impl};
  if (t.rank == 1) return std::make_shared<LocallyConnected1D>(t.f, t.kernel, o);
  return std::make_shared<LocallyConnected2D>(t.f, t.kernel, o);
}

class LocallyConnectedTest : public ::testing::TestWithParam<LcCase> {};

TEST_P(LocallyConnectedTest, MatchesItsImplementationsReference) {
  const LcCase& t = GetParam();
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, InputShape(t, Shape::kBatch));
  std::shared_ptr<LocallyConnected> lc = MakeLc(t);
  Tensor y = (*lc)(x);
  ASSERT_TRUE(y.ok()) << g->status();
  const Axes a = AxesOf(t);
  const int64_t P = a.out[0] * a.out[1];
  std::vector<int64_t> out{Shape::kBatch};
  const std::vector<int64_t> rest = WithChannel(t, Spatial(t, a.out[0], a.out[1]), t.f);
  out.insert(out.end(), rest.begin(), rest.end());
  EXPECT_EQ(y.shape(), Shape(out));
  ASSERT_EQ(lc->weights().size(), 2u);
  EXPECT_EQ(lc->weights()[0].name, lc->name() + "/kernel");
  if (t.impl == 1) {
    EXPECT_EQ(lc->weights()[0].value.shape(), (Shape{P, a.k[0] * a.k[1] * t.c, t.f}));
  } else if (t.impl == 2) {
    std::vector<int64_t> dims = WithChannel(t, Spatial(t, a.n[0], a.n[1]), t.c);
    dims.insert(dims.end(), rest.begin(), rest.end());
    EXPECT_EQ(lc->weights()[0].value.shape(), Shape(dims));
  }  // impl 3: the reference checks the number of connections
  std::vector<int64_t> bias_dims = Spatial(t, a.out[0], a.out[1]);
  bias_dims.push_back(t.f);
  EXPECT_EQ(lc->weights()[1].value.shape(), Shape(bias_dims));
  const Buffer bias = ConvTestRandom(Shape(bias_dims), 12);
  lc->weights()[1].value = bias.Clone();

  const int64_t batch = 2;
  Buffer xv = ConvTestRandom(InputShape(t, batch), 13);
  std::vector<double> want = Reference(t, batch, xv, lc->weights()[0].value);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t oy = 0; oy < a.out[0]; ++oy) {
      for (int64_t ox = 0; ox < a.out[1]; ++ox) {
        for (int64_t f = 0; f < t.f; ++f) {
          // channels_first: tf.keras reshapes the (out..., F) bias to (F, out...).
          const int64_t bi = t.channels_first ? (f * a.out[0] + oy) * a.out[1] + ox
                                              : (oy * a.out[1] + ox) * t.f + f;
          want[YIndex(t, a, b, oy, ox, f)] += bias.GetAsDouble(bi);
        }
      }
    }
  }
  ExpectValuesNear(RunOnBothBackends(y, {{"x", &xv}}), want);
}

INSTANTIATE_TEST_SUITE_P(
    LC1D, LocallyConnectedTest,
    ::testing::Values(LcCase{"impl1_valid", 1, 1, 1, 7, 2, 3, {3}, {2}, "valid", false},
                      LcCase{"impl1_cf_valid", 1, 1, 1, 8, 3, 2, {2}, {3}, "valid", true},
                      LcCase{"impl2_valid", 1, 2, 1, 6, 2, 2, {3}, {1}, "valid", false},
                      LcCase{"impl2_same_even_k", 1, 2, 1, 7, 2, 3, {4}, {2}, "same", false},
                      LcCase{"impl2_cf_same", 1, 2, 1, 6, 3, 2, {3}, {1}, "same", true},
                      LcCase{"impl3_valid", 1, 3, 1, 6, 2, 3, {2}, {1}, "valid", false},
                      LcCase{"impl3_same_even_k", 1, 3, 1, 7, 2, 3, {4}, {2}, "same", false},
                      LcCase{"impl3_cf_same", 1, 3, 1, 5, 3, 2, {3}, {2}, "same", true}),
    [](const auto& info) { return info.param.label; });

INSTANTIATE_TEST_SUITE_P(
    LC2D, LocallyConnectedTest,
    ::testing::Values(
        LcCase{"impl1_valid", 2, 1, 5, 6, 2, 3, {3, 2}, {1, 2}, "valid", false},
        LcCase{"impl1_cf_valid", 2, 1, 6, 5, 3, 2, {2, 3}, {2, 1}, "valid", true},
        LcCase{"impl2_same", 2, 2, 5, 4, 2, 3, {3, 2}, {2, 1}, "same", false},
        LcCase{"impl2_cf_same", 2, 2, 4, 5, 2, 2, {2, 3}, {1, 2}, "same", true},
        LcCase{"impl3_valid", 2, 3, 5, 5, 2, 2, {2, 2}, {1, 1}, "valid", false},
        LcCase{"impl3_same", 2, 3, 6, 5, 2, 3, {3, 4}, {2, 2}, "same", false},
        LcCase{"impl3_cf_same", 2, 3, 5, 6, 3, 2, {4, 3}, {1, 2}, "same", true},
        LcCase{
            "impl3_same_kernel_wider_than_input", 2, 3, 3, 2, 1, 2, {5, 3}, {1, 1}, "same", false}),
    [](const auto& info) { return info.param.label; });

TEST(LocallyConnectedGradTest, GradientsMatchFiniteDifferences) {
  const LcCase cases[] = {
      {"lc2d_impl1_cf", 2, 1, 4, 5, 2, 2, {2, 3}, {1, 2}, "valid", true},
      {"lc1d_impl3_same", 1, 3, 1, 6, 2, 2, {3}, {2}, "same", false},
      {"lc2d_impl2_same", 2, 2, 4, 3, 2, 2, {2, 2}, {1, 1}, "same", false},
  };
  for (const LcCase& t : cases) {
    auto g = Graph::Create();
    Tensor x = Input(g, "x", DType::kF32, InputShape(t, Shape::kBatch));
    Tensor y = Tanh((*MakeLc(t))(x));
    ASSERT_TRUE(y.ok()) << g->status();
    Buffer xv = ConvTestRandom(InputShape(t, 2), 21);
    Feeds feeds = LayerFeeds(g, false);
    feeds["x"] = &xv;
    std::vector<Tensor> wrt = GraphVariables(g);
    wrt.push_back(x);
    auto r = CheckGradients(y, wrt, feeds);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->ok) << t.label << ": " << r->worst;
  }
}

TEST(LocallyConnectedShapeTest, SpecParameterCountAndGlorotFans) {
  auto g = Graph::Create();
  auto lc = MakeLayer<LocallyConnected2D>(64, IntList{3});
  ASSERT_TRUE(lc(Input(g, "x", DType::kF32, Shape{Shape::kBatch, 32, 32, 3})).ok());
  EXPECT_EQ(lc->weights()[0].value.shape(), (Shape{900, 27, 64}));
  EXPECT_EQ(lc->weights()[1].value.shape(), (Shape{30, 30, 64}));
  // fan_in = 900 * 27, fan_out = 900 * 64 (the kernel as a conv kernel).
  const double limit = std::sqrt(6.0 / (900.0 * 27 + 900.0 * 64));
  double max_abs = 0;
  const Buffer& k = lc->weights()[0].value;
  for (int64_t i = 0; i < k.num_elements(); ++i)
    max_abs = std::max(max_abs, std::abs(k.GetAsDouble(i)));
  // Samples are f32: one at the bound may round a float ulp above it.
  EXPECT_LE(max_abs, limit * (1 + 1e-6));
  EXPECT_GT(max_abs, 0.9 * limit);
}

TEST(LocallyConnectedShapeTest, DropsTheMask) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 6, 2});
  Tensor m = Input(g, "m", DType::kBool, Shape{Shape::kBatch, 6});
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  Tensor y = MakeLayer<LocallyConnected1D>(2, IntList{3})(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_FALSE(MaskOf(y).defined());
}

}  // namespace
}  // namespace kiln
