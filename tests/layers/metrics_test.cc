// Metrics against counts done by hand here: accuracies (with ties), top-k,
// threshold, Keras' resolution of "accuracy", losses as metrics, names.
#include "layers/metrics.h"

#include <cmath>
#include <vector>

#include "graph/evaluate.h"

#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

double EvalMetric(const Metric& metric, const Buffer& t, const Buffer& p) {
  auto g = Graph::Create();
  Tensor yt = Input(g, "t", t.dtype(), t.shape());
  Tensor yp = Input(g, "p", p.dtype(), p.shape());
  Tensor value = metric(yt, yp);
  EXPECT_TRUE(value.ok()) << g->status();
  if (!value.ok()) return -1;
  EXPECT_EQ(value.rank(), 0);
  auto r = EvaluateTensors({value}, {{"t", &t}, {"p", &p}});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? (*r)[0].GetAsDouble(0) : -1;
}

// Four samples, three classes. Row 3 ties classes 0 and 2 (argmax: 0).
const Buffer& Probabilities() {
  static const Buffer* b = new Buffer(Buffer::FromVector<float>(
      Shape{4, 3}, {0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f, 0.2f, 0.2f, 0.6f, 0.4f, 0.2f, 0.4f}));
  return *b;
}

TEST(MetricsTest, SparseAndCategoricalAccuracy) {
  // argmax per row: 1, 0, 2, 0 (tie). Labels 1, 2, 2, 2: rows 0 and 2 right.
  Buffer labels = Buffer::FromVector<int32_t>(Shape{4}, {1, 2, 2, 2});
  EXPECT_DOUBLE_EQ(EvalMetric(SparseCategoricalAccuracy(), labels, Probabilities()), 0.5);
  Buffer float_labels = Buffer::FromVector<float>(Shape{4, 1}, {1, 0, 2, 0});
  EXPECT_DOUBLE_EQ(EvalMetric(SparseCategoricalAccuracy(), float_labels, Probabilities()), 1.0);
  Buffer one_hot = Buffer::FromVector<float>(Shape{4, 3}, {0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0});
  EXPECT_DOUBLE_EQ(EvalMetric(CategoricalAccuracy(), one_hot, Probabilities()), 0.75);
}

TEST(MetricsTest, TopKCountsTiesAsInside) {
  // k = 2. Row 0: class 0 (0.1) has 2 higher -> out. Row 1: class 2 (0.2)
  // has 2 higher -> out. Row 2: class 0 (0.2): only 0.6 is higher -> in.
  // Row 3: class 1 (0.2): 2 higher -> out.
  Buffer labels = Buffer::FromVector<int32_t>(Shape{4}, {0, 2, 0, 1});
  EXPECT_DOUBLE_EQ(EvalMetric(SparseTopKCategoricalAccuracy(2), labels, Probabilities()), 0.25);
  Buffer one_hot = Buffer::FromVector<float>(Shape{4, 3}, {1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0});
  EXPECT_DOUBLE_EQ(EvalMetric(TopKCategoricalAccuracy(2), one_hot, Probabilities()), 0.25);
  EXPECT_DOUBLE_EQ(EvalMetric(SparseTopKCategoricalAccuracy(), labels, Probabilities()), 1.0);
}

TEST(MetricsTest, BinaryAccuracyUsesTheThreshold) {
  Buffer t = Buffer::FromVector<float>(Shape{4, 1}, {1, 0, 1, 0});
  Buffer p = Buffer::FromVector<float>(Shape{4, 1}, {0.6f, 0.4f, 0.55f, 0.9f});
  EXPECT_DOUBLE_EQ(EvalMetric(BinaryAccuracy(), t, p), 0.75);
  EXPECT_DOUBLE_EQ(EvalMetric(BinaryAccuracy(0.58), t, p), 0.5);
}

TEST(MetricsTest, AccuracyPicksItsVariantFromTheShapesLikeKeras) {
  Buffer binary_t = Buffer::FromVector<float>(Shape{4, 1}, {1, 0, 1, 0});
  Buffer binary_p = Buffer::FromVector<float>(Shape{4, 1}, {0.6f, 0.4f, 0.55f, 0.9f});
  EXPECT_DOUBLE_EQ(EvalMetric("accuracy", binary_t, binary_p), 0.75);
  Buffer labels = Buffer::FromVector<int32_t>(Shape{4}, {1, 2, 2, 2});
  EXPECT_DOUBLE_EQ(EvalMetric("acc", labels, Probabilities()), 0.5);
  Buffer one_hot = Buffer::FromVector<float>(Shape{4, 3}, {0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0});
  EXPECT_DOUBLE_EQ(EvalMetric("accuracy", one_hot, Probabilities()), 0.75);
  EXPECT_EQ(Metric("acc").name(), "acc");
  EXPECT_EQ(Metric(SparseCategoricalAccuracy()).name(), "sparse_categorical_accuracy");
}

TEST(MetricsTest, LossesAsMetricsAreBatchMeans) {
  Buffer t = Buffer::FromVector<float>(Shape{2, 2}, {1, 2, 3, 4});
  Buffer p = Buffer::FromVector<float>(Shape{2, 2}, {1.5f, 2, 1, 4});
  // Squared errors 0.25, 0, 4, 0: row means 0.125 and 2; batch mean 1.0625.
  EXPECT_DOUBLE_EQ(EvalMetric("mse", t, p), 1.0625);
  EXPECT_EQ(Metric("mse").name(), "mse");
  EXPECT_EQ(Metric(MeanAbsoluteError()).name(), "mean_absolute_error");
  EXPECT_DOUBLE_EQ(EvalMetric(MeanAbsoluteError(), t, p), (0.5 + 2) / 4);
  Buffer labels = Buffer::FromVector<int32_t>(Shape{4}, {1, 2, 2, 2});
  const double ce = (-std::log(0.7) - std::log(0.2) - std::log(0.6) - std::log(0.4)) / 4;
  EXPECT_NEAR(EvalMetric("crossentropy", labels, Probabilities()), ce, 1e-6);
}

TEST(MetricsTest, UnknownNamesAndBadLabelsAreClear) {
  EXPECT_EQ(Metric("precision_at_1").status().message(), "unknown metric 'precision_at_1'");
  auto g = Graph::Create();
  Tensor t = Input(g, "t", DType::kI32, Shape{Shape::kBatch, 3});
  Tensor p = Input(g, "p", DType::kF32, Shape{Shape::kBatch, 5});
  EXPECT_FALSE(SparseCategoricalAccuracy()(t, p).ok());
  EXPECT_NE(g->status().message().find("[sparse_categorical_accuracy]"), std::string::npos)
      << g->status();
}

}  // namespace
}  // namespace kiln
