// ActivationByName (layers/activations.h): every name of the spec's table
// (section 6) against an independent formula in double, unknown names, and
// tf.keras's refusal of softmax over a 1-D tensor.
#include <algorithm>
#include <cmath>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/evaluate.h"
#include "graph/graph.h"
#include "gtest/gtest.h"
#include "layers/activations.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int kRows = 2, kCols = 6;
const std::vector<double> kInputs = {-80, -30, -2.7, -1, -0.25, 0,  //
                                     0.4, 1,   2.6,  7,  30,    80};

double SigmoidRef(double x) { return 1 / (1 + std::exp(-x)); }
double SoftplusRef(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

// Row-wise log-softmax of the [kRows, kCols] inputs, in double.
std::vector<double> LogSoftmaxRows(const std::vector<double>& x) {
  std::vector<double> out(x.size());
  for (int r = 0; r < kRows; ++r) {
    double m = -INFINITY, sum = 0;
    for (int c = 0; c < kCols; ++c) m = std::max(m, x[r * kCols + c]);
    for (int c = 0; c < kCols; ++c) sum += std::exp(x[r * kCols + c] - m);
    for (int c = 0; c < kCols; ++c) out[r * kCols + c] = x[r * kCols + c] - m - std::log(sum);
  }
  return out;
}

struct NamedActivation {
  std::string name;
  std::function<double(double)> f;  // elementwise; null for the row-wise ones
};

std::vector<NamedActivation> SpecTable() {
  constexpr double kAlpha = 1.6732632423543772848170429916717;
  constexpr double kScale = 1.0507009873554804934193349852946;
  auto identity = [](double x) { return x; };
  return {
      {"", identity},
      {"linear", identity},
      {"relu", [](double x) { return std::max(x, 0.0); }},
      {"sigmoid", SigmoidRef},
      {"tanh", [](double x) { return std::tanh(x); }},
      {"softmax", nullptr},
      {"softplus", SoftplusRef},
      {"softsign", [](double x) { return x / (1 + std::abs(x)); }},
      {"elu", [](double x) { return x > 0 ? x : std::expm1(x); }},
      {"selu", [=](double x) { return kScale * (x > 0 ? x : kAlpha * std::expm1(x)); }},
      {"exponential", [](double x) { return std::exp(x); }},
      {"hard_sigmoid", [](double x) { return std::clamp(0.2 * x + 0.5, 0.0, 1.0); }},
      {"swish", [](double x) { return x * SigmoidRef(x); }},
      {"silu", [](double x) { return x * SigmoidRef(x); }},
      {"gelu", [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }},
      {"relu6", [](double x) { return std::clamp(x, 0.0, 6.0); }},
      {"leaky_relu", [](double x) { return x > 0 ? x : 0.2 * x; }},
      {"log_softmax", nullptr},
      {"mish", [](double x) { return x * std::tanh(SoftplusRef(x)); }},
  };
}

void PrintTo(const NamedActivation& a, std::ostream* os) { *os << "'" << a.name << "'"; }

class ActivationByNameTest : public ::testing::TestWithParam<NamedActivation> {};

TEST_P(ActivationByNameTest, MatchesTheSpecFormula) {
  const NamedActivation& a = GetParam();
  absl::StatusOr<Activation> fn = ActivationByName(a.name);
  ASSERT_TRUE(fn.ok()) << fn.status();
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, kCols});
  Tensor y = (*fn)(x);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y.shape(), x.shape());

  std::vector<double> xs;
  for (double v : kInputs) xs.push_back(static_cast<float>(v));
  Buffer xb = Buffer::FromVector<float>(Shape{kRows, kCols},
                                        std::vector<float>(xs.begin(), xs.end()));
  absl::StatusOr<std::vector<Buffer>> out = EvaluateTensors({y}, {{"x", &xb}});
  ASSERT_TRUE(out.ok()) << out.status();

  std::vector<double> want;
  if (a.name == "softmax" || a.name == "log_softmax") {
    want = LogSoftmaxRows(xs);
    if (a.name == "softmax") {
      for (double& w : want) w = std::exp(w);
    }
  } else {
    for (double v : xs) want.push_back(a.f(v));
  }
  for (size_t i = 0; i < want.size(); ++i) {
    const double got = (*out)[0].GetAsDouble(i);
    EXPECT_TRUE(std::isfinite(got)) << a.name << "(" << xs[i] << ") = " << got;
    EXPECT_NEAR(got, want[i], 1e-6 + 2e-5 * std::abs(want[i]))
        << a.name << "(" << xs[i] << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Spec, ActivationByNameTest, ::testing::ValuesIn(SpecTable()),
                         [](const auto& info) {
                           return info.param.name.empty() ? std::string("none")
                                                          : info.param.name;
                         });

TEST(ActivationsTest, UnknownNameIsInvalidArgumentNamingIt) {
  for (const char* name : {"relu7", "Softmax", "sigmoid ", "hard_swish"}) {
    absl::StatusOr<Activation> fn = ActivationByName(name);
    ASSERT_FALSE(fn.ok()) << name;
    EXPECT_EQ(fn.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(fn.status().message().find(absl::StrCat("'", name, "'")),
              absl::string_view::npos)
        << fn.status();
  }
}

TEST(ActivationsTest, SoftmaxOnOneDimensionalTensorPoisonsTheGraph) {
  absl::StatusOr<Activation> softmax = ActivationByName("softmax");
  ASSERT_TRUE(softmax.ok());
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{5});
  Tensor y = (*softmax)(x);
  EXPECT_TRUE(y.poisoned());
  ASSERT_FALSE(g->status().ok());
  EXPECT_EQ(g->status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(g->status().message());
  EXPECT_EQ(message.rfind("[softmax]", 0), 0u) << message;
  EXPECT_NE(message.find("1-D"), std::string::npos) << message;
}

TEST(ActivationsTest, LogSoftmaxAndSoftmaxWorkOnRank3) {
  for (const char* name : {"softmax", "log_softmax"}) {
    absl::StatusOr<Activation> fn = ActivationByName(name);
    ASSERT_TRUE(fn.ok());
    auto g = Graph::Create();
    Tensor y = (*fn)(Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3, 4}));
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 3, 4}));
  }
}

}  // namespace
}  // namespace kiln
