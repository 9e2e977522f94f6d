// Crossentropies on probabilities made by a "softmax" or "sigmoid"
// activation use that activation's logits (tf.keras 2.x `_keras_logits`):
// where p < 1e-7 the gradient is the logits gradient (softmax(x) - t), not
// the zero of the clipped formula; elsewhere the value is the clipped
// formula's. References are written out here in double.
#include <cmath>
#include <memory>
#include <vector>

#include "autodiff/grad.h"
#include "graph/evaluate.h"
#include "gtest/gtest.h"
#include "layers/activations.h"
#include "layers/advanced_activations.h"
#include "layers/dense.h"
#include "layers/initializers.h"
#include "layers/input_layer.h"
#include "layers/losses.h"
#include "layers/model.h"
#include "layers/optimizers.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr double kEps = 1e-7;

// Row 0 is confidently wrong (p of the true class ~ 2e-9), row 1 is not.
const std::vector<float> kLogits = {0.0f, 20.0f, -5.0f, 0.3f, -0.2f, 1.0f};
const std::vector<float> kOneHot = {1, 0, 0, 0, 0, 1};
const std::vector<float> kClassIds = {0, 2};

std::vector<double> SoftmaxRow(const std::vector<float>& x, int row) {
  double m = -1e30, s = 0;
  for (int c = 0; c < 3; ++c) m = std::max(m, static_cast<double>(x[row * 3 + c]));
  std::vector<double> p(3);
  for (int c = 0; c < 3; ++c) s += p[c] = std::exp(x[row * 3 + c] - m);
  for (double& v : p) v /= s;
  return p;
}

struct LossAndGradient {
  std::vector<double> per_sample;  // Reduction::kNone
  std::vector<double> gradient;    // of the batch mean, by the logits
};

// loss(labels, activation(x)) per sample and d mean / d x.
LossAndGradient RunLoss(const Loss& loss, const Loss& mean_loss, const char* activation,
                        const Shape& x_shape, const std::vector<float>& x_values,
                        const Buffer& labels, bool through_activation = true) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, x_shape);
  Tensor t = Input(g, "t", labels.dtype(), labels.shape());
  Tensor p = x;
  if (through_activation) {
    p = (*ActivationByName(activation))(x);
  } else {  // the same probabilities, not known to come from an activation
    p = std::string(activation) == "softmax" ? Softmax(x, -1) : Sigmoid(x);
  }
  Tensor per_sample = loss(t, p);
  Tensor mean = mean_loss(t, p);
  auto grads = Grad(mean, {x});
  EXPECT_TRUE(grads.ok()) << grads.status();
  Buffer xb = Buffer::FromVector<float>(x_shape, x_values);
  auto r = EvaluateTensors({per_sample, (*grads)[0]}, {{"x", &xb}, {"t", &labels}});
  EXPECT_TRUE(r.ok()) << r.status();
  LossAndGradient out;
  for (int64_t i = 0; i < (*r)[0].num_elements(); ++i)
    out.per_sample.push_back((*r)[0].GetAsDouble(i));
  for (int64_t i = 0; i < (*r)[1].num_elements(); ++i)
    out.gradient.push_back((*r)[1].GetAsDouble(i));
  return out;
}

void ExpectSoftmaxCase(const LossAndGradient& got) {
  ASSERT_EQ(got.per_sample.size(), 2u);
  ASSERT_EQ(got.gradient.size(), 6u);
  for (int r = 0; r < 2; ++r) {
    const std::vector<double> p = SoftmaxRow(kLogits, r);
    const int label = r == 0 ? 0 : 2;
    for (int c = 0; c < 3; ++c) {
      const double want = (p[c] - (c == label ? 1.0 : 0.0)) / 2;  // mean over 2 rows
      EXPECT_NEAR(got.gradient[r * 3 + c], want, 1e-5) << "row " << r << " class " << c;
    }
  }
  // Row 0: the logits formula (p0 ~ 2e-9 < eps); row 1: the clipped formula.
  EXPECT_NEAR(got.per_sample[0], -std::log(SoftmaxRow(kLogits, 0)[0]), 1e-4);
  EXPECT_GT(got.per_sample[0], -std::log(kEps) + 1);
  const double clipped = -std::log(std::clamp(SoftmaxRow(kLogits, 1)[2], kEps, 1 - kEps));
  EXPECT_NEAR(got.per_sample[1], clipped, 1e-5);
}

TEST(LossesLogitsTest, CategoricalCrossentropyOnASoftmaxUsesItsLogits) {
  Buffer labels = Buffer::FromVector<float>(Shape{2, 3}, kOneHot);
  const Loss none = CategoricalCrossentropy({.reduction = Reduction::kNone});
  ExpectSoftmaxCase(
      RunLoss(none, CategoricalCrossentropy(), "softmax", Shape{2, 3}, kLogits, labels));
  // A softmax the loss does not know about is clipped: no gradient at row 0.
  LossAndGradient clipped =
      RunLoss(none, CategoricalCrossentropy(), "softmax", Shape{2, 3}, kLogits, labels, false);
  EXPECT_NEAR(clipped.per_sample[0], -std::log(kEps), 1e-3);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(clipped.gradient[c], 0.0, 1e-6);
}

TEST(LossesLogitsTest, SparseCategoricalCrossentropyOnASoftmaxUsesItsLogits) {
  Buffer labels = Buffer::FromVector<float>(Shape{2}, kClassIds);
  ExpectSoftmaxCase(RunLoss(SparseCategoricalCrossentropy(false, Reduction::kNone),
                            SparseCategoricalCrossentropy(), "softmax", Shape{2, 3}, kLogits,
                            labels));
}

TEST(LossesLogitsTest, TheSoftmaxLayerOverTheLastAxisRecordsItsLogits) {
  ClearSession();
  Tensor x = Input({3});
  Tensor last = MakeLayer<SoftmaxLayer>(-1)(x);
  EXPECT_EQ(LogitsOf(last, ProbabilityKind::kSoftmax).id(), x.id());
  EXPECT_FALSE(LogitsOf(last, ProbabilityKind::kSigmoid).defined());  // kinds do not mix
  Tensor first = MakeLayer<SoftmaxLayer>(0)(Reshape(x, Shape{Shape::kBatch, 3}));
  EXPECT_FALSE(LogitsOf(first, ProbabilityKind::kSoftmax).defined());  // not over classes
}

TEST(LossesLogitsTest, BinaryCrossentropyOnASigmoidUsesItsLogitsAlsoWhenSqueezed) {
  const std::vector<float> x = {-20.0f, 0.5f, 18.0f, -1.5f};
  const std::vector<float> t = {1, 0, 0, 1};
  std::vector<double> logits_values, clipped_values;
  for (int i = 0; i < 4; ++i) {
    const double p = 1 / (1 + std::exp(-static_cast<double>(x[i])));
    logits_values.push_back(std::max<double>(x[i], 0) - x[i] * t[i] +
                            std::log1p(std::exp(-std::abs(x[i]))));
    const double q = std::clamp(p, kEps, 1 - kEps);
    clipped_values.push_back(-(t[i] * std::log(q + kEps) + (1 - t[i]) * std::log(1 - q + kEps)));
  }
  // p of shape [4,1] against labels [4,1]: one value per row.
  LossAndGradient got =
      RunLoss(BinaryCrossentropy({.reduction = Reduction::kNone}), BinaryCrossentropy(), "sigmoid",
              Shape{4, 1}, x, Buffer::FromVector<float>(Shape{4, 1}, t));
  ASSERT_EQ(got.per_sample.size(), 4u);
  ASSERT_EQ(got.gradient.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const double p = 1 / (1 + std::exp(-static_cast<double>(x[i])));
    EXPECT_NEAR(got.gradient[i], (p - t[i]) / 4, 1e-6) << i;
    if (i == 0 || i == 2) {  // confidently wrong: the logits value, beyond the clip
      EXPECT_NEAR(got.per_sample[i], logits_values[i], 1e-4);
      EXPECT_GT(got.per_sample[i], clipped_values[i] + 1);
    } else {
      EXPECT_NEAR(got.per_sample[i], clipped_values[i], 1e-5);
    }
  }
  // Against labels [4], p is squeezed to [4] (one sample of 4 values): the
  // logits follow the squeeze.
  LossAndGradient squeezed =
      RunLoss(BinaryCrossentropy({.reduction = Reduction::kNone}), BinaryCrossentropy(), "sigmoid",
              Shape{4, 1}, x, Buffer::FromVector<float>(Shape{4}, t));
  ASSERT_EQ(squeezed.per_sample.size(), 1u);
  ASSERT_EQ(squeezed.gradient.size(), 4u);
  EXPECT_NEAR(squeezed.per_sample[0],
              (logits_values[0] + logits_values[1] + logits_values[2] + logits_values[3]) / 4,
              1e-4);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(squeezed.gradient[i], got.gradient[i], 1e-7) << i;
}

TEST(LossesLogitsTest, AConfidentlyWrongDenseSoftmaxStillLearnsOnBothBackends) {
  // Dense(3, softmax), no bias, kernel W: logits = x W. One SGD step with
  // lr 1 moves W by -x^T (softmax(x W) - t) / N, the logits gradient.
  const std::vector<double> w0 = {0, 6, -1, -2, 2, 0.2};  // [2,3]
  const std::vector<float> xv = {1, 5, 0.5f, -1};         // [2,2]
  const std::vector<float> ids = {0, 2};
  std::vector<float> logits(6, 0);
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) {
      for (int f = 0; f < 2; ++f) logits[r * 3 + c] += xv[r * 2 + f] * w0[f * 3 + c];
    }
  }
  ASSERT_LT(SoftmaxRow(logits, 0)[0], kEps);  // confidently wrong
  for (Backend backend : {Backend::kJit, Backend::kInterp}) {
    ClearSession();
    Tensor in = Input({2});
    Tensor out = MakeLayer<Dense>(
        3, DenseOptions{.activation = "softmax",
                        .use_bias = false,
                        .kernel_initializer = std::make_shared<class Constant>(w0)})(in);
    Model model(in, out);
    ASSERT_TRUE(model
                    .Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 1.0}),
                             "sparse_categorical_crossentropy", {}, {.backend = backend})
                    .ok());
    auto logs = model.TrainOnBatch(Buffer::FromVector<float>(Shape{2, 2}, xv),
                                   Buffer::FromVector<float>(Shape{2}, ids));
    ASSERT_TRUE(logs.ok()) << logs.status();
    const Buffer& kernel = model.weights()[0]->value;
    for (int f = 0; f < 2; ++f) {
      for (int c = 0; c < 3; ++c) {
        double grad = 0;
        for (int r = 0; r < 2; ++r) {
          const double err = SoftmaxRow(logits, r)[c] - (c == ids[r] ? 1 : 0);
          grad += xv[r * 2 + f] * err / 2;
        }
        EXPECT_NEAR(kernel.GetAsDouble(f * 3 + c), w0[f * 3 + c] - grad, kBackendTolerance * 10)
            << BackendName(backend) << " w[" << f << "," << c << "]";
      }
    }
  }
}

}  // namespace
}  // namespace kiln
