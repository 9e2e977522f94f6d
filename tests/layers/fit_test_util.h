// Shared by the Fit/Evaluate tests (fit_test, fit_sample_weight_test,
// fit_multi_output_test, fit_output_sample_weights_test): a small linear
// regression problem, a Dense(1) model with fixed starting weights to fit
// it, class labels and a softmax model for it, a two-output model with
// targets for both heads, and the helpers that
// compare a fitted model with a twin stepped by hand.
//
//   LinearData data(20);
//   auto fitted = LinearModel(), by_hand = LinearModel();
//   fitted->Fit(data.x, data.y, Quiet({.batch_size = 8}));
//   EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));
#ifndef KILN_TESTS_LAYERS_FIT_TEST_UTIL_H_
#define KILN_TESTS_LAYERS_FIT_TEST_UTIL_H_

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "layers/dense.h"
#include "layers/initializers.h"
#include "layers/model.h"
#include "layers/optimizers.h"

namespace kiln {

// y = 2 x0 - x1 + 0.5 on `n` rows of fixed pseudo-random x.
struct LinearData {
  explicit LinearData(int n) {
    std::vector<float> xv, yv;
    for (int i = 0; i < n; ++i) {
      const float a = std::sin(1.7f * i), b = std::cos(0.9f * i + 0.3f);
      xv.push_back(a);
      xv.push_back(b);
      yv.push_back(2 * a - b + 0.5f);
    }
    x = Buffer::FromVector<float>({n, 2}, xv);
    y = Buffer::FromVector<float>({n, 1}, yv);
  }
  Buffer x, y;
};

// Dense(1) on 2 inputs with fixed starting weights, compiled with SGD(lr),
// the mse loss and `options` (metrics: `metrics`).
inline std::unique_ptr<Model> LinearModel(double lr = 0.1, std::vector<Metric> metrics = {},
                                          CompileOptions options = {}) {
  Tensor x = Input({2});
  auto dense = MakeLayer<Dense>(1);
  auto model = std::make_unique<Model>(x, dense(x));
  dense->weights()[0].value = Buffer::FromVector<float>({2, 1}, {0.3f, -0.2f});
  dense->weights()[1].value = Buffer::FromVector<float>({1}, {0.1f});
  KILN_CHECK_OK(model->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = lr}), "mse",
                               std::move(metrics), std::move(options)));
  return model;
}

// Class labels for LinearData: 1 where x0 > 0, else 0.
inline Buffer SignLabels(const LinearData& data) {
  const int64_t n = data.x.shape().dim(0);
  Buffer labels(DType::kI32, Shape{n});
  for (int64_t i = 0; i < n; ++i) labels.data<int32_t>()[i] = data.x.GetAsDouble(2 * i) > 0;
  return labels;
}

// Dense(2, softmax) on 2 inputs with a fixed starting kernel, compiled with
// SGD(0.5) and sparse_categorical_crossentropy, for SignLabels.
inline std::unique_ptr<Model> SoftmaxModel() {
  Tensor in = Input({2});
  auto dense = MakeLayer<Dense>(2, DenseOptions{.activation = "softmax"});
  auto model = std::make_unique<Model>(in, dense(in));
  dense->weights()[0].value = Buffer::FromVector<float>({2, 2}, {0.3f, -0.2f, 0.1f, 0.4f});
  KILN_CHECK_OK(model->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.5}),
                               "sparse_categorical_crossentropy"));
  return model;
}

// x -> Dense(1) "a" (mse, weight 0.5, metric mae) and Dense(1) "b" (mae,
// weight 2), fixed starting kernels, SGD(0.1), `options` (e.g. weighted
// metrics for both). `train_b` false: "b" has no loss.
inline std::unique_ptr<Model> TwoHeads(bool train_b = true, CompileOptions options = {}) {
  Tensor in = Input({2});
  auto head = [&](std::vector<double> kernel, const char* name) {
    return MakeLayer<Dense>(
        1, DenseOptions{.kernel_initializer = std::make_shared<class Constant>(kernel),
                        .name = name})(in);
  };
  Tensor a = head({0.3, -0.2}, "a");
  Tensor b = head({-0.1, 0.4}, "b");
  auto model = std::make_unique<Model>(std::vector<Tensor>{in}, std::vector<Tensor>{a, b});
  std::vector<OutputTraining> outputs = {
      {.loss = "mse", .loss_weight = 0.5, .metrics = {"mae"}},
      train_b ? OutputTraining{.loss = "mae", .loss_weight = 2.0} : OutputTraining{}};
  KILN_CHECK_OK(model->Compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}), outputs,
                               std::move(options)));
  return model;
}

// Targets for TwoHeads: "a" fits LinearData's y, "b" cos(0.7 i).
struct TwoTargets {
  explicit TwoTargets(int n) : data(n) {
    std::vector<float> bv;
    for (int i = 0; i < n; ++i) bv.push_back(std::cos(0.7f * i));
    b = Buffer::FromVector<float>({n, 1}, bv);
  }
  LinearData data;  // x and the targets of "a"
  Buffer b;         // the targets of "b"
};

inline std::vector<double> WeightValues(const Model& m) {
  std::vector<double> out;
  for (Weight* w : m.weights()) {
    for (int64_t i = 0; i < w->value.num_elements(); ++i) out.push_back(w->value.GetAsDouble(i));
  }
  return out;
}

inline FitOptions Quiet(FitOptions o) {
  o.verbose = 0;
  return o;
}

}  // namespace kiln

#endif  // KILN_TESTS_LAYERS_FIT_TEST_UTIL_H_
