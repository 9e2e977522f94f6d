// The core layers (dropout, reshaping, masking, merges, advanced
// activations, Lambda) in one model, forward and backward, run by both
// backends: they agree within kBackendTolerance, and dropout draws the same
// masks in both.
#include <cmath>

#include "autodiff/grad.h"
#include "codegen/executable.h"
#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/activity_regularization.h"
#include "layers/advanced_activations.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/lambda.h"
#include "layers/masking.h"
#include "layers/merge.h"
#include "layers/reshaping.h"
#include "tests/layers/core_layers_testing.h"

namespace kiln {
namespace {

using testing_core::BatchInput;
using testing_core::RandomBuffer;

TEST(CoreLayersBackendsTest, JitAndInterpreterAgreeForwardAndBackward) {
  auto g = Graph::Create();
  Tensor seq = BatchInput(g, "seq", {5, 4});
  Tensor img = BatchInput(g, "img", {3, 4, 4});  // channels_first
  Tensor masked = MakeLayer<Masking>(0.0)(seq);
  Tensor drop = MakeLayer<Dropout>(0.3, DropoutOptions{
                                            .noise_shape = {Dropout::kNone, 1, Dropout::kNone},
                                            .seed = 3})(masked);
  Tensor spatial = MakeLayer<SpatialDropout1D>(0.5, SpatialDropoutOptions{.seed = 4})(drop);
  auto prelu = MakeLayer<PReLU>(PReLUOptions{.shared_axes = {1}});
  Tensor act = prelu(MakeLayer<Dense>(4)(spatial));
  Tensor merged = MakeLayer<Average>()({act, MakeLayer<ELU>(0.5)(spatial), masked});
  Tensor scores = MakeLayer<Dot>(std::vector<int>{2, 2}, DotOptions{.normalize = true})(
      {merged, MakeLayer<LeakyReLU>()(seq)});                      // [N, 5, 5]
  Tensor probs = MakeLayer<SoftmaxLayer>()(scores);
  Tensor flat_img = MakeLayer<Flatten>("channels_first")(
      MakeLayer<SpatialDropout2D>(0.5, SpatialDropoutOptions{.data_format = "channels_first",
                                                             .seed = 5})(img));  // [N, 48]
  Tensor rep = MakeLayer<RepeatVector>(5)(
      MakeLayer<ReLU>(ReLUOptions{.max_value = 0.8, .negative_slope = 0.1, .threshold = 0.1})(
          flat_img));                                              // [N, 5, 48]
  Tensor joined = MakeLayer<Concatenate>()(
      {probs, MakeLayer<Permute>(std::vector<int>{1, 2})(rep), merged});  // [N, 5, 57]
  Tensor out = MakeLayer<Lambda>([](const Tensor& t) { return t * t; })(
      MakeLayer<ActivityRegularization>(0.01, 0.01)(
          MakeLayer<ThresholdedReLU>(0.05)(MakeLayer<MaximumLayer>()(
              {joined, MakeLayer<ActivationLayer>("tanh")(joined)}))));
  ASSERT_TRUE(out.ok()) << g->status();
  ASSERT_EQ(out.shape(), (Shape{Shape::kBatch, 5, 57}));
  const Tensor mask = MaskOf(joined);
  ASSERT_TRUE(mask.ok());
  auto grads = Grad(ReduceSum(out, {0, 1, 2}), {seq, img});
  ASSERT_TRUE(grads.ok()) << grads.status();
  std::vector<Tensor> outputs = {out, Cast(mask, DType::kF32), spatial, (*grads)[0], (*grads)[1]};

  Buffer sv = RandomBuffer(Shape{3, 5, 4}, 1), iv = RandomBuffer(Shape{3, 3, 4, 4}, 2);
  for (int f = 0; f < 4; ++f) sv.SetFromDouble((1 * 5 + 2) * 4 + f, 0.0);  // a masked step
  prelu->weights()[0].value = RandomBuffer(Shape{1, 4}, 3, 0.1, 0.5);
  std::vector<Buffer> results[2];
  for (int b = 0; b < 2; ++b) {
    auto exe = Executable::Compile(
        outputs, ExecutableOptions{.backend = b == 0 ? Backend::kJit : Backend::kInterp});
    ASSERT_TRUE(exe.ok()) << exe.status();
    Feeds feeds = LayerFeeds(g, /*training=*/true, /*step=*/12);
    feeds["seq"] = &sv;
    feeds["img"] = &iv;
    auto run = (*exe)->Run(feeds);
    ASSERT_TRUE(run.ok()) << run.status();
    results[b] = std::move(*run);
  }
  for (size_t o = 0; o < outputs.size(); ++o) {
    ASSERT_EQ(results[0][o].num_elements(), results[1][o].num_elements());
    for (int64_t i = 0; i < results[0][o].num_elements(); ++i) {
      const double jit = results[0][o].GetAsDouble(i), interp = results[1][o].GetAsDouble(i);
      ASSERT_NEAR(jit, interp, kBackendTolerance * std::max(1.0, std::abs(interp)))
          << "output " << o << " element " << i;
    }
  }
  // The dropout masks themselves are identical: zero in one, zero in the other.
  for (int64_t i = 0; i < results[0][2].num_elements(); ++i) {
    EXPECT_EQ(results[0][2].GetAsDouble(i) == 0.0, results[1][2].GetAsDouble(i) == 0.0) << i;
  }
  EXPECT_EQ(results[1][1].GetAsDouble(1 * 5 + 2), 0.0) << "the masked step stays masked";
}

}  // namespace
}  // namespace kiln
