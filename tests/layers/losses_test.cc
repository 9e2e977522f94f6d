// Losses against scalar formulas written out here in double (tf.keras 2.x
// definitions), reductions, names, label checks, stability on large logits
// and gradients against finite differences.
#include "layers/losses.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "autodiff/gradient_check.h"
#include "graph/evaluate.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr double kEps = 1e-7;
constexpr int kRows = 3;
constexpr int kCols = 4;

using Row = std::vector<double>;

// Evaluates loss(y_true, y_pred) on [3,4] f32 data; returns its elements.
std::vector<double> EvalLoss(const Loss& loss, const std::vector<float>& t, const std::vector<float>& p,
                        Shape true_shape = Shape{kRows, kCols}, DType true_dtype = DType::kF32) {
  auto g = Graph::Create();
  Tensor yt = Input(g, "t", true_dtype, Shape(std::vector<int64_t>(true_shape.dims())));
  Tensor yp = Input(g, "p", DType::kF32, Shape{kRows, kCols});
  Tensor out = loss(yt, yp);
  EXPECT_TRUE(out.ok()) << g->status();
  if (!out.ok()) return {};
  Buffer tb(true_dtype, true_shape);
  for (size_t i = 0; i < t.size(); ++i) tb.SetFromDouble(i, t[i]);
  Buffer pb = Buffer::FromVector<float>(Shape{kRows, kCols}, p);
  auto r = EvaluateTensors({out}, {{"t", &tb}, {"p", &pb}});
  EXPECT_TRUE(r.ok()) << r.status();
  std::vector<double> v;
  for (int64_t i = 0; i < (*r)[0].num_elements(); ++i) v.push_back((*r)[0].GetAsDouble(i));
  return v;
}

// The per-row values of `per_row` on the same data.
std::vector<double> Expected(const std::vector<float>& t, const std::vector<float>& p,
                             const std::function<double(const Row&, const Row&)>& per_row) {
  std::vector<double> out;
  for (int r = 0; r < kRows; ++r) {
    Row tr(t.begin() + r * kCols, t.begin() + (r + 1) * kCols);
    Row pr(p.begin() + r * kCols, p.begin() + (r + 1) * kCols);
    out.push_back(per_row(tr, pr));
  }
  return out;
}

double MeanOf(const Row& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / v.size();
}

Row Map2(const Row& a, const Row& b, const std::function<double(double, double)>& f) {
  Row out;
  for (size_t i = 0; i < a.size(); ++i) out.push_back(f(a[i], b[i]));
  return out;
}

void ExpectNear(const std::vector<double>& got, const std::vector<double>& want, double tol = 2e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::abs(want[i]))) << "element " << i;
  }
}

const std::vector<float> kTrue = {0.1f, 0.6f, 0.3f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.25f, 0.25f, 0.25f, 0.25f};
const std::vector<float> kPred = {0.2f, 0.5f, 0.2f, 0.1f, 0.7f, 0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.8f, 0.1f};
const std::vector<float> kRegTrue = {1.5f, -2.0f, 0.0f, 3.0f, 0.5f, 0.25f, -1.0f, 2.0f, 4.0f, 0.0f, 1.0f, -3.0f};
const std::vector<float> kRegPred = {1.0f, -1.0f, 0.5f, 3.5f, 2.5f, 0.0f, -1.25f, 0.0f, 4.5f, 0.1f, 1.0f, -1.0f};
const std::vector<float> kLogits = {2.0f, -1.0f, 0.5f, 3.0f, -4.0f, 1.0f, 0.0f, 0.25f, 1.5f, -0.5f, 2.5f, -2.0f};

TEST(LossesTest, RegressionLossesMatchTheirFormulas) {
  const auto none = Reduction::kNone;
  ExpectNear(EvalLoss(MeanSquaredError(none), kRegTrue, kRegPred),
             Expected(kRegTrue, kRegPred, [](const Row& t, const Row& p) {
               return MeanOf(Map2(t, p, [](double a, double b) { return (a - b) * (a - b); }));
             }));
  ExpectNear(EvalLoss(MeanAbsoluteError(none), kRegTrue, kRegPred),
             Expected(kRegTrue, kRegPred, [](const Row& t, const Row& p) {
               return MeanOf(Map2(t, p, [](double a, double b) { return std::abs(a - b); }));
             }));
  ExpectNear(EvalLoss(MeanAbsolutePercentageError(none), kRegTrue, kRegPred),
             Expected(kRegTrue, kRegPred, [](const Row& t, const Row& p) {
               return 100 * MeanOf(Map2(t, p, [](double a, double b) {
                        return std::abs((a - b) / std::max(std::abs(a), kEps));
                      }));
             }), 1e-4);
  ExpectNear(EvalLoss(MeanSquaredLogarithmicError(none), kTrue, kPred),
             Expected(kTrue, kPred, [](const Row& t, const Row& p) {
               return MeanOf(Map2(t, p, [](double a, double b) {
                 const double d = std::log(std::max(b, kEps) + 1) - std::log(std::max(a, kEps) + 1);
                 return d * d;
               }));
             }));
  ExpectNear(EvalLoss(Huber(1.5, none), kRegTrue, kRegPred),
             Expected(kRegTrue, kRegPred, [](const Row& t, const Row& p) {
               return MeanOf(Map2(t, p, [](double a, double b) {
                 const double e = std::abs(b - a);
                 return e <= 1.5 ? 0.5 * e * e : 1.5 * e - 0.5 * 1.5 * 1.5;
               }));
             }));
  ExpectNear(EvalLoss(LogCosh(none), kRegTrue, kRegPred),
             Expected(kRegTrue, kRegPred, [](const Row& t, const Row& p) {
               return MeanOf(Map2(t, p, [](double a, double b) { return std::log(std::cosh(b - a)); }));
             }));
  ExpectNear(EvalLoss(CosineSimilarity(none), kRegTrue, kRegPred),
             Expected(kRegTrue, kRegPred, [](const Row& t, const Row& p) {
               double dot = 0, tt = 0, pp = 0;
               for (int i = 0; i < kCols; ++i) {
                 dot += t[i] * p[i];
                 tt += t[i] * t[i];
                 pp += p[i] * p[i];
               }
               return -dot / std::sqrt(tt) / std::sqrt(pp);
             }));
}

TEST(LossesTest, ProbabilisticLossesMatchTheirFormulas) {
  const auto none = Reduction::kNone;
  auto clip = [](double p) { return std::clamp(p, kEps, 1 - kEps); };
  ExpectNear(EvalLoss(BinaryCrossentropy({.label_smoothing = 0.2, .reduction = none}), kTrue, kPred),
             Expected(kTrue, kPred, [&](const Row& t, const Row& p) {
               return MeanOf(Map2(t, p, [&](double a, double b) {
                 const double s = a * 0.8 + 0.1;
                 const double q = clip(b);
                 return -(s * std::log(q + kEps) + (1 - s) * std::log(1 - q + kEps));
               }));
             }));
  ExpectNear(EvalLoss(BinaryCrossentropy({.from_logits = true, .reduction = none}), kTrue, kLogits),
             Expected(kTrue, kLogits, [](const Row& t, const Row& x) {
               return MeanOf(Map2(t, x, [](double a, double z) {
                 const double q = 1 / (1 + std::exp(-z));
                 return -(a * std::log(q) + (1 - a) * std::log(1 - q));
               }));
             }));
  ExpectNear(EvalLoss(CategoricalCrossentropy({.label_smoothing = 0.1, .reduction = none}), kTrue, kPred),
             Expected(kTrue, kPred, [&](const Row& t, const Row& p) {
               double sum = 0, loss = 0;
               for (double v : p) sum += v;
               for (int i = 0; i < kCols; ++i) {
                 loss -= (t[i] * 0.9 + 0.1 / kCols) * std::log(clip(p[i] / sum));
               }
               return loss;
             }));
  ExpectNear(EvalLoss(CategoricalCrossentropy({.from_logits = true, .reduction = none}), kTrue, kLogits),
             Expected(kTrue, kLogits, [](const Row& t, const Row& x) {
               double z = 0, loss = 0;
               for (double v : x) z += std::exp(v);
               for (int i = 0; i < kCols; ++i) loss -= t[i] * (x[i] - std::log(z));
               return loss;
             }));
  ExpectNear(EvalLoss(KLDivergence(none), kTrue, kPred),
             Expected(kTrue, kPred, [](const Row& t, const Row& p) {
               double s = 0;
               for (int i = 0; i < kCols; ++i) {
                 const double a = std::clamp(t[i], kEps, 1.0), b = std::clamp(p[i], kEps, 1.0);
                 s += a * std::log(a / b);
               }
               return s;
             }));
  ExpectNear(EvalLoss(Poisson(none), kTrue, kPred),
             Expected(kTrue, kPred, [](const Row& t, const Row& p) {
               return MeanOf(Map2(t, p, [](double a, double b) { return b - a * std::log(b + kEps); }));
             }));
}

TEST(LossesTest, SparseCategoricalCrossentropyTakesClassIndices) {
  const std::vector<float> labels = {1, 0, 2};
  const int classes[] = {1, 0, 2};
  std::vector<double> want_probs, want_logits;
  for (int r = 0; r < kRows; ++r) {
    double clipped_sum = 0, z = 0;
    for (int i = 0; i < kCols; ++i) {
      clipped_sum += std::clamp<double>(kPred[r * kCols + i], kEps, 1 - kEps);
      z += std::exp(kLogits[r * kCols + i]);
    }
    const double pc = std::clamp<double>(kPred[r * kCols + classes[r]], kEps, 1 - kEps);
    want_probs.push_back(-std::log(pc / clipped_sum));
    want_logits.push_back(std::log(z) - kLogits[r * kCols + classes[r]]);
  }
  const auto none = Reduction::kNone;
  ExpectNear(EvalLoss(SparseCategoricalCrossentropy(false, none), labels, kPred, Shape{kRows}, DType::kI32),
             want_probs);
  ExpectNear(EvalLoss(SparseCategoricalCrossentropy(true, none), labels, kLogits, Shape{kRows, 1}),
             want_logits);
  ExpectNear(EvalLoss(SparseCategoricalCrossentropy(true), labels, kLogits, Shape{kRows}, DType::kI64),
             {(want_logits[0] + want_logits[1] + want_logits[2]) / 3});
}

TEST(LossesTest, HingeLossesConvertZeroOneLabels) {
  const std::vector<float> zero_one = {0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1};
  const std::vector<float> mixed = {-1, 1, 0.5f, 0, 1, 1, 0, 0, 0, 0, 0, 1};
  const auto none = Reduction::kNone;
  for (const auto* labels : {&zero_one, &mixed}) {
    const bool convert = labels == &zero_one;
    auto hinge_terms = [&](const Row& t, const Row& p) {
      return Map2(t, p, [&](double a, double b) {
        return std::max(0.0, 1 - (convert ? 2 * a - 1 : a) * b);
      });
    };
    ExpectNear(EvalLoss(Hinge(none), *labels, kRegPred),
               Expected(*labels, kRegPred, [&](const Row& t, const Row& p) { return MeanOf(hinge_terms(t, p)); }));
    ExpectNear(EvalLoss(SquaredHinge(none), *labels, kRegPred),
               Expected(*labels, kRegPred, [&](const Row& t, const Row& p) {
                 Row h = hinge_terms(t, p);
                 for (double& v : h) v *= v;
                 return MeanOf(h);
               }));
  }
  ExpectNear(EvalLoss(CategoricalHinge(none), kTrue, kRegPred),
             Expected(kTrue, kRegPred, [](const Row& t, const Row& p) {
               double pos = 0, neg = -1e30;
               for (int i = 0; i < kCols; ++i) {
                 pos += t[i] * p[i];
                 neg = std::max(neg, (1 - t[i]) * p[i]);
               }
               return std::max(0.0, neg - pos + 1);
             }));
}

TEST(LossesTest, ReductionsDivideByTheNumberOfPerSampleValues) {
  std::vector<double> per_row = EvalLoss(MeanSquaredError(Reduction::kNone), kRegTrue, kRegPred);
  const double sum = per_row[0] + per_row[1] + per_row[2];
  ExpectNear(EvalLoss(MeanSquaredError(Reduction::kSum), kRegTrue, kRegPred), {sum});
  ExpectNear(EvalLoss(MeanSquaredError(), kRegTrue, kRegPred), {sum / 3});

  // [2,3,2] predictions: 6 per-sample values, sum_over_batch_size divides by 6.
  auto g = Graph::Create();
  Tensor t = Input(g, "t", DType::kF32, Shape{Shape::kBatch, 3, 2});
  Tensor p = Input(g, "p", DType::kF32, Shape{Shape::kBatch, 3, 2});
  Tensor loss = MeanAbsoluteError()(t, p);
  ASSERT_TRUE(loss.ok()) << g->status();
  Buffer tb = Buffer::Zeros(DType::kF32, Shape{2, 3, 2});
  Buffer pb(DType::kF32, Shape{2, 3, 2});
  double total = 0;
  for (int i = 0; i < 12; ++i) {
    pb.SetFromDouble(i, 0.5 * i - 2);
    total += std::abs(0.5 * i - 2) / 2;  // each per-sample value is a mean of 2
  }
  auto r = EvaluateTensors({loss}, {{"t", &tb}, {"p", &pb}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR((*r)[0].GetAsDouble(0), total / 6, 1e-6);
}

TEST(LossesTest, NamesAndAliases) {
  for (const char* name : {"mse", "MeanSquaredError", "mean_squared_error"}) {
    absl::StatusOr<Loss> loss = LossFromName(name);
    ASSERT_TRUE(loss.ok()) << name;
    EXPECT_EQ(loss->name(), "mean_squared_error");
  }
  EXPECT_EQ(LossFromName("kld")->name(), "kl_divergence");
  EXPECT_EQ(LossFromName("huber")->name(), "huber_loss");
  EXPECT_TRUE(LossFromName("sparse_categorical_crossentropy")->sparse_labels());
  Loss by_string = "categorical_crossentropy";
  EXPECT_TRUE(by_string.status().ok());
  EXPECT_EQ(by_string.name(), "categorical_crossentropy");
  Loss unknown = "mean_cubed_error";
  EXPECT_EQ(unknown.status().message(), "unknown loss 'mean_cubed_error'");
  EXPECT_EQ(ReductionFromName("average").status().message(),
            "unknown loss reduction 'average' (expected sum_over_batch_size, sum or none)");
}

TEST(LossesTest, LabelShapeErrorsNameTheLoss) {
  auto g = Graph::Create();
  Tensor p = Input(g, "p", DType::kF32, Shape{Shape::kBatch, 3});
  Tensor t = Input(g, "t", DType::kF32, Shape{Shape::kBatch, 4});
  EXPECT_FALSE(MeanSquaredError()(t, p).ok());
  EXPECT_NE(g->status().message().find(
                "[mean_squared_error] (losses_test.cc:"), std::string::npos) << g->status();
  EXPECT_NE(g->status().message().find("expected y_true like y_pred f32[N,3], got f32[N,4]"),
            std::string::npos) << g->status();

  auto g2 = Graph::Create();
  Tensor p2 = Input(g2, "p", DType::kF32, Shape{Shape::kBatch, 3});
  Tensor t2 = Input(g2, "t", DType::kI32, Shape{Shape::kBatch, 2});
  EXPECT_FALSE(SparseCategoricalCrossentropy()(t2, p2).ok());
  EXPECT_NE(g2->status().message().find(
                "expected class indices of shape [N] for y_pred f32[N,3], got i32[N,2]"),
            std::string::npos) << g2->status();
}

TEST(LossesTest, LogitLossesStayFiniteOnLargeLogits) {
  const std::vector<float> huge = {90, -90, 80, -80, 100, -100, 0, 50, -60, 70, 95, -95};
  for (double v : EvalLoss(BinaryCrossentropy({.from_logits = true}), kTrue, huge)) EXPECT_TRUE(std::isfinite(v));
  for (double v : EvalLoss(CategoricalCrossentropy({.from_logits = true}), kTrue, huge)) {
    EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(LossesTest, GradientsMatchFiniteDifferences) {
  for (const Loss& loss : {CategoricalCrossentropy({.from_logits = true, .label_smoothing = 0.1}),
                           Huber(0.7), BinaryCrossentropy({.from_logits = true}), LogCosh()}) {
    auto g = Graph::Create();
    Tensor t = Input(g, "t", DType::kF32, Shape{kRows, kCols});
    Tensor p = Input(g, "p", DType::kF32, Shape{kRows, kCols});
    Tensor out = loss(t, p);
    ASSERT_TRUE(out.ok()) << g->status();
    Buffer tb = Buffer::FromVector<float>(Shape{kRows, kCols}, kTrue);
    Buffer pb = Buffer::FromVector<float>(Shape{kRows, kCols}, kLogits);
    auto r = CheckGradients(out, {p}, {{"t", &tb}, {"p", &pb}});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->ok) << loss.name() << ": " << r->worst;
  }
}

}  // namespace
}  // namespace kiln
