// Shared by the Fit/Evaluate tests (fit_test, fit_sample_weight_test,
// fit_multi_output_test): a small linear regression problem, a Dense(1)
// model with fixed starting weights to fit it, and the helpers that compare
// a fitted model with a twin stepped by hand.
//
//   LinearData data(20);
//   auto fitted = LinearModel(), by_hand = LinearModel();
//   fitted->Fit(data.x, data.y, Quiet({.batch_size = 8}));
//   EXPECT_EQ(WeightValues(*fitted), WeightValues(*by_hand));
#ifndef KILN_TESTS_LAYERS_FIT_TEST_UTIL_H_
#define KILN_TESTS_LAYERS_FIT_TEST_UTIL_H_

#include <cmath>
#include <memory>
#include <vector>

#include "layers/dense.h"
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
