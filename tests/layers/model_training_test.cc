// Model::Compile / TrainOnBatch / TestOnBatch: the loss goes down, runs
// repeat with the same seeds (dropout included), the backends agree,
// constraints run after the update, activity regularization enters the
// gradients as spec 4.2 says (checked against a gradient written by hand),
// and misuse gives clear Statuses.
#include <cmath>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "layers/constraints.h"
#include "layers/conv.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/input_layer.h"
#include "layers/max_pooling.h"
#include "layers/model.h"
#include "layers/optimizers.h"
#include "layers/regularizers.h"
#include "layers/reshaping.h"
#include "ops/ops.h"

namespace kiln {
namespace {

// 16 rows of 4 features; targets y = x0 - 2 x1 + 0.5 x3 (one column).
struct Data {
  Buffer x = Buffer(DType::kF32, Shape{16, 4});
  Buffer y = Buffer(DType::kF32, Shape{16, 1});
  Buffer classes = Buffer(DType::kI32, Shape{16});
  Data() {
    for (int r = 0; r < 16; ++r) {
      double target = 0;
      for (int c = 0; c < 4; ++c) {
        const double v = std::sin(1.7 * r + 0.9 * c);
        x.SetFromDouble(r * 4 + c, v);
        target += (c == 0 ? 1 : c == 1 ? -2 : c == 3 ? 0.5 : 0) * v;
      }
      y.SetFromDouble(r, target);
      classes.SetFromDouble(r, target > 0 ? 1 : 0);
    }
  }
};

// Dense(8, relu) [-> Dropout(0.3)] -> Dense(units), seeded.
std::unique_ptr<Model> MakeMlp(int units, bool dropout, Constraint constraint = nullptr) {
  ClearSession();  // a fresh graph per model
  Tensor x = Input({4});
  Tensor h = MakeLayer<Dense>(8, DenseOptions{.activation = "relu",
                                              .kernel_initializer = std::make_shared<GlorotUniform>(3),
                                              .kernel_constraint = constraint})(x);
  if (dropout) h = MakeLayer<Dropout>(0.3, DropoutOptions{.seed = 11})(h);
  Tensor y = MakeLayer<Dense>(units, DenseOptions{.kernel_initializer =
                                                      std::make_shared<GlorotUniform>(5)})(h);
  return std::make_unique<Model>(x, y);
}

std::vector<Buffer> WeightValues(const Model& model) {
  std::vector<Buffer> out;
  for (const Weight* w : model.weights()) out.push_back(w->value.Clone());
  return out;
}

TEST(ModelTrainingTest, LossDecreasesAndLogsComeInKerasOrder) {
  Data data;
  auto model = MakeMlp(1, /*dropout=*/false);
  ASSERT_TRUE(model->Compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 0.03}), "mse",
                             {"mae"}).ok());
  auto first = model->TrainOnBatch(data.x, data.y);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].first, "loss");
  EXPECT_EQ((*first)[1].first, "mae");
  for (int step = 0; step < 60; ++step) ASSERT_TRUE(model->TrainOnBatch(data.x, data.y).ok());
  auto last = model->TestOnBatch(data.x, data.y);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_LT((*last)[0].second, 0.25 * (*first)[0].second);
  EXPECT_EQ(model->optimizer()->iterations(), 61);
}

TEST(ModelTrainingTest, TestOnBatchMatchesPredictAndChangesNothing) {
  Data data;
  auto model = MakeMlp(1, /*dropout=*/true);
  ASSERT_TRUE(model->Compile(std::make_shared<SGD>(), "mse", {"mean_absolute_error"}).ok());
  const std::vector<Buffer> before = WeightValues(*model);
  auto logs = model->TestOnBatch(data.x, data.y);
  ASSERT_TRUE(logs.ok()) << logs.status();
  auto predicted = model->Predict(data.x, {.batch_size = 16});
  ASSERT_TRUE(predicted.ok());
  double mse = 0, mae = 0;
  for (int r = 0; r < 16; ++r) {
    const double e = predicted->GetAsDouble(r) - data.y.GetAsDouble(r);
    mse += e * e / 16;
    mae += std::abs(e) / 16;
  }
  EXPECT_NEAR((*logs)[0].second, mse, 1e-5);
  EXPECT_NEAR((*logs)[1].second, mae, 1e-5);
  const std::vector<Buffer> after = WeightValues(*model);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(before[i].BitwiseEquals(after[i]));
  EXPECT_EQ(model->optimizer()->iterations(), 0);
}

TEST(ModelTrainingTest, SameSeedsGiveTheSameWeightsWithDropout) {
  Data data;
  std::vector<Buffer> runs[2];
  for (int run = 0; run < 2; ++run) {
    auto model = MakeMlp(2, /*dropout=*/true);
    ASSERT_TRUE(model->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}),
                               SparseCategoricalCrossentropy(/*from_logits=*/true),
                               {"accuracy"}).ok());
    for (int step = 0; step < 5; ++step) {
      auto logs = model->TrainOnBatch(data.x, data.classes);
      ASSERT_TRUE(logs.ok()) << logs.status();
      EXPECT_EQ((*logs)[1].first, "accuracy");
    }
    runs[run] = WeightValues(*model);
  }
  for (size_t i = 0; i < runs[0].size(); ++i) EXPECT_TRUE(runs[0][i].BitwiseEquals(runs[1][i]));
  // Dropout is on while training: without it the weights differ.
  auto plain = MakeMlp(2, /*dropout=*/false);
  ASSERT_TRUE(plain->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}),
                             SparseCategoricalCrossentropy(true)).ok());
  for (int step = 0; step < 5; ++step) ASSERT_TRUE(plain->TrainOnBatch(data.x, data.classes).ok());
  EXPECT_FALSE(WeightValues(*plain)[0].BitwiseEquals(runs[0][0]));
}

TEST(ModelTrainingTest, BackendsAgreeAfterSeveralSteps) {
  Data data;
  std::vector<Buffer> weights[2];
  double losses[2];
  for (int b = 0; b < 2; ++b) {
    auto model = MakeMlp(1, /*dropout=*/true);
    const Backend backend = b == 0 ? Backend::kJit : Backend::kInterp;
    ASSERT_TRUE(model->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05,
                                                                .momentum = 0.9}),
                               "mse", {}, {.backend = backend}).ok());
    for (int step = 0; step < 4; ++step) {
      auto logs = model->TrainOnBatch(data.x, data.y);
      ASSERT_TRUE(logs.ok()) << logs.status();
      losses[b] = (*logs)[0].second;
    }
    weights[b] = WeightValues(*model);
  }
  EXPECT_NEAR(losses[0], losses[1], 1e-4 * std::max(1.0, std::abs(losses[1])));
  for (size_t i = 0; i < weights[0].size(); ++i) {
    for (int64_t k = 0; k < weights[0][i].num_elements(); ++k) {
      const double ref = weights[1][i].GetAsDouble(k);
      EXPECT_NEAR(weights[0][i].GetAsDouble(k), ref, 1e-4 * std::max(1.0, std::abs(ref)));
    }
  }
}

TEST(ModelTrainingTest, AConvnetTrainsAlikeOnBothBackends) {
  // 8x8 single-channel images, 3 classes; Conv2D -> MaxPooling2D -> Dense.
  Buffer images(DType::kF32, Shape{6, 8, 8, 1});
  for (int64_t i = 0; i < images.num_elements(); ++i) images.SetFromDouble(i, std::sin(0.37 * i));
  Buffer labels = Buffer::FromVector<int32_t>(Shape{6}, {0, 1, 2, 1, 0, 2});
  std::vector<Buffer> weights[2];
  double losses[2][4];
  for (int b = 0; b < 2; ++b) {
    ClearSession();
    Tensor x = Input({8, 8, 1});
    Tensor h = MakeLayer<Conv2D>(4, IntList{3, 3},
                                 ConvOptions{.padding = "same", .activation = "relu",
                                             .kernel_initializer = std::make_shared<GlorotUniform>(1)})(x);
    h = MakeLayer<Flatten>()(MakeLayer<MaxPooling2D>()(h));
    Tensor y = MakeLayer<Dense>(3, DenseOptions{.kernel_initializer =
                                                    std::make_shared<GlorotUniform>(2)})(h);
    Model model(x, y);
    ASSERT_TRUE(model.Compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01}),
                              SparseCategoricalCrossentropy(true), {"accuracy"},
                              {.backend = b == 0 ? Backend::kJit : Backend::kInterp}).ok());
    for (int step = 0; step < 4; ++step) {
      auto logs = model.TrainOnBatch(images, labels);
      ASSERT_TRUE(logs.ok()) << logs.status();
      losses[b][step] = (*logs)[0].second;
    }
    weights[b] = WeightValues(model);
  }
  EXPECT_LT(losses[1][3], losses[1][0]);
  for (int step = 0; step < 4; ++step) EXPECT_NEAR(losses[0][step], losses[1][step], 1e-4);
  for (size_t i = 0; i < weights[0].size(); ++i) {
    for (int64_t k = 0; k < weights[0][i].num_elements(); ++k) {
      const double ref = weights[1][i].GetAsDouble(k);
      EXPECT_NEAR(weights[0][i].GetAsDouble(k), ref, 1e-4 * std::max(1.0, std::abs(ref)));
    }
  }
}

TEST(ModelTrainingTest, ConstraintsRunAfterTheUpdate) {
  Data data;
  auto free_model = MakeMlp(1, false);
  auto constrained = MakeMlp(1, false, NonNeg());
  for (Model* m : {free_model.get(), constrained.get()}) {
    ASSERT_TRUE(m->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.5}), "mse").ok());
    ASSERT_TRUE(m->TrainOnBatch(data.x, data.y).ok());
  }
  // The initial kernel has negative entries; the constraint only sees the
  // updated one, which is the free model's update clipped at zero.
  const Buffer& free_kernel = free_model->weights()[0]->value;
  const Buffer& kernel = constrained->weights()[0]->value;
  int clipped = 0;
  for (int64_t i = 0; i < kernel.num_elements(); ++i) {
    EXPECT_EQ(kernel.GetAsDouble(i), std::max(0.0, free_kernel.GetAsDouble(i)));
    clipped += free_kernel.GetAsDouble(i) < 0;
  }
  EXPECT_GT(clipped, 0);
}

TEST(ModelTrainingTest, ActivityRegularizationEntersTheGradientDividedByTheBatch) {
  // y = x W (no bias), activity penalty 0.1 * sum(y^2) / B; loss = mse.
  // d total / d W = x^T (2 (y - t) / (B U) + 0.2 y / B), written out here.
  const int batch = 3, features = 2, units = 2;
  Buffer x = Buffer::FromVector<float>(Shape{batch, features}, {1, 2, -1, 0.5f, 0.25f, -2});
  Buffer t = Buffer::FromVector<float>(Shape{batch, units}, {0.5f, -1, 2, 0, 1, 1});
  const std::vector<double> w0 = {0.3, -0.2, 0.7, 0.1};
  ClearSession();
  Tensor in = Input({features});
  Tensor out = MakeLayer<Dense>(units, DenseOptions{.use_bias = false,
                                                    .kernel_initializer =
                                                        std::make_shared<class Constant>(w0),
                                                    .activity_regularizer = L2(0.1)})(in);
  Model model(in, out);
  ASSERT_TRUE(model.status().ok()) << model.status();
  ASSERT_TRUE(model.Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 1.0}), "mse").ok());
  double y[batch][units], grad[features][units] = {}, mse = 0, penalty = 0;
  for (int r = 0; r < batch; ++r) {
    for (int u = 0; u < units; ++u) {
      y[r][u] = 0;
      for (int f = 0; f < features; ++f) y[r][u] += x.GetAsDouble(r * features + f) * w0[f * units + u];
      const double e = y[r][u] - t.GetAsDouble(r * units + u);
      mse += e * e / (batch * units);
      penalty += 0.1 * y[r][u] * y[r][u] / batch;
      for (int f = 0; f < features; ++f) {
        grad[f][u] += x.GetAsDouble(r * features + f) * (2 * e / (batch * units) + 0.2 * y[r][u] / batch);
      }
    }
  }
  auto logs = model.TrainOnBatch(x, t);
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_NEAR((*logs)[0].second, mse + penalty, 1e-5);  // Keras reports the penalty too
  const Buffer& kernel = model.weights()[0]->value;
  for (int f = 0; f < features; ++f) {
    for (int u = 0; u < units; ++u) {
      EXPECT_NEAR(kernel.GetAsDouble(f * units + u), w0[f * units + u] - grad[f][u], 1e-5);
    }
  }
}

TEST(ModelTrainingTest, OptimizerStateExistsAfterCompileAndIsTheStateTheStepUses) {
  Data data;
  auto model = MakeMlp(1, /*dropout=*/false);
  auto sgd = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1, .momentum = 0.9});
  ASSERT_TRUE(model->Compile(sgd, "mse").ok());
  std::vector<std::string> names;
  for (auto& [name, buffer] : sgd->Variables()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"iterations", "m/dense/kernel", "m/dense/bias",
                                             "m/dense_1/kernel", "m/dense_1/bias"}));
  // A restored momentum for the last bias moves it by momentum * m before
  // any gradient: compare with a twin model whose state stays zero.
  auto twin = MakeMlp(1, /*dropout=*/false);
  ASSERT_TRUE(twin->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1,
                                                             .momentum = 0.9}), "mse").ok());
  sgd->Variables()[4].second->SetFromDouble(0, 2.0);
  ASSERT_TRUE(model->TrainOnBatch(data.x, data.y).ok());
  ASSERT_TRUE(twin->TrainOnBatch(data.x, data.y).ok());
  EXPECT_NEAR(model->weights()[3]->value.GetAsDouble(0) - twin->weights()[3]->value.GetAsDouble(0),
              0.9 * 2.0, 1e-5);
}

TEST(ModelTrainingTest, MisuseGivesClearStatuses) {
  Data data;
  auto model = MakeMlp(2, false);
  auto not_compiled = model->TrainOnBatch(data.x, data.classes);
  EXPECT_EQ(not_compiled.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(not_compiled.status().message().find("is not compiled: call Compile(optimizer, loss) first"),
            std::string::npos) << not_compiled.status();
  EXPECT_EQ(model->Compile(std::make_shared<Adam>(), "mean_cubed_error").message(),
            "unknown loss 'mean_cubed_error'");
  EXPECT_EQ(model->Compile(nullptr, "mse").message(), "Compile: no optimizer");
  EXPECT_EQ(model->Compile(std::make_shared<SGD>(SGDOptions{.momentum = 1.5}), "mse").message(),
            "SGD: momentum must be between [0, 1], got 1.5");

  ASSERT_TRUE(model->Compile(std::make_shared<Adam>(), "sparse_categorical_crossentropy").ok());
  Buffer wide_labels = Buffer::Zeros(DType::kI32, Shape{16, 3});
  EXPECT_EQ(model->TrainOnBatch(data.x, wide_labels).status().message(),
            "TrainOnBatch: [sparse_categorical_crossentropy] expected class indices of shape "
            "[N] for y_pred f32[N,2], got i32[N,3]");
  Buffer short_labels = Buffer::Zeros(DType::kI32, Shape{15});
  EXPECT_EQ(model->TrainOnBatch(data.x, short_labels).status().message(),
            "TrainOnBatch: y has 15 rows but x has 16");
  Buffer wrong_x = Buffer::Zeros(DType::kF32, Shape{16, 5});
  EXPECT_NE(model->TestOnBatch(wrong_x, data.classes).status().message().find(
                "TestOnBatch: input"), std::string::npos);
  // After the errors the model still trains: nothing poisoned its graph.
  ASSERT_TRUE(model->Compile(std::make_shared<Adam>(), "mse").ok());
  Buffer wrong_dense = Buffer::Zeros(DType::kF32, Shape{16, 3});
  EXPECT_EQ(model->TrainOnBatch(data.x, wrong_dense).status().message(),
            "TrainOnBatch: [mean_squared_error] expected y_true like y_pred f32[N,2], got f32[N,3]");
  Buffer labels_as_floats = Buffer::Zeros(DType::kF32, Shape{16, 2});
  EXPECT_TRUE(model->TrainOnBatch(data.x, labels_as_floats).ok());
}

}  // namespace
}  // namespace kiln
