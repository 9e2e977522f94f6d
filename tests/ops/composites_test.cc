// Composite ops (ops/composites.h) against independent formulas in double:
// values over grids that include large magnitudes (no inf/NaN where the true
// value is finite), gradients against closed-form derivatives on the same
// grids, gradients against finite differences (CheckGradients) on small
// inputs, and the errors bad arguments record in the graph.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "autodiff/grad.h"
#include "autodiff/gradient_check.h"
#include "graph/evaluate.h"
#include "graph/graph.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- helpers ----------------------------------------------------------------

Buffer F32(Shape shape, const std::vector<double>& values) {
  return Buffer::FromVector<float>(std::move(shape),
                                   std::vector<float>(values.begin(), values.end()));
}

// The values as the f32 inputs really hold them.
std::vector<double> Rounded(const std::vector<double>& values) {
  std::vector<double> out;
  for (double v : values) out.push_back(static_cast<float>(v));
  return out;
}

std::vector<double> ToDoubles(const Buffer& b) {
  std::vector<double> out(b.num_elements());
  for (int64_t i = 0; i < b.num_elements(); ++i) out[i] = b.GetAsDouble(i);
  return out;
}

std::vector<double> Uniform(int64_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> out(n);
  for (double& v : out) v = static_cast<float>(u(rng));
  return out;
}

std::vector<Buffer> Eval(absl::Span<const Tensor> ys, const Feeds& feeds) {
  absl::StatusOr<std::vector<Buffer>> out = EvaluateTensors(ys, feeds);
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  return *std::move(out);
}

std::vector<double> EvalOne(const Tensor& y, const Feeds& feeds) {
  EXPECT_TRUE(y.ok()) << y.status();
  if (!y.ok()) return {};
  std::vector<Buffer> out = Eval({y}, feeds);
  return out.empty() ? std::vector<double>{} : ToDoubles(out[0]);
}

// d sum(y) / d x.
std::vector<double> GradOfSum(const Tensor& y, const Tensor& x, const Feeds& feeds) {
  IntList all;
  for (int i = 0; i < y.rank(); ++i) all.push_back(i);
  absl::StatusOr<std::vector<Tensor>> g = Grad(ReduceSum(y, all), {x});
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return {};
  return EvalOne((*g)[0], feeds);
}

// |got - want| <= atol + rtol |want|, and finite wherever `want` is.
void ExpectNear(const std::vector<double>& got, const std::vector<double>& want,
                double rtol, double atol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << what << " [" << i << "]";
      continue;
    }
    EXPECT_TRUE(std::isfinite(got[i])) << what << " [" << i << "] = " << got[i]
                                       << ", want " << want[i];
    EXPECT_LE(std::abs(got[i] - want[i]), atol + rtol * std::abs(want[i]))
        << what << " [" << i << "]: got " << got[i] << ", want " << want[i];
  }
}

void ExpectGradientsOk(const Tensor& y, const Tensor& x, const Feeds& feeds,
                       const std::string& what) {
  ASSERT_TRUE(y.ok()) << y.status();
  absl::StatusOr<GradCheckResult> r = CheckGradients(y, {x}, feeds);
  ASSERT_TRUE(r.ok()) << what << ": " << r.status();
  EXPECT_TRUE(r->ok) << what << ": " << r->worst;
  EXPECT_GT(r->checked, 0) << what;
}

double SigmoidRef(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kGeluC = 0.7978845608028654;  // sqrt(2/pi)

// ---- unary composites -------------------------------------------------------

struct UnaryCase {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> value;
  std::function<double(double)> derivative;
  std::vector<double> kinks = {};  // no derivative comparison near these
  std::vector<double> grid = {};   // empty: kGrid
  double lo = -3, hi = 3;          // finite-difference input range
};

// Beyond +-88.7, exp() of f32 overflows: naive formulas give inf or NaN there.
const std::vector<double> kGrid = {-200, -100, -80, -30, -10, -5, -2.5, -1, -0.5, -0.01, 0,
                                   0.01, 0.5, 1, 2.5, 5, 10, 30, 80, 100, 200};

std::vector<UnaryCase> UnaryCases() {
  std::vector<UnaryCase> c;
  c.push_back({"relu", Relu, [](double x) { return std::max(x, 0.0); },
               [](double x) { return x > 0 ? 1.0 : 0.0; }, {0}});
  c.push_back({"sigmoid", Sigmoid, SigmoidRef,
               [](double x) { return SigmoidRef(x) * SigmoidRef(-x); }});
  c.push_back({"softplus", Softplus,
               [](double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); },
               SigmoidRef});
  c.push_back({"softsign", Softsign, [](double x) { return x / (1 + std::abs(x)); },
               [](double x) { return 1 / ((1 + std::abs(x)) * (1 + std::abs(x))); }});
  c.push_back({"elu", [](const Tensor& x) { return Elu(x); },
               [](double x) { return x > 0 ? x : std::expm1(x); },
               [](double x) { return x > 0 ? 1.0 : std::exp(x); }});
  c.push_back({"elu_alpha", [](const Tensor& x) { return Elu(x, 0.5); },
               [](double x) { return x > 0 ? x : 0.5 * std::expm1(x); },
               // At 0: the left derivative, alpha, as TF's EluGrad.
               [](double x) { return x > 0 ? 1.0 : 0.5 * std::exp(x); }});
  c.push_back({"selu", Selu,
               [](double x) { return kSeluScale * (x > 0 ? x : kSeluAlpha * std::expm1(x)); },
               [](double x) { return kSeluScale * (x > 0 ? 1.0 : kSeluAlpha * std::exp(x)); }});
  c.push_back({"gelu", [](const Tensor& x) { return Gelu(x); },
               [](double x) { return x * Phi(x); },
               [](double x) {
                 return Phi(x) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi);
               }});
  c.push_back({"gelu_tanh", [](const Tensor& x) { return Gelu(x, true); },
               [](double x) {
                 return 0.5 * x * (1 + std::tanh(kGeluC * (x + 0.044715 * x * x * x)));
               },
               [](double x) {
                 const double t = std::tanh(kGeluC * (x + 0.044715 * x * x * x));
                 return 0.5 * (1 + t) +
                        0.5 * x * (1 - t * t) * kGeluC * (1 + 3 * 0.044715 * x * x);
               }});
  c.push_back({"swish", Swish, [](double x) { return x * SigmoidRef(x); },
               [](double x) {
                 const double s = SigmoidRef(x);
                 return s + x * s * (1 - s);
               }});
  c.push_back({"hard_sigmoid", HardSigmoid,
               [](double x) { return std::clamp(0.2 * x + 0.5, 0.0, 1.0); },
               [](double x) { return std::abs(x) < 2.5 ? 0.2 : 0.0; }, {-2.5, 2.5},
               {}, -4, 4});
  c.push_back({"square", Square, [](double x) { return x * x; },
               [](double x) { return 2 * x; }});
  c.push_back({"reciprocal", Reciprocal, [](double x) { return 1 / x; },
               [](double x) { return -1 / (x * x); }, {},
               {-80, -30, -2, -0.5, -0.01, 0.01, 0.25, 1, 3, 30, 80}, 0.5, 3});
  c.push_back({"clip", [](const Tensor& x) { return Clip(x, -1.0, 2.0); },
               [](double x) { return std::clamp(x, -1.0, 2.0); },
               [](double x) { return x > -1 && x < 2 ? 1.0 : 0.0; }, {-1, 2}});
  return c;
}

void PrintTo(const UnaryCase& c, std::ostream* os) { *os << c.name; }

class UnaryCompositeTest : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(UnaryCompositeTest, ValuesAreStableAndAccurate) {
  const UnaryCase& c = GetParam();
  const std::vector<double> grid = Rounded(c.grid.empty() ? kGrid : c.grid);
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{static_cast<int64_t>(grid.size())});
  Tensor y = c.op(x);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y.shape(), x.shape());
  Buffer xb = F32(x.shape(), grid);
  std::vector<double> want;
  for (double v : grid) want.push_back(c.value(v));
  ExpectNear(EvalOne(y, {{"x", &xb}}), want, 2e-5, 1e-6, c.name);
}

TEST_P(UnaryCompositeTest, GradientMatchesDerivativeOnGrid) {
  const UnaryCase& c = GetParam();
  std::vector<double> grid;
  for (double v : Rounded(c.grid.empty() ? kGrid : c.grid)) {
    bool near_kink = false;
    for (double k : c.kinks) near_kink = near_kink || std::abs(v - k) < 1e-6;
    if (!near_kink) grid.push_back(v);
  }
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{static_cast<int64_t>(grid.size())});
  Tensor y = c.op(x);
  Buffer xb = F32(x.shape(), grid);
  std::vector<double> want;
  for (double v : grid) want.push_back(c.derivative(v));
  ExpectNear(GradOfSum(y, x, {{"x", &xb}}), want, 1e-4, 1e-6, c.name);
}

TEST_P(UnaryCompositeTest, GradientMatchesFiniteDifferences) {
  const UnaryCase& c = GetParam();
  std::vector<double> values = Uniform(2 * 6, c.lo, c.hi, 7);
  for (double& v : values) {
    for (double k : c.kinks) {
      if (std::abs(v - k) < 0.05) v = static_cast<float>(k + 0.1);
    }
  }
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 6});
  Buffer xb = F32(Shape{2, 6}, values);
  ExpectGradientsOk(c.op(x), x, {{"x", &xb}}, c.name);
}

INSTANTIATE_TEST_SUITE_P(Composites, UnaryCompositeTest,
                         ::testing::ValuesIn(UnaryCases()),
                         [](const auto& info) { return info.param.name; });

TEST(CompositeTest, SigmoidKeepsRelativeAccuracyInTheTails) {
  auto g = Graph::Create();
  const std::vector<double> grid = {-80, -50, -30, -17, 17, 30};
  Tensor x = Input(g, "x", DType::kF32, Shape{6});
  Buffer xb = F32(x.shape(), grid);
  std::vector<double> s = EvalOne(Sigmoid(x), {{"x", &xb}});
  std::vector<double> sp = EvalOne(Softplus(x), {{"x", &xb}});
  ASSERT_EQ(s.size(), 6u);
  ASSERT_EQ(sp.size(), 6u);
  for (int i = 0; i < 4; ++i) {  // tiny but normal in f32: relative accuracy
    EXPECT_NEAR(s[i] / SigmoidRef(grid[i]), 1.0, 1e-5) << grid[i];
    EXPECT_NEAR(sp[i] / std::log1p(std::exp(grid[i])), 1.0, 1e-5) << grid[i];
  }
  EXPECT_EQ(s[5], 1.0);
}

TEST(CompositeTest, ReluGradientAtZeroIsZero) {  // as tf.nn.relu
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{3});
  Buffer xb = F32(x.shape(), {-1, 0, 1});
  ExpectNear(GradOfSum(Relu(x), x, {{"x", &xb}}), {0, 0, 1}, 0, 0, "relu'");
}

TEST(CompositeTest, GreaterAndGreaterEqual) {
  auto g = Graph::Create();
  Tensor a = Input(g, "a", DType::kF32, Shape{5});
  Tensor b = Input(g, "b", DType::kF32, Shape{5});
  Tensor gt = Greater(a, b);
  Tensor ge = GreaterEqual(a, b);
  ASSERT_TRUE(ge.ok()) << ge.status();
  EXPECT_EQ(gt.dtype(), DType::kBool);
  EXPECT_EQ(ge.dtype(), DType::kBool);
  Buffer ab = F32(Shape{5}, {1, 2, 3, 4, -kInf});
  Buffer bb = F32(Shape{5}, {3, 3, 3, 3, -5});
  std::vector<Buffer> out = Eval({gt, ge}, {{"a", &ab}, {"b", &bb}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(ToDoubles(out[0]), (std::vector<double>{0, 0, 0, 1, 0}));
  EXPECT_EQ(ToDoubles(out[1]), (std::vector<double>{0, 0, 1, 1, 0}));
}

TEST(CompositeTest, GeluTailsAreFinite) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{4});
  Buffer xb = F32(x.shape(), {-1e4, -200, 200, 1e4});
  for (bool approximate : {false, true}) {
    ExpectNear(EvalOne(Gelu(x, approximate), {{"x", &xb}}), {0, 0, 200, 1e4}, 1e-6, 1e-6,
               approximate ? "gelu_tanh" : "gelu");
  }
}

// ---- softmax, log_softmax, logsumexp -------------------------------------------

// Softmax / log-softmax / logsumexp in double along `axis` of a row-major
// [outer, n, inner] view of `x`.
struct AxisView {
  int64_t outer, n, inner;
};
AxisView ViewOf(const Shape& s, int axis) {
  AxisView v{1, s.dim(axis), 1};
  for (int i = 0; i < axis; ++i) v.outer *= s.dim(i);
  for (int i = axis + 1; i < s.rank(); ++i) v.inner *= s.dim(i);
  return v;
}
std::vector<double> RefLogSoftmax(const std::vector<double>& x, AxisView v) {
  std::vector<double> out(x.size());
  for (int64_t o = 0; o < v.outer; ++o) {
    for (int64_t i = 0; i < v.inner; ++i) {
      auto at = [&](int64_t j) { return (o * v.n + j) * v.inner + i; };
      double m = -kInf;
      for (int64_t j = 0; j < v.n; ++j) m = std::max(m, x[at(j)]);
      double sum = 0;
      for (int64_t j = 0; j < v.n; ++j) sum += std::exp(x[at(j)] - m);
      for (int64_t j = 0; j < v.n; ++j) out[at(j)] = x[at(j)] - m - std::log(sum);
    }
  }
  return out;
}
std::vector<double> RefSoftmax(const std::vector<double>& x, AxisView v) {
  std::vector<double> out = RefLogSoftmax(x, v);
  for (double& o : out) o = std::exp(o);
  return out;
}

const std::vector<double> kLogits = {80, -80, 30, -30, 0,     //
                                     1,  2,   3,  4,   5,     //
                                     -80, -80, -80, -80, -80,  //
                                     80, 80, 79, -1e4, 1e4};

TEST(SoftmaxTest, ValuesWithLargeLogits) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{4, 5});
  Buffer xb = F32(x.shape(), kLogits);
  const std::vector<double> xs = Rounded(kLogits);
  for (int64_t axis : {-1, 1, 0, -2}) {
    const AxisView v = ViewOf(x.shape(), axis < 0 ? axis + 2 : axis);
    const std::string what = "axis " + std::to_string(axis);
    ExpectNear(EvalOne(Softmax(x, axis), {{"x", &xb}}), RefSoftmax(xs, v), 1e-5, 1e-7,
               "softmax " + what);
    ExpectNear(EvalOne(LogSoftmax(x, axis), {{"x", &xb}}), RefLogSoftmax(xs, v), 1e-5,
               1e-5, "log_softmax " + what);
  }
}

TEST(SoftmaxTest, GradientWithLargeLogitsMatchesJacobian) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{4, 5});
  Tensor r = Input(g, "r", DType::kF32, Shape{4, 5});
  Buffer xb = F32(x.shape(), kLogits);
  const std::vector<double> rs = Uniform(20, -1, 1, 3);
  Buffer rb = F32(r.shape(), rs);
  const std::vector<double> s = RefSoftmax(Rounded(kLogits), ViewOf(x.shape(), 1));
  // softmax: s_i (r_i - sum_j r_j s_j);  log_softmax: r_i - s_i sum_j r_j.
  std::vector<double> want_softmax(20), want_log(20);
  for (int row = 0; row < 4; ++row) {
    double rs_dot = 0, r_sum = 0;
    for (int j = 0; j < 5; ++j) {
      rs_dot += rs[row * 5 + j] * s[row * 5 + j];
      r_sum += rs[row * 5 + j];
    }
    for (int j = 0; j < 5; ++j) {
      const int i = row * 5 + j;
      want_softmax[i] = s[i] * (rs[i] - rs_dot);
      want_log[i] = rs[i] - s[i] * r_sum;
    }
  }
  const Feeds feeds = {{"x", &xb}, {"r", &rb}};
  ExpectNear(GradOfSum(Softmax(x) * r, x, feeds), want_softmax, 1e-4, 1e-6, "softmax'");
  ExpectNear(GradOfSum(LogSoftmax(x) * r, x, feeds), want_log, 1e-4, 1e-5, "log_softmax'");
}

TEST(SoftmaxTest, MiddleAxisOfRank3AndBatch) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3, 4});
  const std::vector<double> xs = Uniform(24, -6, 6, 11);
  Buffer xb = F32(Shape{2, 3, 4}, xs);
  const AxisView v = ViewOf(Shape{2, 3, 4}, 1);
  ExpectNear(EvalOne(Softmax(x, -2), {{"x", &xb}}), RefSoftmax(xs, v), 1e-5, 1e-7,
             "softmax");
  ExpectNear(EvalOne(LogSoftmax(x, 1), {{"x", &xb}}), RefLogSoftmax(xs, v), 1e-5, 1e-6,
             "log_softmax");
}

TEST(SoftmaxTest, GradientsMatchFiniteDifferences) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{2, 3, 4});
  Buffer xb = F32(x.shape(), Uniform(24, -2, 2, 5));
  const Feeds feeds = {{"x", &xb}};
  ExpectGradientsOk(Softmax(x, -1), x, feeds, "softmax -1");
  ExpectGradientsOk(Softmax(x, 1), x, feeds, "softmax 1");
  ExpectGradientsOk(LogSoftmax(x, 0), x, feeds, "log_softmax 0");
  ExpectGradientsOk(LogSoftmax(x, -1), x, feeds, "log_softmax -1");
  ExpectGradientsOk(LogSumExp(x, {0, 2}), x, feeds, "logsumexp (0,2)");
  ExpectGradientsOk(LogSumExp(x, {-1}, true), x, feeds, "logsumexp -1 keepdims");
}

// logsumexp over `axes` of a [2,3,4] tensor in double.
std::vector<double> RefLogSumExp(const std::vector<double>& x, const IntList& axes) {
  const Shape shape{2, 3, 4};
  std::vector<bool> reduced(3, false);
  for (int64_t a : axes) reduced[a < 0 ? a + 3 : a] = true;
  // Output index of each input element in the keepdims shape.
  Shape out_shape = shape;
  for (int i = 0; i < 3; ++i) if (reduced[i]) out_shape.dim(i) = 1;
  const std::vector<int64_t> in_strides = shape.Strides();
  const std::vector<int64_t> out_strides = out_shape.Strides();
  std::vector<double> m(out_shape.NumElements(), -kInf), sum(m.size(), 0);
  auto out_index = [&](int64_t i) {
    int64_t o = 0;
    for (int d = 0; d < 3; ++d) {
      const int64_t c = (i / in_strides[d]) % shape.dim(d);
      if (!reduced[d]) o += c * out_strides[d];
    }
    return o;
  };
  for (int64_t i = 0; i < 24; ++i) m[out_index(i)] = std::max(m[out_index(i)], x[i]);
  for (int64_t i = 0; i < 24; ++i) sum[out_index(i)] += std::exp(x[i] - m[out_index(i)]);
  for (size_t o = 0; o < m.size(); ++o) m[o] += std::log(sum[o]);
  return m;
}

TEST(LogSumExpTest, ValuesOverAxes) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{2, 3, 4});
  std::vector<double> xs = Uniform(24, -5, 5, 9);
  xs[0] = 80;
  xs[1] = 80;
  xs[5] = -80;
  xs[13] = 30;
  Buffer xb = F32(x.shape(), xs);
  const std::vector<IntList> axes_list = {{1}, {-1}, {0, 2}, {2, 0, 1}, {}};
  for (const IntList& axes : axes_list) {
    const std::vector<double> want = RefLogSumExp(xs, axes);
    for (bool keepdims : {false, true}) {
      Tensor y = LogSumExp(x, axes, keepdims);
      ASSERT_TRUE(y.ok()) << y.status();
      int64_t rank = 3;
      for (int i = 0; i < 3; ++i) {
        for (int64_t a : axes) rank -= (!keepdims && (a + 3) % 3 == i) ? 1 : 0;
      }
      EXPECT_EQ(y.rank(), rank);
      ExpectNear(EvalOne(y, {{"x", &xb}}), want, 1e-6, 1e-6,
                 "logsumexp keepdims=" + std::to_string(keepdims));
    }
  }
}

TEST(LogSumExpTest, InfiniteRows) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{3, 2});
  Buffer xb = F32(x.shape(), {-kInf, -kInf, kInf, 1, 80, 80});
  ExpectNear(EvalOne(LogSumExp(x, {1}), {{"x", &xb}}), {-kInf, kInf, 80 + std::log(2.0)},
             1e-6, 0, "logsumexp");
}

TEST(LogSumExpTest, BatchAxis) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3});
  const std::vector<double> xs = Uniform(12, -4, 4, 21);
  Buffer xb = F32(Shape{4, 3}, xs);
  Tensor over_batch = LogSumExp(x, {0});
  Tensor over_rows = LogSumExp(x, {-1});
  ASSERT_TRUE(over_rows.ok()) << over_rows.status();
  EXPECT_EQ(over_batch.shape(), (Shape{3}));
  EXPECT_EQ(over_rows.shape(), (Shape{Shape::kBatch}));
  for (auto [y, axis] : {std::pair{over_batch, 0}, std::pair{over_rows, 1}}) {
    const AxisView v = ViewOf(Shape{4, 3}, axis);
    std::vector<double> ls = RefLogSoftmax(xs, v), want;
    // logsumexp = x - log_softmax(x) at any element of the reduced run.
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const int64_t k = o * v.n * v.inner + i;
        want.push_back(xs[k] - ls[k]);
      }
    }
    ExpectNear(EvalOne(y, {{"x", &xb}}), want, 1e-6, 1e-6, "logsumexp batch");
  }
}

// ---- mean, variance, l2_normalize, reduce_min -----------------------------------

// Reduces a [2,3,4] (or any) tensor over `axes` in double with `f`, which
// gets the reduced run of values; the result is in keepdims order.
std::vector<double> RefReduce(const std::vector<double>& x, const Shape& shape,
                              const IntList& axes,
                              const std::function<double(const std::vector<double>&)>& f) {
  const int rank = shape.rank();
  std::vector<bool> reduced(rank, false);
  for (int64_t a : axes) reduced[a < 0 ? a + rank : a] = true;
  Shape out_shape = shape;
  for (int i = 0; i < rank; ++i) if (reduced[i]) out_shape.dim(i) = 1;
  const std::vector<int64_t> in_strides = shape.Strides();
  const std::vector<int64_t> out_strides = out_shape.Strides();
  std::vector<std::vector<double>> runs(out_shape.NumElements());
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) {
    int64_t o = 0;
    for (int d = 0; d < rank; ++d) {
      if (!reduced[d]) o += ((i / in_strides[d]) % shape.dim(d)) * out_strides[d];
    }
    runs[o].push_back(x[i]);
  }
  std::vector<double> out;
  for (const auto& run : runs) out.push_back(f(run));
  return out;
}

double RunMean(const std::vector<double>& v) {
  double s = 0;
  for (double e : v) s += e;
  return s / v.size();
}
double RunVariance(const std::vector<double>& v) {
  const double m = RunMean(v);
  double s = 0;
  for (double e : v) s += (e - m) * (e - m);
  return s / v.size();
}
double RunMin(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

TEST(StatisticsTest, ValuesOverAxes) {
  auto g = Graph::Create();
  const Shape shape{2, 3, 4};
  Tensor x = Input(g, "x", DType::kF32, shape);
  std::vector<double> xs = Uniform(24, -5, 5, 13);
  xs[3] = 80;
  xs[7] = -80;
  Buffer xb = F32(shape, xs);
  const Feeds feeds = {{"x", &xb}};
  const std::vector<IntList> axes_list = {{1}, {-1}, {0, 2}, {2, -3, 1}, {}};
  for (const IntList& axes : axes_list) {
    for (bool keepdims : {false, true}) {
      const std::string what = "keepdims=" + std::to_string(keepdims);
      Tensor mean = Mean(x, axes, keepdims);
      Tensor variance = Variance(x, axes, keepdims);
      Tensor min = ReduceMin(x, axes, keepdims);
      ASSERT_TRUE(min.ok()) << min.status();
      EXPECT_EQ(mean.shape(), min.shape());
      EXPECT_EQ(variance.shape(), min.shape());
      ExpectNear(EvalOne(mean, feeds), RefReduce(xs, shape, axes, RunMean), 1e-5, 1e-6,
                 "mean " + what);
      ExpectNear(EvalOne(variance, feeds), RefReduce(xs, shape, axes, RunVariance), 1e-5,
                 1e-5, "variance " + what);
      ExpectNear(EvalOne(min, feeds), RefReduce(xs, shape, axes, RunMin), 0, 0,
                 "reduce_min " + what);
    }
  }
}

TEST(StatisticsTest, VarianceWithLargeOffset) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{2, 64});
  std::vector<double> xs = Uniform(128, -1, 1, 17);
  for (double& v : xs) v = static_cast<float>(v + 1e4);
  Buffer xb = F32(x.shape(), xs);
  ExpectNear(EvalOne(Variance(x, {1}), {{"x", &xb}}),
             RefReduce(xs, Shape{2, 64}, {1}, RunVariance), 1e-3, 0, "variance");
}

TEST(StatisticsTest, ReductionsOverTheBatch) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3});
  const std::vector<double> xs = Uniform(12, -3, 3, 19);
  Buffer xb = F32(Shape{4, 3}, xs);
  const Feeds feeds = {{"x", &xb}};
  const Shape concrete{4, 3};
  ExpectNear(EvalOne(Mean(x, {0}), feeds), RefReduce(xs, concrete, {0}, RunMean), 1e-5,
             1e-6, "mean over N");
  ExpectNear(EvalOne(Mean(x, {0, 1}), feeds), RefReduce(xs, concrete, {0, 1}, RunMean),
             1e-5, 1e-6, "mean over all");
  ExpectNear(EvalOne(Variance(x, {-2}, true), feeds),
             RefReduce(xs, concrete, {0}, RunVariance), 1e-5, 1e-6, "variance over N");
  ExpectNear(EvalOne(Mean(x, {1}), feeds), RefReduce(xs, concrete, {1}, RunMean), 1e-5,
             1e-6, "mean over rows");
  ExpectGradientsOk(Mean(x, {0}), x, feeds, "mean over N");
  ExpectGradientsOk(Variance(x, {0}), x, feeds, "variance over N");
}

TEST(StatisticsTest, L2Normalize) {
  auto g = Graph::Create();
  const Shape shape{3, 4};
  Tensor x = Input(g, "x", DType::kF32, shape);
  const std::vector<double> xs = {3, -4, 0, 0,  //
                                  0, 0, 0, 0,   // all zero: 0, not NaN
                                  80, -80, 30, -1e-3};
  Buffer xb = F32(shape, xs);
  for (const IntList& axes : std::vector<IntList>{{-1}, {0, 1}, {0}}) {
    std::vector<double> norm = RefReduce(xs, shape, axes, [](const std::vector<double>& v) {
      double s = 0;
      for (double e : v) s += e * e;
      return 1 / std::sqrt(std::max(s, 1e-12));
    });
    // Broadcast the inverse norms back over the reduced axes.
    std::vector<double> want(xs.size());
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 4; ++j) {
        const bool r0 = std::find(axes.begin(), axes.end(), 0) != axes.end();
        const bool r1 = axes.size() == 2 || axes[0] == -1;
        const int o = (r0 ? 0 : i) * (r1 ? 1 : 4) + (r1 ? 0 : j);
        want[i * 4 + j] = xs[i * 4 + j] * norm[o];
      }
    }
    Tensor y = L2Normalize(x, axes);
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ(y.shape(), shape);
    ExpectNear(EvalOne(y, {{"x", &xb}}), want, 1e-5, 1e-7, "l2_normalize");
  }
}

TEST(StatisticsTest, GradientsMatchFiniteDifferences) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{2, 3, 4});
  Buffer xb = F32(x.shape(), Uniform(24, -2, 2, 23));
  const Feeds feeds = {{"x", &xb}};
  ExpectGradientsOk(Mean(x, {1}), x, feeds, "mean");
  ExpectGradientsOk(Mean(x, {-1, 0}, true), x, feeds, "mean keepdims");
  ExpectGradientsOk(Variance(x, {0, 2}), x, feeds, "variance");
  ExpectGradientsOk(Variance(x, {-1}, true), x, feeds, "variance keepdims");
  ExpectGradientsOk(L2Normalize(x, {-1}), x, feeds, "l2_normalize");
  ExpectGradientsOk(L2Normalize(x, {0, 1}), x, feeds, "l2_normalize (0,1)");
  ExpectGradientsOk(ReduceMin(x, {1}), x, feeds, "reduce_min");
  ExpectGradientsOk(ReduceMin(x, {0, 2}, true), x, feeds, "reduce_min keepdims");
}

// ---- argument errors --------------------------------------------------------

struct ErrorCase {
  std::string label;
  std::function<Tensor(const Tensor&)> build;  // on an f32 [2,3] input
  std::string op;                               // "[op]" must start the message
  std::string message;                          // a substring of it
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.label; }

class CompositeErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(CompositeErrorTest, PoisonsTheGraphWithAClearMessage) {
  const ErrorCase& c = GetParam();
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{2, 3});
  Tensor y = c.build(x);
  EXPECT_TRUE(y.poisoned());
  ASSERT_FALSE(g->status().ok());
  EXPECT_EQ(g->status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(g->status().message());
  EXPECT_EQ(message.rfind("[" + c.op + "]", 0), 0u) << message;
  EXPECT_NE(message.find(c.message), std::string::npos) << message;
  // Later ops on the poisoned result keep the first error.
  Tensor z = Sigmoid(Softmax(y) + 1.0);
  EXPECT_TRUE(z.poisoned());
  EXPECT_EQ(std::string(g->status().message()), message);
}

INSTANTIATE_TEST_SUITE_P(
    Composites, CompositeErrorTest,
    ::testing::Values(
        ErrorCase{"softmax_axis", [](const Tensor& x) { return Softmax(x, 2); }, "softmax",
                  "axis 2 is out of range for a rank-2 tensor"},
        ErrorCase{"softmax_scalar",
                  [](const Tensor& x) { return Softmax(ReduceSum(x, {0, 1})); }, "softmax",
                  "axis -1 is out of range for a rank-0 tensor"},
        ErrorCase{"log_softmax_axis", [](const Tensor& x) { return LogSoftmax(x, -3); },
                  "log_softmax", "axis -3 is out of range"},
        ErrorCase{"logsumexp_axis", [](const Tensor& x) { return LogSumExp(x, {0, 5}); },
                  "logsumexp", "axis 5 is out of range"},
        ErrorCase{"mean_repeat", [](const Tensor& x) { return Mean(x, {1, -1}); }, "mean",
                  "axes must not repeat"},
        ErrorCase{"variance_axis", [](const Tensor& x) { return Variance(x, {2}); },
                  "variance", "axis 2 is out of range"},
        ErrorCase{"l2_normalize_axis",
                  [](const Tensor& x) { return L2Normalize(x, {-3}); }, "l2_normalize",
                  "axis -3 is out of range"},
        ErrorCase{"reduce_min_axis", [](const Tensor& x) { return ReduceMin(x, {4}); },
                  "reduce_min", "axis 4 is out of range"},
        ErrorCase{"clip_bounds", [](const Tensor& x) { return Clip(x, 1.0, 0.0); }, "clip",
                  "lower bound must not exceed the upper bound, got [1, 0]"},
        ErrorCase{"clip_nan", [](const Tensor& x) { return Clip(x, NAN, 0.0); }, "clip",
                  "lower bound"}),
    [](const auto& info) { return info.param.label; });

TEST(CompositeTest, PoisonedInputsGiveNoNewError) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{2, 3});
  Tensor bad = Reshape(x, Shape{7});
  ASSERT_TRUE(bad.poisoned());
  const std::string first(g->status().message());
  for (const Tensor& y :
       {Relu(bad), Sigmoid(bad), Softplus(bad), Softsign(bad), Elu(bad), Selu(bad),
        Gelu(bad), Gelu(bad, true), Swish(bad), HardSigmoid(bad), Softmax(bad, 5),
        LogSoftmax(bad, 5), LogSumExp(bad, {5}), Mean(bad, {5}), Variance(bad, {5}),
        L2Normalize(bad, {5}), ReduceMin(bad, {5}), Clip(bad, 1, 0), Square(bad),
        Reciprocal(bad), Greater(bad, x), GreaterEqual(x, bad)}) {
    EXPECT_TRUE(y.poisoned());
  }
  EXPECT_EQ(std::string(g->status().message()), first);
}

}  // namespace
}  // namespace kiln
