// Initializers (layers/initializers.h) against spec section 3: fans for every
// shape kind, the constant initializers, sample statistics of the random ones
// (mean, variance, truncation bounds; VarianceScaling's variance scale / n
// including the truncated-normal correction), orthogonality, seeds.
#include "layers/initializers.h"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kiln {
namespace {

struct Stats {
  double mean = 0, variance = 0, min = INFINITY, max = -INFINITY;
};

Stats StatsOf(const Buffer& b) {
  Stats s;
  const int64_t n = b.num_elements();
  for (int64_t i = 0; i < n; ++i) {
    const double v = b.GetAsDouble(i);
    s.mean += v;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
  }
  s.mean /= n;
  for (int64_t i = 0; i < n; ++i) s.variance += std::pow(b.GetAsDouble(i) - s.mean, 2);
  s.variance /= n;
  return s;
}

Buffer Init(const Initializer& init, const Shape& shape, DType dtype = DType::kF32) {
  absl::StatusOr<Buffer> b = init(shape, dtype);
  EXPECT_TRUE(b.ok()) << init.name() << ": " << b.status();
  if (!b.ok()) return Buffer();
  EXPECT_EQ(b->shape(), shape);
  EXPECT_EQ(b->dtype(), dtype);
  return *std::move(b);
}

// The standard deviation of N(0, 1) truncated to [-2, 2], from its closed
// form: var = 1 - 2 * 2 phi(2) / (Phi(2) - Phi(-2)).
double TruncatedStd() {
  const double phi2 = std::exp(-2.0) / std::sqrt(2 * M_PI);
  const double mass = std::erf(2 / std::sqrt(2.0));
  return std::sqrt(1 - 4 * phi2 / mass);
}

TEST(FansTest, EveryShapeKind) {
  struct Case {
    Shape shape;
    int64_t fan_in, fan_out;
  };
  for (const Case& c : std::vector<Case>{{Shape{}, 1, 1},
                                         {Shape{7}, 7, 7},
                                         {Shape{784, 128}, 784, 128},
                                         {Shape{5, 16, 32}, 80, 160},      // Conv1D (k, Cin, F)
                                         {Shape{3, 3, 16, 32}, 144, 288},  // Conv2D
                                         {Shape{3, 3, 8, 2}, 72, 18},    // Depthwise (kh, kw, C, M)
                                         {Shape{1, 1, 16, 24}, 16, 24},  // Pointwise
                                         {Shape{2, 3, 4, 5, 6}, 120, 144},  // Conv3D
                                         {Shape{0, 4}, 0, 4}}) {
    const Fans f = ComputeFans(c.shape);
    EXPECT_EQ(f.fan_in, c.fan_in) << c.shape;
    EXPECT_EQ(f.fan_out, c.fan_out) << c.shape;
  }
}

TEST(ConstantInitializersTest, ZerosOnesConstantIdentity) {
  const Shape shape{3, 4};
  Buffer z = Init(Zeros(), shape), o = Init(Ones(), shape), c = Init(Constant(2.5), shape);
  for (int64_t i = 0; i < 12; ++i) {
    EXPECT_EQ(z.GetAsDouble(i), 0.0);
    EXPECT_EQ(o.GetAsDouble(i), 1.0);
    EXPECT_EQ(c.GetAsDouble(i), 2.5);
  }
  Buffer ints = Init(Constant(7), Shape{2}, DType::kI32);
  EXPECT_EQ(ints.data<int32_t>()[1], 7);
  Buffer listed = Init(Constant(std::vector<double>{1, 2, 3, 4, 5, 6}), Shape{2, 3});
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(listed.GetAsDouble(i), i + 1.0);
  Buffer scalar = Init(Ones(), Shape{});
  EXPECT_EQ(scalar.num_elements(), 1);

  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{3, 3}, {2, 5}, {5, 2}}) {
    Buffer eye = Init(Identity(0.5), Shape{rows, cols});
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        EXPECT_EQ(eye.GetAsDouble(i * cols + j), i == j ? 0.5 : 0.0) << i << "," << j;
      }
    }
  }
}

TEST(RandomInitializersTest, UniformMeanVarianceAndHalfOpenRange) {
  const double lo = -0.3, hi = 0.7;
  Buffer b = Init(RandomUniform(lo, hi, 1), Shape{400, 500});
  const Stats s = StatsOf(b);
  EXPECT_NEAR(s.mean, (lo + hi) / 2, 0.003);
  EXPECT_NEAR(s.variance, (hi - lo) * (hi - lo) / 12, 0.02 * (hi - lo) * (hi - lo) / 12);
  EXPECT_GE(s.min, static_cast<float>(lo));
  EXPECT_LT(s.max, hi);
  // Defaults: U[-0.05, 0.05).
  const Stats d = StatsOf(Init(RandomUniform(), Shape{100000}));
  EXPECT_GE(d.min, -0.05f);
  EXPECT_LT(d.max, 0.05);
  EXPECT_NEAR(d.variance, 0.01 / 12, 0.03 * 0.01 / 12);
}

TEST(RandomInitializersTest, UniformIntegersCoverTheRange) {
  Buffer b = Init(RandomUniform(-2, 3, 5), Shape{1000}, DType::kI64);
  std::vector<int> counts(5, 0);
  for (int64_t i = 0; i < 1000; ++i) {
    const int64_t v = b.data<int64_t>()[i];
    ASSERT_GE(v, -2);
    ASSERT_LT(v, 3);
    ++counts[v + 2];
  }
  for (int c : counts) EXPECT_GT(c, 120);
}

TEST(RandomInitializersTest, NormalMeanAndVariance) {
  const Stats s = StatsOf(Init(RandomNormal(1.5, 0.2, 3), Shape{300000}));
  EXPECT_NEAR(s.mean, 1.5, 0.002);
  EXPECT_NEAR(s.variance, 0.04, 0.04 * 0.02);
  const Stats d = StatsOf(Init(RandomNormal(), Shape{300000}));
  EXPECT_NEAR(d.variance, 0.05 * 0.05, 0.05 * 0.05 * 0.02);
}

TEST(RandomInitializersTest, TruncatedNormalBoundsAndUncorrectedVariance) {
  const double mean = -1.0, stddev = 0.3;
  const Stats s = StatsOf(Init(TruncatedNormal(mean, stddev, 4), Shape{300000}));
  EXPECT_GE(s.min, mean - 2 * stddev - 1e-6);
  EXPECT_LE(s.max, mean + 2 * stddev + 1e-6);
  EXPECT_LT(s.min, mean - 1.95 * stddev);  // the tails are reached
  EXPECT_GT(s.max, mean + 1.95 * stddev);
  EXPECT_NEAR(s.mean, mean, 0.002);
  const double want = std::pow(TruncatedStd() * stddev, 2);  // ~0.88 stddev
  EXPECT_NEAR(s.variance, want, want * 0.02);
}

TEST(VarianceScalingTest, TheCorrectionConstantIsTheTruncatedStd) {
  EXPECT_NEAR(kTruncatedNormalStddev, TruncatedStd(), 1e-15);
}

struct VsCase {
  std::string label;
  FanMode mode;
  FanDistribution distribution;
  double scale;
  Shape shape;
};

void PrintTo(const VsCase& c, std::ostream* os) { *os << c.label; }

class VarianceScalingStatsTest : public ::testing::TestWithParam<VsCase> {};

TEST_P(VarianceScalingStatsTest, VarianceIsScaleOverFanAndBoundsHold) {
  const VsCase& c = GetParam();
  const VarianceScaling init(c.scale, c.mode, c.distribution, 11);
  // n from the spec's fans, computed here independently.
  const Fans fans = ComputeFans(c.shape);
  const double n = c.mode == FanMode::kFanIn    ? std::max(1.0, double(fans.fan_in))
                   : c.mode == FanMode::kFanOut ? std::max(1.0, double(fans.fan_out))
                                                : std::max(1.0, (fans.fan_in + fans.fan_out) / 2.0);
  const double v = c.scale / n;
  EXPECT_DOUBLE_EQ(init.Variance(c.shape), v);
  const Stats s = StatsOf(Init(init, c.shape));
  // Five standard errors of the sample mean and variance.
  const double count = static_cast<double>(c.shape.NumElements());
  EXPECT_NEAR(s.mean, 0.0, 5 * std::sqrt(v / count));
  EXPECT_NEAR(s.variance, v, 5 * std::sqrt(2 / count) * v);
  switch (c.distribution) {
    case FanDistribution::kTruncatedNormal: {
      const double bound = 2 * std::sqrt(v) / 0.87962566103423978;
      EXPECT_LE(std::max(-s.min, s.max), bound * (1 + 1e-6));
      EXPECT_GT(std::max(-s.min, s.max), 0.98 * bound);
      break;
    }
    case FanDistribution::kUntruncatedNormal:
      EXPECT_GT(std::max(-s.min, s.max), 3.5 * std::sqrt(v));  // not truncated
      break;
    case FanDistribution::kUniform: {
      const double limit = std::sqrt(3 * v);
      EXPECT_GE(s.min, -limit * (1 + 1e-6));
      EXPECT_LT(s.max, limit);
      EXPECT_GT(s.max, 0.99 * limit);
      break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Spec, VarianceScalingStatsTest,
    ::testing::Values(VsCase{"fan_in_truncated_dense", FanMode::kFanIn,
                             FanDistribution::kTruncatedNormal, 1.0, Shape{300, 600}},
                      VsCase{"fan_out_truncated_conv", FanMode::kFanOut,
                             FanDistribution::kTruncatedNormal, 2.0, Shape{3, 3, 64, 100}},
                      VsCase{"fan_avg_untruncated", FanMode::kFanAvg,
                             FanDistribution::kUntruncatedNormal, 0.5, Shape{400, 500}},
                      VsCase{"fan_in_uniform_conv1d", FanMode::kFanIn, FanDistribution::kUniform,
                             3.0, Shape{5, 40, 1000}},
                      VsCase{"fan_avg_uniform_bias", FanMode::kFanAvg, FanDistribution::kUniform,
                             1.0, Shape{200000}},
                      VsCase{"fan_out_uniform_scalar_fans", FanMode::kFanOut,
                             FanDistribution::kUniform, 0.1, Shape{200000, 1}}),
    [](const auto& info) { return info.param.label; });

TEST(VarianceScalingTest, PresetsMatchTheSpecTable) {
  const Shape shape{3, 3, 200, 300};  // fan_in 1800, fan_out 2700
  struct Preset {
    InitializerPtr init;
    double variance;
    bool uniform;
  };
  const std::vector<Preset> presets = {{std::make_shared<GlorotUniform>(1), 2.0 / 4500, true},
                                       {std::make_shared<GlorotNormal>(1), 2.0 / 4500, false},
                                       {std::make_shared<HeUniform>(1), 2.0 / 1800, true},
                                       {std::make_shared<HeNormal>(1), 2.0 / 1800, false},
                                       {std::make_shared<LecunUniform>(1), 1.0 / 1800, true},
                                       {std::make_shared<LecunNormal>(1), 1.0 / 1800, false}};
  for (const Preset& p : presets) {
    const auto& vs = static_cast<const VarianceScaling&>(*p.init);
    EXPECT_DOUBLE_EQ(vs.Variance(shape), p.variance) << p.init->name();
    EXPECT_EQ(vs.distribution() == FanDistribution::kUniform, p.uniform) << p.init->name();
    const Stats s = StatsOf(Init(*p.init, shape));
    EXPECT_NEAR(s.variance, p.variance, 0.01 * p.variance) << p.init->name();
    // Glorot uniform: limit sqrt(6 / (fan_in + fan_out)); He: sqrt(6 / fan_in).
    if (p.uniform) {
      EXPECT_LE(s.max, std::sqrt(3 * p.variance)) << p.init->name();
    }
  }
}

// Orthogonality: Q^T Q = gain^2 I (rows >= cols) or Q Q^T = gain^2 I.
void ExpectOrthogonal(const Buffer& b, int64_t rows, int64_t cols, double gain) {
  const bool tall = rows >= cols;
  const int64_t k = tall ? cols : rows, len = tall ? rows : cols;
  auto at = [&](int64_t vec, int64_t i) {  // element i of column/row `vec`
    return tall ? b.GetAsDouble(i * cols + vec) : b.GetAsDouble(vec * cols + i);
  };
  for (int64_t a = 0; a < k; ++a) {
    for (int64_t c = 0; c < k; ++c) {
      double dot = 0;
      for (int64_t i = 0; i < len; ++i) dot += at(a, i) * at(c, i);
      EXPECT_NEAR(dot, a == c ? gain * gain : 0.0, 2e-5 * gain * gain) << a << "," << c;
    }
  }
}

TEST(OrthogonalTest, SquareTallWideAndConvShapes) {
  struct Case {
    Shape shape;
    int64_t rows, cols;
    double gain;
  };
  for (const Case& c : std::vector<Case>{{Shape{6, 6}, 6, 6, 1.0},
                                         {Shape{40, 7}, 40, 7, 2.0},
                                         {Shape{5, 33}, 5, 33, 0.5},
                                         {Shape{3, 3, 4, 6}, 36, 6, 1.0},
                                         {Shape{2, 2, 3, 16}, 12, 16, 1.5},
                                         {Shape{3, 1, 1}, 3, 1, 1.0}}) {
    SCOPED_TRACE(c.shape.ToString());
    Buffer b = Init(Orthogonal(c.gain, 9), c.shape);
    ExpectOrthogonal(b, c.rows, c.cols, c.gain);
  }
}

TEST(OrthogonalTest, EntriesLookRandomAndSeedsReproduce) {
  Buffer a = Init(Orthogonal(1.0, 5), Shape{64, 64});
  Buffer b = Init(Orthogonal(1.0, 5), Shape{64, 64});
  Buffer c = Init(Orthogonal(1.0, 6), Shape{64, 64});
  EXPECT_TRUE(a.BitwiseEquals(b));
  EXPECT_FALSE(a.BitwiseEquals(c));
  // Haar-distributed entries have mean 0 and variance 1/n.
  const Stats s = StatsOf(a);
  EXPECT_NEAR(s.mean, 0.0, 0.01);
  EXPECT_NEAR(s.variance, 1.0 / 64, 0.1 / 64);
}

TEST(SeedTest, SameSeedSameValuesDifferentSeedsDiffer) {
  const Shape shape{50, 40};
  for (int seed : {0, 1, -7}) {
    const RandomNormal a(0, 1, seed);
    Buffer first = Init(a, shape), again = Init(a, shape);
    Buffer other_object = Init(RandomNormal(0, 1, seed), shape);
    EXPECT_TRUE(first.BitwiseEquals(again)) << seed;
    EXPECT_TRUE(first.BitwiseEquals(other_object)) << seed;
    EXPECT_FALSE(first.BitwiseEquals(Init(RandomNormal(0, 1, seed + 100), shape)));
  }
  EXPECT_FALSE(Init(GlorotUniform(1), shape).BitwiseEquals(Init(GlorotUniform(2), shape)));
}

TEST(SeedTest, UnseededCallsDifferButReplayAfterSetGlobalSeed) {
  const Shape shape{100};
  const GlorotNormal unseeded;
  const RandomUniform other;
  SetGlobalInitializerSeed(123);
  Buffer a1 = Init(unseeded, shape), b1 = Init(other, shape), a2 = Init(unseeded, shape);
  EXPECT_FALSE(a1.BitwiseEquals(a2));  // fresh values on every call
  SetGlobalInitializerSeed(123);
  EXPECT_TRUE(Init(unseeded, shape).BitwiseEquals(a1));
  EXPECT_TRUE(Init(other, shape).BitwiseEquals(b1));
  EXPECT_TRUE(Init(unseeded, shape).BitwiseEquals(a2));
  SetGlobalInitializerSeed(124);
  EXPECT_FALSE(Init(unseeded, shape).BitwiseEquals(a1));
}

void ExpectError(const absl::StatusOr<Buffer>& b, const std::string& substring) {
  ASSERT_FALSE(b.ok()) << "expected an error containing: " << substring;
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(b.status().message()).find(substring), std::string::npos) << b.status();
}

TEST(InitializerErrorsTest, ShapesDtypesAndArguments) {
  ExpectError(GlorotUniform()(Shape{Shape::kBatch, 3}), "initializer 'GlorotUniform'");
  ExpectError(GlorotUniform()(Shape{Shape::kBatch, 3}), "concrete");
  ExpectError(Orthogonal()(Shape{5}), "at least two-dimensional");
  ExpectError(Orthogonal()(Shape{}), "initializer 'Orthogonal'");
  ExpectError(Identity()(Shape{2, 2, 2}), "2-D");
  ExpectError(Identity()(Shape{4}), "initializer 'Identity'");
  ExpectError(RandomNormal()(Shape{2}, DType::kI32), "floating point");
  ExpectError(TruncatedNormal()(Shape{2}, DType::kBool), "floating point");
  ExpectError(HeNormal()(Shape{2}, DType::kI64), "initializer 'HeNormal'");
  ExpectError(RandomUniform()(Shape{2}, DType::kBool), "float or integer");
  ExpectError(RandomUniform(-0.5, 2)(Shape{2}, DType::kI32), "integral bounds");
  ExpectError(Constant(std::vector<double>{1, 2, 3})(Shape{2, 2}), "3 elements");
  ExpectError(VarianceScaling(0.0)(Shape{2, 2}), "'scale' must be a positive");
  ExpectError(VarianceScaling(-1.0)(Shape{2, 2}), "initializer 'VarianceScaling'");
}

}  // namespace
}  // namespace kiln
