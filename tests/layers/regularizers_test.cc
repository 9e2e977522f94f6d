// Regularizers (layers/regularizers.h) against spec 4.1: each penalty
// evaluated through the graph and compared with the scalar formula in double,
// the defaults of the named and class forms (l1_l2 vs L1L2), configs, and
// every error path.
#include "layers/regularizers.h"

#include <cmath>
#include <string>
#include <vector>

#include "graph/evaluate.h"
#include "graph/graph.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {
namespace {

using nlohmann::json;

const Shape kShape{3, 4};
const std::vector<float> kW = {0.5f,  -1.25f, 2.0f, 0.0f,  -0.75f, 3.5f,
                               -2.0f, 0.125f, 1.0f, -0.5f, 0.25f,  -4.0f};

double SumAbs() {
  double s = 0;
  for (float v : kW) s += std::abs(v);
  return s;
}
double SumSquares() {
  double s = 0;
  for (float v : kW) s += double(v) * v;
  return s;
}

// reg(w) for w = kW, evaluated; the graph error when it failed.
absl::StatusOr<double> Penalty(const Regularizer& reg, const Shape& shape = kShape,
                               const std::vector<float>& values = kW) {
  auto g = Graph::Create();
  Tensor w = Input(g, "w", DType::kF32, shape);
  Tensor p = reg(w);
  if (!p.ok()) return p.status();
  EXPECT_EQ(p.shape(), Shape{});
  Buffer wb = Buffer::FromVector<float>(shape, values);
  absl::StatusOr<std::vector<Buffer>> out = EvaluateTensors({p}, {{"w", &wb}});
  if (!out.ok()) return out.status();
  return (*out)[0].GetAsDouble(0);
}

void ExpectPenalty(const Regularizer& reg, double want) {
  absl::StatusOr<double> got = Penalty(reg);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_NEAR(*got, want, 1e-6 * (1 + std::abs(want)));
}

TEST(RegularizersTest, PenaltiesMatchTheFormulas) {
  ExpectPenalty(L1(0.3), 0.3 * SumAbs());
  ExpectPenalty(L1(), 0.01 * SumAbs());
  ExpectPenalty(L2(0.2), 0.2 * SumSquares());  // no 1/2 factor
  ExpectPenalty(L2(), 0.01 * SumSquares());
  ExpectPenalty(L1L2(0.1, 0.05), 0.1 * SumAbs() + 0.05 * SumSquares());
  ExpectPenalty(L1L2(0.0, 0.05), 0.05 * SumSquares());
  ExpectPenalty(L1L2(0.1), 0.1 * SumAbs());
  ExpectPenalty(L1L2(), 0.0);
}

TEST(RegularizersTest, WorksOnEveryRank) {
  absl::StatusOr<double> scalar = Penalty(L1L2(1, 1), Shape{}, {-3.0f});
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_NEAR(*scalar, 3.0 + 9.0, 1e-6);
  absl::StatusOr<double> conv = Penalty(L2(0.5), Shape{2, 1, 3, 2}, kW);
  ASSERT_TRUE(conv.ok()) << conv.status();
  EXPECT_NEAR(*conv, 0.5 * SumSquares(), 1e-5);
}

TEST(RegularizersTest, NamedFormsAndTheirDefaults) {
  struct Case {
    std::string name;
    double l1, l2;
  };
  for (const Case& c : std::vector<Case>{{"l1", 0.01, 0},
                                         {"L1", 0.01, 0},
                                         {"l2", 0, 0.01},
                                         {"L2", 0, 0.01},
                                         {"l1_l2", 0.01, 0.01},
                                         {"L1L2", 0, 0}}) {
    absl::StatusOr<Regularizer> reg = RegularizerByName(c.name);
    ASSERT_TRUE(reg.ok()) << c.name << ": " << reg.status();
    SCOPED_TRACE(c.name);
    ExpectPenalty(*reg, c.l1 * SumAbs() + c.l2 * SumSquares());
  }
}

TEST(RegularizersTest, FromConfig) {
  struct Case {
    std::string config;
    double l1, l2;
  };
  for (const Case& c :
       std::vector<Case>{{R"({"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.02}})", 0, 0.02},
                         {R"({"class_name": "L1L2", "config": {"l2": 0.3}})", 0, 0.3},
                         {R"({"class_name": "L1L2", "config": {"l1": null, "l2": 0.3}})", 0, 0.3},
                         {R"({"class_name": "l1_l2", "config": {"l2": 0.3}})", 0.01, 0.3},
                         {R"({"class_name": "l1_l2", "config": {"l1": null}})", 0, 0.01},
                         {R"({"class_name": "L1", "config": {"l1": 0.5}})", 0.5, 0},
                         {R"({"class_name": "L1", "config": {"l1": null}})", 0.01, 0},
                         {R"({"class_name": "L2", "config": {"l": 2}})", 0, 2},
                         {R"({"class_name": "l2", "config": {"l2": 1, "l": 3}})", 0, 3},
                         {R"({"module": "keras.regularizers", "class_name": "L2",
                "config": {"l2": 0.25}, "registered_name": null})",
                          0, 0.25}}) {
    absl::StatusOr<Regularizer> reg = RegularizerFromConfig(json::parse(c.config));
    ASSERT_TRUE(reg.ok()) << c.config << ": " << reg.status();
    SCOPED_TRACE(c.config);
    ExpectPenalty(*reg, c.l1 * SumAbs() + c.l2 * SumSquares());
  }
  absl::StatusOr<Regularizer> none = RegularizerFromConfig(json());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(static_cast<bool>(*none));
}

// Independent formula: factor/2 * sum_{i != j} |<u_i, u_j>| / (k (k-1) / 2)
// over the l2-normalized rows (or columns) u of the 3 x 4 matrix kW.
double OrthogonalReference(double factor, bool rows) {
  const int k = rows ? 3 : 4, len = rows ? 4 : 3;
  auto at = [&](int vec, int i) { return double(rows ? kW[vec * 4 + i] : kW[i * 4 + vec]); };
  std::vector<double> norms(k, 0.0);
  for (int v = 0; v < k; ++v) {
    for (int i = 0; i < len; ++i) norms[v] += at(v, i) * at(v, i);
  }
  double sum = 0;
  for (int a = 0; a < k; ++a) {
    for (int b = 0; b < k; ++b) {
      if (a == b) continue;
      double dot = 0;
      for (int i = 0; i < len; ++i) dot += at(a, i) * at(b, i);
      sum += std::abs(dot / std::sqrt(norms[a] * norms[b]));
    }
  }
  return factor * 0.5 * sum / (k * (k - 1) / 2.0);
}

TEST(RegularizersTest, OrthogonalRegularizerRowsAndColumns) {
  ExpectPenalty(OrthogonalRegularizer(0.2, OrthogonalMode::kRows), OrthogonalReference(0.2, true));
  ExpectPenalty(OrthogonalRegularizer(0.2, OrthogonalMode::kColumns),
                OrthogonalReference(0.2, false));
  absl::StatusOr<Regularizer> reg = RegularizerFromConfig(json::parse(
      R"({"class_name": "OrthogonalRegularizer", "config": {"factor": 0.1, "mode": "columns"}})"));
  ASSERT_TRUE(reg.ok()) << reg.status();
  ExpectPenalty(*reg, OrthogonalReference(0.1, false));
  absl::StatusOr<Regularizer> named = RegularizerByName("orthogonal_regularizer");
  ASSERT_TRUE(named.ok()) << named.status();
  ExpectPenalty(*named, OrthogonalReference(0.01, true));
}

void ExpectGraphError(const Regularizer& reg, const Shape& shape, const std::string& prefix,
                      const std::string& substring) {
  auto g = Graph::Create();
  Tensor p = reg(Input(g, "w", DType::kF32, shape));
  EXPECT_TRUE(p.poisoned());
  const std::string message(g->status().message());
  EXPECT_EQ(message.rfind(prefix, 0), 0u) << message;
  EXPECT_NE(message.find(substring), std::string::npos) << message;
}

TEST(RegularizersTest, NonFinitePenaltiesAndBadRanksPoisonTheGraph) {
  ExpectGraphError(L1(NAN), kShape, "[l1]", "not a valid regularization penalty");
  ExpectGraphError(L2(INFINITY), kShape, "[l2]", "'l2'");
  ExpectGraphError(L1L2(0.1, NAN), kShape, "[l1_l2]", "'l2'");
  ExpectGraphError(OrthogonalRegularizer(), Shape{2, 3, 4}, "[orthogonal_regularizer]", "rank 2");
  ExpectGraphError(OrthogonalRegularizer(), Shape{Shape::kBatch, 4}, "[orthogonal_regularizer]",
                   "known number of rows");
}

TEST(RegularizersTest, BadConfigsNameTheProblem) {
  struct Case {
    std::string config;
    std::string substring;
  };
  for (const Case& c : std::vector<Case>{
           {R"("l3")", "unknown regularizer: 'l3'"},
           {R"("L1l2")", "unknown regularizer: 'L1l2'"},
           {R"({"class_name": "Foo", "config": {}})", "unknown regularizer: 'Foo'"},
           {R"(1.5)", "could not interpret regularizer identifier"},
           {R"({"class_name": "L1", "config": {"l2": 0.1}})",
            "regularizer 'L1': unexpected argument 'l2'"},
           {R"({"class_name": "L1L2", "config": {"l": 0.1}})",
            "regularizer 'L1L2': unexpected argument 'l'"},
           {R"({"class_name": "L2", "config": {"l2": "0.1"}})",
            "regularizer 'L2': argument 'l2' must be a number"},
           {R"({"class_name": "L1L2", "config": {"l1": [1]}})", "argument 'l1' must be a number"},
           {R"({"class_name": "OrthogonalRegularizer", "config": {"mode": "diag"}})",
            "argument 'mode' must be one of rows, columns"},
           {R"({"class_name": "OrthogonalRegularizer", "config": {"factor": null}})",
            "argument 'factor' must be a number"}}) {
    absl::StatusOr<Regularizer> reg = RegularizerFromConfig(json::parse(c.config));
    ASSERT_FALSE(reg.ok()) << c.config;
    EXPECT_EQ(reg.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(reg.status().message()).find(c.substring), std::string::npos)
        << c.config << " -> " << reg.status();
  }
}

}  // namespace
}  // namespace kiln
