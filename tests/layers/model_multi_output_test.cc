// Multi-output training on both backends: one loss, loss weight and metric
// list per output (by name or by position), Logs named as Keras names them
// ("loss", "<output>_loss", "<output>_<metric>"), "loss" = the
// loss-weighted sum, the update follows the weighted gradient (written out
// here in plain C++), untrained outputs need no labels, and misuse gives
// clear Statuses.
#include <cmath>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "layers/dense.h"
#include "layers/initializers.h"
#include "layers/input_layer.h"
#include "layers/losses.h"
#include "layers/model.h"
#include "layers/optimizers.h"

namespace kiln {
namespace {

constexpr int kBatch = 3, kFeatures = 2;
const std::vector<float> kX = {1, 2, -1, 0.5f, 0.25f, -2};
const std::vector<double> kValueKernel = {0.3, -0.2, 0.7, 0.1};             // [2,2]
const std::vector<double> kLabelKernel = {0.3, -0.2, 0.5, 0.7, 0.1, -0.4};  // [2,3]
const std::vector<float> kValues = {0.5f, -1, 2, 0, 1, 1};                  // [3,2]
const std::vector<int32_t> kClasses = {0, 2, 2};

// x -> Dense(2) "value" and x -> Dense(3) "label", no biases.
std::unique_ptr<Model> TwoHeads() {
  ClearSession();
  Tensor in = Input({kFeatures});
  auto head = [&](int units, const std::vector<double>& kernel, const char* name) {
    return MakeLayer<Dense>(
        units, DenseOptions{.use_bias = false,
                            .kernel_initializer = std::make_shared<class Constant>(kernel),
                            .name = name})(in);
  };
  Tensor value = head(2, kValueKernel, "value");
  Tensor label = head(3, kLabelKernel, "label");
  return std::make_unique<Model>(std::vector<Tensor>{in}, std::vector<Tensor>{value, label});
}

double Forward(const std::vector<double>& w, int units, int r, int u) {
  double y = 0;
  for (int f = 0; f < kFeatures; ++f) y += kX[r * kFeatures + f] * w[f * units + u];
  return y;
}

class MultiOutputTest : public ::testing::TestWithParam<Backend> {};

TEST_P(MultiOutputTest, LossesAreWeightedPerOutputAndLogsAreNamedLikeKeras) {
  // References: mse of "value", sparse CE on logits of "label", and their
  // gradients by each kernel.
  double mse = 0, ce = 0, accuracy = 0;
  std::vector<double> value_grad(4, 0), label_grad(6, 0);
  for (int r = 0; r < kBatch; ++r) {
    for (int u = 0; u < 2; ++u) {
      const double e = Forward(kValueKernel, 2, r, u) - kValues[r * 2 + u];
      mse += e * e / 2 / kBatch;
      for (int f = 0; f < kFeatures; ++f) value_grad[f * 2 + u] += kX[r * 2 + f] * e / kBatch;
    }
    double m = -1e30, s = 0;
    int best = 0;
    for (int c = 0; c < 3; ++c) {
      m = std::max(m, Forward(kLabelKernel, 3, r, c));
      if (Forward(kLabelKernel, 3, r, c) > Forward(kLabelKernel, 3, r, best)) best = c;
    }
    for (int c = 0; c < 3; ++c) s += std::exp(Forward(kLabelKernel, 3, r, c) - m);
    ce += -(Forward(kLabelKernel, 3, r, kClasses[r]) - m - std::log(s)) / kBatch;
    accuracy += (best == kClasses[r] ? 1.0 : 0.0) / kBatch;
    for (int c = 0; c < 3; ++c) {
      const double err = std::exp(Forward(kLabelKernel, 3, r, c) - m) / s - (c == kClasses[r]);
      for (int f = 0; f < kFeatures; ++f) label_grad[f * 3 + c] += kX[r * 2 + f] * err / kBatch;
    }
  }
  Buffer x = Buffer::FromVector<float>(Shape{kBatch, kFeatures}, kX);
  Buffer values = Buffer::FromVector<float>(Shape{kBatch, 2}, kValues);
  Buffer classes = Buffer::FromVector<int32_t>(Shape{kBatch}, kClasses);
  const Buffer* inputs[] = {&x};
  const Buffer* labels[] = {&values, &classes};
  for (bool by_name : {true, false}) {
    auto model = TwoHeads();
    ASSERT_EQ(model->output_names(), (std::vector<std::string>{"value", "label"}));
    auto sgd = std::make_shared<SGD>(SGDOptions{.learning_rate = 1.0});
    const OutputTraining value{.loss = "mse", .loss_weight = 0.5};
    const OutputTraining label{.loss = SparseCategoricalCrossentropy(/*from_logits=*/true),
                               .metrics = {"accuracy"}};
    absl::Status compiled =
        by_name ? model->Compile(sgd, {{"label", label}, {"value", value}}, {.backend = GetParam()})
                : model->Compile(sgd, {value, label}, {.backend = GetParam()});
    ASSERT_TRUE(compiled.ok()) << compiled;
    auto logs = model->TrainOnBatch(inputs, labels);
    ASSERT_TRUE(logs.ok()) << logs.status();
    ASSERT_EQ(logs->size(), 4u);
    EXPECT_EQ((*logs)[0].first, "loss");
    EXPECT_EQ((*logs)[1].first, "value_loss");
    EXPECT_EQ((*logs)[2].first, "label_loss");
    EXPECT_EQ((*logs)[3].first, "label_accuracy");
    EXPECT_NEAR((*logs)[0].second, 0.5 * mse + ce, 1e-5);
    EXPECT_NEAR((*logs)[1].second, mse, 1e-5);  // unweighted
    EXPECT_NEAR((*logs)[2].second, ce, 1e-5);
    EXPECT_NEAR((*logs)[3].second, accuracy, 1e-6);
    // d loss / d value kernel = 0.5 * mse gradient (2 e / (2 N) summed).
    const Buffer& value_kernel = model->GetLayer("value").value()->weights()[0].value;
    const Buffer& label_kernel = model->GetLayer("label").value()->weights()[0].value;
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR(value_kernel.GetAsDouble(i), kValueKernel[i] - 0.5 * value_grad[i], 1e-5) << i;
    }
    for (int i = 0; i < 6; ++i) {
      EXPECT_NEAR(label_kernel.GetAsDouble(i), kLabelKernel[i] - label_grad[i], 1e-5) << i;
    }
  }
}

TEST_P(MultiOutputTest, OneLossForEveryOutputAndUntrainedOutputs) {
  Buffer x = Buffer::FromVector<float>(Shape{kBatch, kFeatures}, kX);
  Buffer values = Buffer::FromVector<float>(Shape{kBatch, 2}, kValues);
  Buffer wide = Buffer::Zeros(DType::kF32, Shape{kBatch, 3});
  const Buffer* inputs[] = {&x};
  {  // Keras: a single loss and metric list apply to each output.
    auto model = TwoHeads();
    ASSERT_TRUE(
        model->Compile(std::make_shared<SGD>(), "mse", {"mae"}, {.backend = GetParam()}).ok());
    const Buffer* labels[] = {&values, &wide};
    auto logs = model->TestOnBatch(inputs, labels);
    ASSERT_TRUE(logs.ok()) << logs.status();
    std::vector<std::string> names;
    for (const auto& [name, value] : *logs) names.push_back(name);
    EXPECT_EQ(names, (std::vector<std::string>{"loss", "value_loss", "label_loss", "value_mae",
                                               "label_mae"}));
    EXPECT_NEAR((*logs)[0].second, (*logs)[1].second + (*logs)[2].second, 1e-6);
    // One sample_weight weighs every output's loss (metrics stay unweighted).
    Buffer triple = Buffer::FromVector<float>(Shape{kBatch}, {3, 3, 3});
    auto weighted = model->TestOnBatch(inputs, labels, {.sample_weight = &triple});
    ASSERT_TRUE(weighted.ok()) << weighted.status();
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR((*weighted)[i].second, 3 * (*logs)[i].second, 1e-5) << (*logs)[i].first;
    }
    for (int i = 3; i < 5; ++i) EXPECT_NEAR((*weighted)[i].second, (*logs)[i].second, 1e-6);
    // Or one per output (Keras' list): only "value" is weighted here.
    auto per_output =
        model->TestOnBatch(inputs, labels, {.output_sample_weights = {&triple, nullptr}});
    ASSERT_TRUE(per_output.ok()) << per_output.status();
    EXPECT_NEAR((*per_output)[1].second, 3 * (*logs)[1].second, 1e-5);
    EXPECT_NEAR((*per_output)[2].second, (*logs)[2].second, 1e-6);
    EXPECT_NEAR((*per_output)[0].second, 3 * (*logs)[1].second + (*logs)[2].second, 1e-5);
    EXPECT_EQ(model
                  ->TestOnBatch(inputs, labels,
                                {.sample_weight = &triple, .output_sample_weights = {&triple}})
                  .status()
                  .message(),
              "TestOnBatch: output_sample_weights needs one entry per output (2), without "
              "sample_weight or class_weight; got 1");
  }
  {  // Only "value" is trained: "label" needs no labels and keeps its kernel.
    auto model = TwoHeads();
    ASSERT_TRUE(model
                    ->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 1.0}),
                              {{"value", {.loss = "mse"}}}, {.backend = GetParam()})
                    .ok());
    const Buffer* labels[] = {&values, nullptr};
    auto logs = model->TrainOnBatch(inputs, labels);
    ASSERT_TRUE(logs.ok()) << logs.status();
    EXPECT_EQ((*logs)[1].first, "value_loss");
    EXPECT_NEAR((*logs)[0].second, (*logs)[1].second, 1e-6);
    const Buffer& label_kernel = model->GetLayer("label").value()->weights()[0].value;
    for (int i = 0; i < 6; ++i)
      EXPECT_EQ(label_kernel.GetAsDouble(i), static_cast<float>(kLabelKernel[i]));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, MultiOutputTest,
                         ::testing::Values(Backend::kJit, Backend::kInterp),
                         [](const auto& info) { return std::string(BackendName(info.param)); });

TEST(MultiOutputErrorsTest, MisuseGivesClearStatuses) {
  auto model = TwoHeads();
  auto sgd = std::make_shared<SGD>();
  EXPECT_EQ(model->Compile(sgd, {{"values", {.loss = "mse"}}}).message(),
            "Compile: model 'model' has no output named 'values' (outputs: value, label)");
  EXPECT_EQ(model->Compile(sgd, std::vector<OutputTraining>{{.loss = "mse"}}).message(),
            "Compile: model 'model' has 2 outputs, got 1 output settings");
  EXPECT_EQ(model->Compile(sgd, std::vector<OutputTraining>(2)).message(), "Compile: no loss");
  EXPECT_EQ(model->Compile(sgd, {{"value", {.loss = "mse"}}, {"value", {.loss = "mae"}}}).message(),
            "Compile: output 'value' is given twice");
  ASSERT_TRUE(model->Compile(sgd, "mse").ok());
  Buffer x = Buffer::FromVector<float>(Shape{kBatch, kFeatures}, kX);
  Buffer values = Buffer::FromVector<float>(Shape{kBatch, 2}, kValues);
  const Buffer* inputs[] = {&x};
  EXPECT_EQ(model->TrainOnBatch(x, values).status().message(),
            "TrainOnBatch: model 'model' has 2 outputs, got 1 label arrays");
  const Buffer* labels[] = {&values, &values};
  EXPECT_EQ(model->TrainOnBatch(inputs, labels).status().message(),
            "TrainOnBatch: labels of output 'label': [mean_squared_error] expected y_true like "
            "y_pred f32[N,3], got f32[N,2]");
  EXPECT_EQ(model->TrainOnBatch(inputs, labels, {.class_weight = {{0, 1.0}}}).status().message(),
            "TrainOnBatch: class_weight is only supported for models with a single output");
}

}  // namespace
}  // namespace kiln
