// Fit and Evaluate with one sample weight array per output (Keras'
// sample_weight=[w_a, w_b] for a two-output model; null for an output
// without weights): the steps against a twin stepped by hand with
// TrainOnBatch on the same shuffled rows, gathered here, and the epoch
// logs as the means those steps give (a weighted metric's batches counting
// for their own output's sums of weights); Evaluate and validation logs
// against the per-output formulas written out here on Predict's outputs;
// a single-output model taking its one array as sample_weight (class
// weights included); clear
// errors for the wrong number or rows of arrays and for both forms given.
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/fit_data.h"
#include "layers/model.h"
#include "tests/layers/fit_test_util.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// [n] weights f(0), ..., f(n-1).
template <typename F>
Buffer Weights(int n, F f) {
  std::vector<float> w;
  for (int i = 0; i < n; ++i) w.push_back(static_cast<float>(f(i)));
  return Buffer::FromVector<float>(Shape{n}, w);
}

// The rows `ids` of `b`, copied one number at a time.
Buffer TakeRows(const Buffer& b, const std::vector<int64_t>& ids) {
  const int64_t per_row = b.num_elements() / b.shape().dim(0);
  std::vector<int64_t> dims = b.shape().dims();
  dims[0] = static_cast<int64_t>(ids.size());
  Buffer out(b.dtype(), Shape(dims));
  for (size_t r = 0; r < ids.size(); ++r) {
    for (int64_t k = 0; k < per_row; ++k) {
      out.SetFromDouble(static_cast<int64_t>(r) * per_row + k, b.GetAsDouble(ids[r] * per_row + k));
    }
  }
  return out;
}

double Sum(const Buffer& b) {
  double s = 0;
  for (int64_t i = 0; i < b.num_elements(); ++i) s += b.GetAsDouble(i);
  return s;
}

// The logs of TwoHeads with weighted metric "mae" on rows [begin, end) of
// `t`, weights `wa` and `wb` (null: 1), by the formulas: each loss
// sum(w e) / rows, "loss" 0.5 a_loss + 2 b_loss, a_mae unweighted, the
// weighted maes sum(w |e|) / sum(w).
std::map<std::string, double> ExpectedLogs(Model& model, const TwoTargets& t, const Buffer* wa,
                                           const Buffer* wb, int begin, int end) {
  const Buffer* inputs[] = {&t.data.x};
  auto predicted = model.Predict(inputs);
  KILN_CHECK_OK(predicted.status());
  double a_loss = 0, b_loss = 0, a_mae = 0, a_weighted = 0, a_weights = 0, b_weights = 0;
  for (int i = begin; i < end; ++i) {
    const double ea = (*predicted)[0].GetAsDouble(i) - t.data.y.GetAsDouble(i);
    const double eb = (*predicted)[1].GetAsDouble(i) - t.b.GetAsDouble(i);
    const double wai = wa ? wa->GetAsDouble(i) : 1, wbi = wb ? wb->GetAsDouble(i) : 1;
    a_loss += wai * ea * ea;
    b_loss += wbi * std::abs(eb);
    a_mae += std::abs(ea);
    a_weighted += wai * std::abs(ea);
    a_weights += wai;
    b_weights += wbi;
  }
  const int rows = end - begin;
  return {{"loss", 0.5 * a_loss / rows + 2 * b_loss / rows},
          {"a_loss", a_loss / rows},
          {"b_loss", b_loss / rows},
          {"a_mae", a_mae / rows},
          {"a_weighted_mae", a_weighted / a_weights},
          {"b_mae", b_loss / b_weights}};
}

const CompileOptions kWeightedMae{.weighted_metrics = {"mae"}};

TEST(FitOutputSampleWeightsTest, EachOutputsWeightsTravelWithItsShuffledRows) {
  TwoTargets t(20);
  Buffer wa = Weights(20, [](int i) { return 1 + i % 3; });
  Buffer wb = Weights(20, [](int i) { return i < 10 ? 0.5 : 2.0; });
  auto fitted = TwoHeads(true, kWeightedMae), by_hand = TwoHeads(true, kWeightedMae);
  const Buffer* inputs[] = {&t.data.x};
  const Buffer* targets[] = {&t.data.y, &t.b};
  auto history = fitted->Fit(
      inputs, targets,
      Quiet({.epochs = 2, .batch_size = 8, .output_sample_weights = {&wa, &wb}, .seed = 5}));
  ASSERT_TRUE(history.ok()) << history.status();
  const std::vector<std::string> names = {"loss",  "a_loss",         "b_loss",
                                          "a_mae", "a_weighted_mae", "b_mae"};
  EXPECT_EQ(history->Names(), names);

  // By hand: epoch e is shuffled pass e; batches of 8, 8 and 4 rows.
  for (int epoch = 0; epoch < 2; ++epoch) {
    const std::vector<int64_t> order = ShuffledOrder(20, /*seed=*/5, /*pass=*/epoch);
    std::vector<double> sums(6, 0), weights(6, 0);
    for (auto [begin, end] : {std::pair{0, 8}, {8, 16}, {16, 20}}) {
      const std::vector<int64_t> ids(order.begin() + begin, order.begin() + end);
      Buffer x = TakeRows(t.data.x, ids), ya = TakeRows(t.data.y, ids), yb = TakeRows(t.b, ids);
      Buffer batch_wa = TakeRows(wa, ids), batch_wb = TakeRows(wb, ids);
      const Buffer* batch_x[] = {&x};
      const Buffer* batch_y[] = {&ya, &yb};
      auto logs = by_hand->TrainOnBatch(batch_x, batch_y,
                                        {.output_sample_weights = {&batch_wa, &batch_wb}});
      ASSERT_TRUE(logs.ok()) << logs.status();
      ASSERT_EQ(logs->size(), 6u);
      // Losses and the plain metric count a batch's rows; each weighted
      // metric its own output's sum of weights.
      const double counts[] = {1.0 * (end - begin), 1.0 * (end - begin), 1.0 * (end - begin),
                               1.0 * (end - begin), Sum(batch_wa),       Sum(batch_wb)};
      for (int k = 0; k < 6; ++k) {
        EXPECT_EQ((*logs)[k].first, names[k]);
        sums[k] += (*logs)[k].second * counts[k];
        weights[k] += counts[k];
      }
    }
    for (int k = 0; k < 6; ++k) {
      EXPECT_NEAR(history->Values(names[k])[epoch], sums[k] / weights[k], 1e-6) << names[k];
    }
  }
  EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));

  // The per-output arrays are not one shared array: wa for both differs.
  auto shared = TwoHeads(true, kWeightedMae);
  ASSERT_TRUE(shared
                  ->Fit(inputs, targets,
                        Quiet({.epochs = 2, .batch_size = 8, .sample_weight = &wa, .seed = 5}))
                  .ok());
  EXPECT_NE(WeightValues(*fitted), WeightValues(*shared));
}

TEST(FitOutputSampleWeightsTest, EvaluateWeighsEachOutputByItsOwnArray) {
  TwoTargets t(23);
  // Output a's second batch of 7 weighs nothing; b's weights grow.
  Buffer wa = Weights(23, [](int i) { return i >= 7 && i < 14 ? 0.0 : 1.0 + i % 3; });
  Buffer wb = Weights(23, [](int i) { return 0.25 * (i + 1); });
  auto model = TwoHeads(true, kWeightedMae);
  const Buffer* inputs[] = {&t.data.x};
  const Buffer* targets[] = {&t.data.y, &t.b};
  for (auto [a, b] : {std::pair<const Buffer*, const Buffer*>{&wa, nullptr}, {nullptr, &wb}}) {
    auto logs = model->Evaluate(inputs, targets,
                                {.batch_size = 7, .output_sample_weights = {a, b}, .verbose = 0});
    ASSERT_TRUE(logs.ok()) << logs.status();
    const std::map<std::string, double> expected = ExpectedLogs(*model, t, a, b, 0, 23);
    ASSERT_EQ(logs->size(), expected.size());
    for (const auto& [name, value] : *logs) {
      ASSERT_TRUE(expected.contains(name)) << name;
      EXPECT_NEAR(value, expected.at(name), 1e-5) << name << (a ? " (weights for a)" : " (for b)");
    }
  }
}

TEST(FitOutputSampleWeightsTest, ValidationKeepsEachOutputsWeights) {
  TwoTargets t(20);
  Buffer wa = Weights(20, [](int i) { return 1 + i % 3; });
  Buffer wb = Weights(20, [](int i) { return i % 2 == 0 ? 3.0 : 0.5; });
  auto model = TwoHeads(true, kWeightedMae);
  const Buffer* inputs[] = {&t.data.x};
  const Buffer* targets[] = {&t.data.y, &t.b};
  // validation_split: rows 15..19 with their weights of each output.
  auto split = model->Fit(inputs, targets,
                          Quiet({.batch_size = 8,
                                 .validation_split = 0.25,
                                 .output_sample_weights = {&wa, &wb}}));
  ASSERT_TRUE(split.ok()) << split.status();
  for (const auto& [name, value] : ExpectedLogs(*model, t, &wa, &wb, 15, 20)) {
    EXPECT_NEAR(split->Values("val_" + name)[0], value, 1e-5) << name;
  }

  // Explicit validation data takes its own per-output weights.
  auto given = model->Fit(inputs, targets,
                          Quiet({.validation_x = {&t.data.x},
                                 .validation_ys = {&t.data.y, &t.b},
                                 .validation_output_sample_weights = {nullptr, &wb},
                                 .output_sample_weights = {&wa, &wb}}));
  ASSERT_TRUE(given.ok()) << given.status();
  for (const auto& [name, value] : ExpectedLogs(*model, t, nullptr, &wb, 0, 20)) {
    EXPECT_NEAR(given->Values("val_" + name)[0], value, 1e-5) << name;
  }
}

TEST(FitOutputSampleWeightsTest, OneOutputsArrayIsItsSampleWeight) {
  LinearData data(20);
  Buffer w = Weights(20, [](int i) { return 1 + i % 4; });
  auto per_output = LinearModel(), shared = LinearModel(), unweighted = LinearModel();
  ASSERT_TRUE(
      per_output->Fit(data.x, data.y, Quiet({.batch_size = 8, .output_sample_weights = {&w}}))
          .ok());
  ASSERT_TRUE(shared->Fit(data.x, data.y, Quiet({.batch_size = 8, .sample_weight = &w})).ok());
  ASSERT_TRUE(unweighted->Fit(data.x, data.y, Quiet({.batch_size = 8})).ok());
  EXPECT_EQ(WeightValues(*per_output), WeightValues(*shared));
  EXPECT_NE(WeightValues(*per_output), WeightValues(*unweighted));

  // class_weight multiplies it, as it does sample_weight.
  Buffer labels = SignLabels(data);
  const std::map<int64_t, double> class_weight = {{0, 1.0}, {1, 3.0}};
  auto classes_per_output = SoftmaxModel(), classes_shared = SoftmaxModel();
  auto classes_unweighted = SoftmaxModel();
  auto run = [&](Model& model, FitOptions options) {
    options.batch_size = 8;
    options.class_weight = class_weight;
    ASSERT_TRUE(model.Fit(data.x, labels, Quiet(std::move(options))).ok());
  };
  run(*classes_per_output, {.output_sample_weights = {&w}});
  run(*classes_shared, {.sample_weight = &w});
  run(*classes_unweighted, {});
  EXPECT_EQ(WeightValues(*classes_per_output), WeightValues(*classes_shared));
  EXPECT_NE(WeightValues(*classes_per_output), WeightValues(*classes_unweighted));
}

TEST(FitOutputSampleWeightsTest, WrongArraysAreClearErrors) {
  TwoTargets t(20);
  auto model = TwoHeads();
  const std::string name = model->name();
  const Buffer* inputs[] = {&t.data.x};
  const Buffer* targets[] = {&t.data.y, &t.b};
  Buffer w = Weights(20, [](int) { return 1; });
  Buffer short_w = Weights(19, [](int) { return 1; });
  auto fit_error = [&](FitOptions o) {
    return std::string(model->Fit(inputs, targets, Quiet(std::move(o))).status().message());
  };
  auto evaluate_error = [&](EvaluateOptions o) {
    o.verbose = 0;
    return std::string(model->Evaluate(inputs, targets, o).status().message());
  };
  const std::string count = "model '" + name +
                            "' has 2 outputs ('a', 'b'), got 1 output_sample_weights arrays; "
                            "give one per output (null for weights of 1)";
  EXPECT_EQ(fit_error({.output_sample_weights = {&w}}), "Fit: " + count);
  EXPECT_EQ(evaluate_error({.output_sample_weights = {&w}}), "Evaluate: " + count);
  EXPECT_EQ(fit_error({.validation_x = {&t.data.x},
                       .validation_ys = {&t.data.y, &t.b},
                       .validation_output_sample_weights = {&w}}),
            "Fit: validation: " + count);

  const std::string both =
      "give sample_weight (one array for every output) or output_sample_weights (one array per "
      "output), not both";
  EXPECT_EQ(fit_error({.sample_weight = &w, .output_sample_weights = {&w, &w}}), "Fit: " + both);
  EXPECT_EQ(evaluate_error({.sample_weight = &w, .output_sample_weights = {&w, &w}}),
            "Evaluate: " + both);
  EXPECT_EQ(fit_error({.validation_x = {&t.data.x},
                       .validation_ys = {&t.data.y, &t.b},
                       .validation_sample_weight = &w,
                       .validation_output_sample_weights = {&w, nullptr}}),
            "Fit: validation: " + both);

  const std::string rows =
      "Data cardinality is ambiguous: output_sample_weights[1] (output 'b') has 19 rows [19] but "
      "y[0] (output 'a') has 20 rows; every array needs the same number of rows";
  EXPECT_EQ(fit_error({.output_sample_weights = {&w, &short_w}}), "Fit: " + rows);
  EXPECT_EQ(evaluate_error({.output_sample_weights = {&w, &short_w}}), "Evaluate: " + rows);
  EXPECT_EQ(fit_error({.validation_x = {&t.data.x},
                       .validation_ys = {&t.data.y, &t.b},
                       .validation_output_sample_weights = {&w, &short_w}}),
            "Fit: validation: " + rows);

  EXPECT_EQ(fit_error({.validation_output_sample_weights = {&w, &w}}),
            "Fit: validation_output_sample_weights is set but validation_ys is not");
  Buffer wide = Buffer::Zeros(DType::kF32, Shape{20, 3});
  EXPECT_THAT(fit_error({.output_sample_weights = {nullptr, &wide}}),
              HasSubstr("Fit: sample weights of output 'b': [mean_absolute_error] expected float "
                        "sample weights of shape [N], [N,1]"));
}

}  // namespace
}  // namespace kiln
