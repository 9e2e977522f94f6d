// The whole training step (training-mode forward, loss, gradients through
// Dense, Flatten, max pooling and same-padded Conv2D, the Adam update)
// against an independent reference: a small copy of the fashion_mnist
// convnet, 12x12x1 -> Conv2D 4 3x3 same relu -> MaxPooling2D 2 -> Conv2D 6
// 3x3 same relu -> MaxPooling2D 2 -> Flatten -> Dense 16 relu -> Dense 10,
// trained for 3 TrainOnBatch steps of 8 examples with sparse categorical
// crossentropy from logits and Adam(0.01) on both backends. The initial
// weights, the batches and the expected per-step losses and final weights
// were written once by tests/data/training/make_training_reference.py
// (PyTorch in float64 with tf.keras' Adam formula); the test reads only the
// committed .npz files.
//
// Tolerances: kiln computes in float32. A float32 PyTorch run of the same
// steps lands within 7e-8 of the float64 reference in the losses (relative)
// and the weights (absolute); the weights are below 0.5 and the steps move
// them by up to 0.03. Both kiln backends land within 2e-7 in the losses
// and 3e-7 in the weights except one hidden/kernel weight, 2.2e-6 off, whose
// second Adam step divides a first moment that cancels to 3% of its terms by
// sqrt(v) ~ 2.6e-6 (so tiny gradient differences show). The plausible
// mistakes the generator tries land far outside: torch.optim.Adam's epsilon
// placement moves a weight by 9e-4, dropping Adam's bias correction by 0.1,
// flattening in (c,h,w) order by 0.06 (and the losses by 7e-2 relative);
// kiln with the epsilon moved to torch's place fails here by 9e-4.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "layers/conv.h"
#include "layers/dense.h"
#include "layers/input_layer.h"
#include "layers/losses.h"
#include "layers/max_pooling.h"
#include "layers/model.h"
#include "layers/npz.h"
#include "layers/optimizers.h"
#include "layers/reshaping.h"

namespace kiln {
namespace {

constexpr const char* kDir = KILN_TEST_DATA_DIR "/training";
constexpr int kSteps = 3;
constexpr int kBatch = 8;
constexpr int kSide = 12;
// |kiln - reference| <= kLossRtol * |reference| for the losses and
// <= kWeightAtol for the weights.
constexpr double kLossRtol = 1e-5;
constexpr double kWeightAtol = 2e-5;

std::unique_ptr<Model> SmallConvnet() {
  ClearSession();
  Tensor x = Input({kSide, kSide, 1});
  Tensor h = MakeLayer<Conv2D>(4, IntList{3, 3},
                               ConvOptions{.padding = "same", .activation = "relu", .name = "conv_a"})(x);
  h = MakeLayer<MaxPooling2D>(IntList{2, 2})(h);
  h = MakeLayer<Conv2D>(6, IntList{3, 3},
                        ConvOptions{.padding = "same", .activation = "relu", .name = "conv_b"})(h);
  h = MakeLayer<MaxPooling2D>(IntList{2, 2})(h);
  h = MakeLayer<Flatten>()(h);
  h = MakeLayer<Dense>(16, DenseOptions{.activation = "relu", .name = "hidden"})(h);
  Tensor logits = MakeLayer<Dense>(10, DenseOptions{.name = "logits"})(h);
  return std::make_unique<Model>(x, logits);
}

class TrainingReferenceTest : public ::testing::TestWithParam<Backend> {};

TEST_P(TrainingReferenceTest, ThreeAdamStepsMatchPyTorch) {
  absl::StatusOr<NpzEntries> batches = ReadNpz(absl::StrCat(kDir, "/batches.npz"));
  absl::StatusOr<NpzEntries> expected = ReadNpz(absl::StrCat(kDir, "/expected.npz"));
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_TRUE(expected.ok()) << expected.status();
  Buffer x = FindNpzEntry(*batches, "x")->Clone();
  Buffer y = FindNpzEntry(*batches, "y")->Clone();
  ASSERT_EQ(x.shape(), (Shape{kSteps, kBatch, kSide, kSide, 1}));
  ASSERT_EQ(y.dtype(), DType::kI32);
  const Buffer* losses = FindNpzEntry(*expected, "losses");
  ASSERT_NE(losses, nullptr);

  std::unique_ptr<Model> model = SmallConvnet();
  ASSERT_TRUE(model->status().ok()) << model->status();
  ASSERT_TRUE(model->LoadWeights(absl::StrCat(kDir, "/initial_weights.npz")).ok());
  ASSERT_TRUE(model->Compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01}),
                             SparseCategoricalCrossentropy(/*from_logits=*/true), {},
                             {.backend = GetParam()})
                  .ok());
  for (int step = 0; step < kSteps; ++step) {
    Buffer xb = Buffer::View(DType::kF32, Shape{kBatch, kSide, kSide, 1},
                             x.data<float>() + step * kBatch * kSide * kSide);
    Buffer yb = Buffer::View(DType::kI32, Shape{kBatch}, y.data<int32_t>() + step * kBatch);
    absl::StatusOr<Logs> logs = model->TrainOnBatch(xb, yb);
    ASSERT_TRUE(logs.ok()) << logs.status();
    const double want = losses->GetAsDouble(step);
    EXPECT_NEAR(*FindLog(*logs, "loss"), want, kLossRtol * std::abs(want)) << "step " << step + 1;
  }

  const std::vector<Weight*> weights = model->weights();
  ASSERT_EQ(weights.size(), expected->size() - 1);
  for (const Weight* w : weights) {
    const Buffer* want = FindNpzEntry(*expected, w->name);
    ASSERT_NE(want, nullptr) << w->name;
    ASSERT_EQ(w->value.shape(), want->shape()) << w->name;
    int bad = 0;
    double worst = 0;
    for (int64_t i = 0; i < want->num_elements(); ++i) {
      const double diff = std::abs(w->value.GetAsDouble(i) - want->GetAsDouble(i));
      worst = std::max(worst, diff);
      bad += !(diff <= kWeightAtol);
    }
    EXPECT_EQ(bad, 0) << w->name << ": " << bad << " of " << want->num_elements()
                      << " weights off, the worst by " << worst;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TrainingReferenceTest,
                         ::testing::Values(Backend::kJit, Backend::kInterp),
                         [](const auto& info) {
                           return std::string(info.param == Backend::kJit ? "Jit" : "Interp");
                         });

}  // namespace
}  // namespace kiln
