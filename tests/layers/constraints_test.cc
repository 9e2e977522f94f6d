// Constraints (layers/constraints.h) against spec section 5: each projection
// evaluated through the graph and compared with norms computed here in double
// along every axis variant (int, negative, list, all), MinMaxNorm's rate
// interpolation, NonNeg clipping, names, configs and every error path.
#include "layers/constraints.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/evaluate.h"
#include "graph/graph.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {
namespace {

using nlohmann::json;
constexpr double kEps = 1e-7;

// A 2 x 3 x 4 weight with mixed signs and norms around 1.
const Shape kShape{2, 3, 4};
std::vector<float> Weights() {
  std::vector<float> w(24);
  for (int i = 0; i < 24; ++i) w[i] = 0.15f * float((i * 7) % 11 - 5) + (i == 3 ? 2.0f : 0.0f);
  return w;
}

// The norm over `axes` (sorted, non-negative) for every element's slice.
std::vector<double> NormsAlong(const std::vector<float>& w, const std::vector<int>& axes) {
  auto reduced = [&](int d) { return std::find(axes.begin(), axes.end(), d) != axes.end(); };
  std::vector<double> out(24);
  for (int i = 0; i < 24; ++i) {
    const int idx[3] = {i / 12, (i / 4) % 3, i % 4};
    double sum = 0;
    for (int j = 0; j < 24; ++j) {
      const int jdx[3] = {j / 12, (j / 4) % 3, j % 4};
      bool same_slice = true;
      for (int d = 0; d < 3; ++d) same_slice &= reduced(d) || idx[d] == jdx[d];
      if (same_slice) sum += double(w[j]) * w[j];
    }
    out[i] = std::sqrt(sum);
  }
  return out;
}

absl::StatusOr<std::vector<double>> Apply(const Constraint& c,
                                          const std::vector<float>& w = Weights()) {
  auto g = Graph::Create();
  Tensor x = Input(g, "w", DType::kF32, kShape);
  Tensor y = c(x);
  if (!y.ok()) return y.status();
  EXPECT_EQ(y.shape(), kShape);
  Buffer wb = Buffer::FromVector<float>(kShape, w);
  absl::StatusOr<std::vector<Buffer>> out = EvaluateTensors({y}, {{"w", &wb}});
  if (!out.ok()) return out.status();
  std::vector<double> v;
  for (int64_t i = 0; i < 24; ++i) v.push_back((*out)[0].GetAsDouble(i));
  return v;
}

// Checks c(w) against want(w_i, norm_i) with norms along `axes`.
void ExpectProjection(const Constraint& c, const std::vector<int>& axes,
                      const std::function<double(double, double)>& want) {
  const std::vector<float> w = Weights();
  const std::vector<double> norms = NormsAlong(w, axes);
  absl::StatusOr<std::vector<double>> got = Apply(c, w);
  ASSERT_TRUE(got.ok()) << got.status();
  for (int i = 0; i < 24; ++i) {
    const double expected = want(w[i], norms[i]);
    EXPECT_NEAR((*got)[i], expected, 2e-6 * (1 + std::abs(expected))) << "element " << i;
  }
}

double Clip(double x, double lo, double hi) { return std::min(std::max(x, lo), std::max(lo, hi)); }

struct AxisCase {
  std::string label;
  NormAxes axis;
  std::vector<int> reduced;
};
std::vector<AxisCase> AxisCases() {
  return {{"default_0", 0, {0}},
          {"axis_1", 1, {1}},
          {"axis_minus_1", -1, {2}},
          {"list_0_1", {0, 1}, {0, 1}},
          {"list_2_0", {2, 0}, {0, 2}},
          {"list_0_1_2", {0, 1, 2}, {0, 1, 2}},
          {"all", NormAxes::All(), {0, 1, 2}},
          {"empty_list", IntList{}, {}}};
}

class ConstraintAxisTest : public ::testing::TestWithParam<AxisCase> {};

TEST_P(ConstraintAxisTest, MaxNorm) {
  const AxisCase& a = GetParam();
  for (double max_value : {2.0, 0.6, -1.0}) {
    SCOPED_TRACE(max_value);
    ExpectProjection(MaxNorm(max_value, a.axis), a.reduced,
                     [&](double w, double n) { return w * (Clip(n, 0, max_value) / (kEps + n)); });
  }
}

TEST_P(ConstraintAxisTest, UnitNorm) {
  const AxisCase& a = GetParam();
  ExpectProjection(UnitNorm(a.axis), a.reduced, [](double w, double n) { return w / (kEps + n); });
}

TEST_P(ConstraintAxisTest, MinMaxNormInterpolatesByRate) {
  const AxisCase& a = GetParam();
  struct Args {
    double lo, hi, rate;
  };
  for (const Args& p : std::vector<Args>{{0.0, 1.0, 1.0},
                                         {0.5, 1.5, 0.5},
                                         {0.9, 1.1, 0.2},
                                         {2.0, 1.0, 1.0}}) {  // hi < lo: hi = lo
    SCOPED_TRACE(absl::StrCat(p.lo, " ", p.hi, " ", p.rate));
    ExpectProjection(MinMaxNorm(p.lo, p.hi, p.rate, a.axis), a.reduced, [&](double w, double n) {
      const double desired = p.rate * Clip(n, p.lo, p.hi) + (1 - p.rate) * n;
      return w * (desired / (kEps + n));
    });
  }
}

INSTANTIATE_TEST_SUITE_P(Spec, ConstraintAxisTest, ::testing::ValuesIn(AxisCases()),
                         [](const auto& info) { return info.param.label; });

TEST(ConstraintsTest, NonNegClipsNegativesOnly) {
  ExpectProjection(NonNeg(), {}, [](double w, double) { return w >= 0 ? w : 0.0; });
}

TEST(ConstraintsTest, DefaultsMatchTheSpec) {
  // MaxNorm(2, axis 0), UnitNorm(axis 0), MinMaxNorm(0, 1, 1, axis 0).
  ExpectProjection(MaxNorm(), {0},
                   [](double w, double n) { return w * Clip(n, 0, 2) / (kEps + n); });
  ExpectProjection(UnitNorm(), {0}, [](double w, double n) { return w / (kEps + n); });
  ExpectProjection(MinMaxNorm(), {0},
                   [](double w, double n) { return w * Clip(n, 0, 1) / (kEps + n); });
}

TEST(ConstraintsTest, NamesAndConfigs) {
  struct Case {
    json config;
    Constraint direct;
    std::vector<int> reduced;
  };
  const std::vector<Case> cases = {
      {"max_norm", MaxNorm(), {0}},
      {"MaxNorm", MaxNorm(), {0}},
      {"maxnorm", MaxNorm(), {0}},
      {"non_neg", NonNeg(), {}},
      {"NonNeg", NonNeg(), {}},
      {"nonneg", NonNeg(), {}},
      {"unit_norm", UnitNorm(), {0}},
      {"UnitNorm", UnitNorm(), {0}},
      {"unitnorm", UnitNorm(), {0}},
      {"min_max_norm", MinMaxNorm(), {0}},
      {"MinMaxNorm", MinMaxNorm(), {0}},
      {json::parse(R"({"class_name": "MaxNorm", "config": {"max_value": 0.7, "axis": [0, 1]}})"),
       MaxNorm(0.7, {0, 1}),
       {0, 1}},
      {json::parse(R"({"class_name": "UnitNorm", "config": {"axis": -1}})"), UnitNorm(-1), {2}},
      {json::parse(R"({"class_name": "UnitNorm", "config": {"axis": null}})"),
       UnitNorm(NormAxes::All()),
       {0, 1, 2}},
      {json::parse(R"({"module": "keras.constraints", "class_name": "MinMaxNorm",
          "registered_name": null,
          "config": {"min_value": 0.5, "max_value": 1.2, "rate": 0.3, "axis": 1}})"),
       MinMaxNorm(0.5, 1.2, 0.3, 1),
       {1}},
      {json::parse(R"({"class_name": "MaxNorm", "config": {"max_value": null}})"),
       MaxNorm(INFINITY),
       {0}},
  };
  const std::vector<float> w = Weights();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.config.dump());
    absl::StatusOr<Constraint> parsed = ConstraintFromConfig(c.config);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    absl::StatusOr<std::vector<double>> got = Apply(*parsed, w), want = Apply(c.direct, w);
    ASSERT_TRUE(got.ok() && want.ok());
    EXPECT_EQ(*got, *want);
  }
  absl::StatusOr<Constraint> none = ConstraintFromConfig(json());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(static_cast<bool>(*none));
  absl::StatusOr<Constraint> by_name = ConstraintByName("unit_norm");
  ASSERT_TRUE(by_name.ok());
}

TEST(ConstraintsTest, BadAxesPoisonTheGraphNamingTheConstraint) {
  struct Case {
    Constraint c;
    std::string prefix, substring;
  };
  for (const Case& c :
       std::vector<Case>{{MaxNorm(2, 3), "[max_norm]", "axis [3] is invalid"},
                         {UnitNorm(-4), "[unit_norm]", "axis [-4] is invalid"},
                         {MinMaxNorm(0, 1, 1, {0, -3}), "[min_max_norm]", "duplicate"}}) {
    auto g = Graph::Create();
    Tensor y = c.c(Input(g, "w", DType::kF32, kShape));
    EXPECT_TRUE(y.poisoned());
    const std::string message(g->status().message());
    EXPECT_EQ(message.rfind(c.prefix, 0), 0u) << message;
    EXPECT_NE(message.find(c.substring), std::string::npos) << message;
    if (c.substring != "duplicate") {
      EXPECT_NE(message.find("shape [2,3,4]"), std::string::npos) << message;
    }
  }
}

TEST(ConstraintsTest, BadConfigsNameTheProblem) {
  struct Case {
    std::string config;
    std::string substring;
    absl::StatusCode code;
  };
  constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
  for (const Case& c : std::vector<Case>{
           {R"("max_norms")", "unknown constraint: 'max_norms'", kInvalid},
           {R"("min_maxnorm")", "unknown constraint: 'min_maxnorm'", kInvalid},
           {R"([1, 2])", "could not interpret constraint identifier", kInvalid},
           {R"({"class_name": "MaxNorm", "config": {"max": 2}})",
            "constraint 'MaxNorm': unexpected argument 'max'", kInvalid},
           {R"({"class_name": "NonNeg", "config": {"axis": 0}})",
            "constraint 'NonNeg': unexpected argument 'axis'", kInvalid},
           {R"({"class_name": "UnitNorm", "config": {"axis": "0"}})",
            "constraint 'UnitNorm': argument 'axis' must be an int or a list of ints", kInvalid},
           {R"({"class_name": "UnitNorm", "config": {"axis": [0, 1.5]}})",
            "argument 'axis' must be an int or a list of ints", kInvalid},
           {R"({"class_name": "MinMaxNorm", "config": {"rate": "fast"}})",
            "constraint 'MinMaxNorm': argument 'rate' must be a number", kInvalid},
           {R"({"class_name": "MinMaxNorm", "config": {"min_value": true}})",
            "argument 'min_value' must be a number", kInvalid},
           {R"("RadialConstraint")", "not supported", absl::StatusCode::kUnimplemented}}) {
    absl::StatusOr<Constraint> parsed = ConstraintFromConfig(json::parse(c.config));
    ASSERT_FALSE(parsed.ok()) << c.config;
    EXPECT_EQ(parsed.status().code(), c.code) << c.config;
    EXPECT_NE(std::string(parsed.status().message()).find(c.substring), std::string::npos)
        << c.config << " -> " << parsed.status();
  }
}

}  // namespace
}  // namespace kiln
