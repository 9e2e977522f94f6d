// Custom training loops: ValueAndGrad + Optimizer::Apply train a tiny model
// with a Lambda layer, agree with TrainOnBatch step for step, and report
// bad loss functions clearly.
#include "layers/value_and_grad.h"

#include <cmath>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "layers/dense.h"
#include "layers/input_layer.h"
#include "layers/lambda.h"
#include "layers/optimizers.h"
#include "ops/ops.h"

namespace kiln {
namespace {

struct Data {
  Buffer x = Buffer(DType::kF32, Shape{12, 3});
  Buffer y = Buffer(DType::kF32, Shape{12, 1});
  Data() {
    for (int r = 0; r < 12; ++r) {
      double target = 0;
      for (int c = 0; c < 3; ++c) {
        const double v = std::cos(0.9 * r + 1.1 * c);
        x.SetFromDouble(r * 3 + c, v);
        target += (c + 1) * v * v - 0.5 * v;
      }
      y.SetFromDouble(r, target);
    }
  }
};

// Input(3) -> Dense(8, tanh) -> Lambda(h + 0.1 h^2) -> Dense(1), seeded.
std::unique_ptr<Model> MakeModel() {
  ClearSession();
  Tensor x = Input({3});
  Tensor h = MakeLayer<Dense>(8, DenseOptions{.activation = "tanh",
                                              .kernel_initializer = std::make_shared<GlorotUniform>(7)})(x);
  h = MakeLayer<Lambda>([](const Tensor& t) { return t + Square(t) * 0.1; })(h);
  Tensor y = MakeLayer<Dense>(1, DenseOptions{.kernel_initializer =
                                                  std::make_shared<GlorotUniform>(9)})(h);
  return std::make_unique<Model>(x, y);
}

Tensor MeanSquared(absl::Span<const Tensor> outputs, absl::Span<const Tensor> labels) {
  return Mean(Square(outputs[0] - labels[0]), {0, 1});
}

TEST(ValueAndGradTest, TrainsATinyModelWithALambdaLayer) {
  Data data;
  auto model = MakeModel();
  ValueAndGrad step(*model, MeanSquared);
  Adam adam({.learning_rate = 0.03});
  double first = 0, last = 0;
  for (int i = 0; i < 80; ++i) {
    auto r = step(data.x, data.y, i);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->gradients.size(), step.weights().size());
    if (i == 0) first = r->loss;
    last = r->loss;
    ASSERT_TRUE(adam.Apply(r->GradientPointers(), step.weights()).ok());
  }
  EXPECT_LT(last, 0.2 * first);
  EXPECT_EQ(adam.iterations(), 80);
}

TEST(ValueAndGradTest, AgreesWithTrainOnBatch) {
  Data data;
  auto compiled = MakeModel();
  ASSERT_TRUE(compiled->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.2,
                                                                 .momentum = 0.5}),
                                "mse").ok());
  auto custom = MakeModel();
  ValueAndGrad step(*custom, MeanSquared);
  SGD sgd({.learning_rate = 0.2, .momentum = 0.5});
  for (int i = 0; i < 3; ++i) {
    auto logs = compiled->TrainOnBatch(data.x, data.y);
    ASSERT_TRUE(logs.ok()) << logs.status();
    auto r = step(data.x, data.y, i);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_NEAR(r->loss, (*logs)[0].second, 1e-5);
    ASSERT_TRUE(sgd.Apply(r->GradientPointers(), step.weights()).ok());
  }
  const std::vector<Weight*> a = compiled->weights(), b = custom->weights();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    for (int64_t k = 0; k < a[i]->value.num_elements(); ++k) {
      EXPECT_NEAR(a[i]->value.GetAsDouble(k), b[i]->value.GetAsDouble(k), 1e-5) << a[i]->name;
    }
  }
}

TEST(ValueAndGradTest, ALossThatIsNotAScalarIsAClearError) {
  Data data;
  auto model = MakeModel();
  ValueAndGrad per_sample(*model, [](absl::Span<const Tensor> out, absl::Span<const Tensor> y) {
    return Square(out[0] - y[0]);
  });
  auto r = per_sample(data.x, data.y);
  EXPECT_EQ(r.status().message(),
            "ValueAndGrad: the loss function must return an f32 scalar, got f32[N,1]");
  const std::vector<const Buffer*> none;
  EXPECT_EQ(per_sample(none, {&data.y}).status().message(),
            "ValueAndGrad: model '" + model->name() + "' has 1 inputs, got 0 arrays");
}

}  // namespace
}  // namespace kiln
