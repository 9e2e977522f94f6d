// Lambda (spec 2.10): any callable over one tensor or a list, the context
// (masks, learning phase), declared output shapes, mask rules, variables,
// gradients, and the config factory's refusal.
#include "layers/lambda.h"

#include <cmath>

#include "autodiff/gradient_check.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/dense.h"
#include "layers/layer_registry.h"
#include "nlohmann/json.hpp"
#include "tests/layers/core_layers_testing.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using testing_core::BatchInput;
using testing_core::ErrorOf;
using testing_core::RandomBuffer;
using testing_core::RunLayers;

Tensor Cube(const Tensor& x) { return x * x * x; }

TEST(LambdaTest, AnyCallableOverOneTensorOrAList) {
  auto g = Graph::Create();
  Tensor a = BatchInput(g, "a", {3}), b = BatchInput(g, "b", {3});
  Tensor twice = MakeLayer<Lambda>([](const Tensor& x) { return x * 2.0; })(a);
  Tensor generic = MakeLayer<Lambda>([](auto x) { return x + 1.0; })(a);
  Tensor pointer = MakeLayer<Lambda>(&Cube)(a);
  Tensor sum = MakeLayer<Lambda>([](const std::vector<Tensor>& xs) { return xs[0] + xs[1]; })(
      {a, b});
  std::function<Tensor(const Tensor&)> fn = [](const Tensor& x) { return Exp(x); };
  Tensor exp = MakeLayer<Lambda>(fn)(a);
  Tensor list_of_one = MakeLayer<Lambda>([](const std::vector<Tensor>& xs) {
    return absl::StatusOr<Tensor>(xs[0] - 1.0);
  })(a);
  ASSERT_TRUE(list_of_one.ok()) << g->status();
  Buffer av = RandomBuffer(Shape{2, 3}, 1), bv = RandomBuffer(Shape{2, 3}, 2);
  auto out = RunLayers({twice, generic, pointer, sum, exp, list_of_one},
                       {{"a", &av}, {"b", &bv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int i = 0; i < 6; ++i) {
    const double x = av.GetAsDouble(i), y = bv.GetAsDouble(i);
    EXPECT_NEAR((*out)[0].GetAsDouble(i), 2 * x, 1e-6);
    EXPECT_NEAR((*out)[1].GetAsDouble(i), x + 1, 1e-6);
    EXPECT_NEAR((*out)[2].GetAsDouble(i), x * x * x, 1e-6);
    EXPECT_NEAR((*out)[3].GetAsDouble(i), x + y, 1e-6);
    EXPECT_NEAR((*out)[4].GetAsDouble(i), std::exp(x), 1e-5);
    EXPECT_NEAR((*out)[5].GetAsDouble(i), x - 1, 1e-6);
  }
  Feeds feeds = LayerFeeds(g, false);
  feeds["a"] = &av;
  feeds["b"] = &bv;
  auto r = CheckGradients(pointer * sum, {a, b}, feeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok) << r->worst;
}

TEST(LambdaTest, TheContextCarriesMasksAndTheLearningPhase) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {4});
  Tensor m = BatchInput(g, "m", {4}, DType::kBool);
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  // Zero the masked entries, and add 10 in training.
  auto layer = MakeLayer<Lambda>([](const Tensor& t, const LambdaContext& ctx) {
    Tensor y = Select(ctx.masks[0], t, ZerosLike(t));
    return Select(ctx.training, y + 10.0, y);
  });
  Tensor y = layer(x);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_FALSE(MaskOf(y).defined()) << "no mask rule: the mask is dropped";
  Buffer xv = RandomBuffer(Shape{1, 4}, 3);
  Buffer mv(DType::kBool, Shape{1, 4});
  for (int i = 0; i < 4; ++i) mv.SetFromDouble(i, i % 2);
  for (bool training : {false, true}) {
    auto out = RunLayers({y}, {{"x", &xv}, {"m", &mv}}, training);
    ASSERT_TRUE(out.ok()) << out.status();
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR((*out)[0].GetAsDouble(i),
                  (i % 2 ? xv.GetAsDouble(i) : 0.0) + (training ? 10 : 0), 1e-6);
    }
  }
}

TEST(LambdaTest, MaskRules) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {4, 2});
  Tensor m = BatchInput(g, "m", {4}, DType::kBool);
  g->Attachment<LayerGraphState>().masks[x.id()] = m.id();
  Tensor fixed = BatchInput(g, "fixed", {4}, DType::kBool);
  auto pass = [](const std::vector<Tensor>&, const std::vector<Tensor>& masks) {
    return masks[0];
  };
  auto all_true = [](const std::vector<Tensor>& xs, const std::vector<Tensor>&) {
    return Cast(ReduceMax(OnesLike(xs[0]), {2}), DType::kBool);
  };
  Tensor a = MakeLayer<Lambda>([](const Tensor& t) { return t * 3.0; },
                               LambdaOptions{.mask_function = pass})(x);
  Tensor b = MakeLayer<Lambda>([](const Tensor& t) { return t; },
                               LambdaOptions{.mask_function = all_true})(x);
  Tensor c = MakeLayer<Lambda>([](const Tensor& t) { return t; },
                               LambdaOptions{.mask = fixed})(x);
  ASSERT_TRUE(c.ok()) << g->status();
  EXPECT_EQ(MaskOf(a), m);
  ASSERT_TRUE(MaskOf(b).ok());
  EXPECT_EQ(MaskOf(b).shape(), (Shape{Shape::kBatch, 4}));
  EXPECT_EQ(MaskOf(c), fixed);
  EXPECT_NE(b, x) << "an input returned as is still gets an output node";
  // A fixed mask of another graph is refused.
  auto other = Graph::Create();
  Tensor x2 = BatchInput(other, "x", {4, 2});
  EXPECT_TRUE(MakeLayer<Lambda>([](const Tensor& t) { return t; },
                                LambdaOptions{.mask = fixed})(x2).poisoned());
  EXPECT_THAT(ErrorOf(x2), HasSubstr("the output mask belongs to another graph"));
}

TEST(LambdaTest, DeclaredOutputShapes) {
  auto g = Graph::Create();
  Tensor x = BatchInput(g, "x", {4, 2});
  auto flat = [](const Tensor& t) { return Reshape(t, Shape{t.shape().dim(0), 8}); };
  auto tuple = MakeLayer<Lambda>(flat, LambdaOptions{.output_shape = std::vector<int64_t>{8}});
  auto wildcard =
      MakeLayer<Lambda>(flat, LambdaOptions{.output_shape = std::vector<int64_t>{-1}});
  auto function = MakeLayer<Lambda>(
      flat, LambdaOptions{.output_shape_function = [](const std::vector<Shape>& in) {
        return absl::StatusOr<Shape>(Shape{in[0].dim(0), in[0].dim(1) * in[0].dim(2)});
      }});
  EXPECT_TRUE(tuple(x).ok() && wildcard(x).ok() && function(x).ok()) << g->status();
  auto declared = tuple->ComputeOutputShape({Shape{Shape::kBatch, 4, 2}});
  ASSERT_TRUE(declared.ok());
  EXPECT_EQ(*declared, (Shape{Shape::kBatch, 8}));
  auto computed = function->ComputeOutputShape({Shape{5, 4, 2}});
  ASSERT_TRUE(computed.ok());
  EXPECT_EQ(*computed, (Shape{5, 8}));
  auto none = MakeLayer<Lambda>(flat)->ComputeOutputShape({Shape{5, 4, 2}});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnimplemented);

  auto wrong = MakeLayer<Lambda>(flat, LambdaOptions{.output_shape = std::vector<int64_t>{4, 2}});
  EXPECT_TRUE(wrong(x).poisoned());
  EXPECT_THAT(ErrorOf(x), HasSubstr("[lambda] in layer 'lambda"));
  EXPECT_THAT(ErrorOf(x), HasSubstr("the function's output has shape [N,8] but the declared "
                                    "output shape is [N,4,2]"));
}

TEST(LambdaTest, Errors) {
  {
    auto g = Graph::Create();
    Tensor a = BatchInput(g, "a", {3}), b = BatchInput(g, "b", {3});
    EXPECT_TRUE(MakeLayer<Lambda>([](const Tensor& t) { return t; })({a, b}).poisoned());
    EXPECT_THAT(ErrorOf(a), HasSubstr("the function takes one tensor but the layer was called "
                                      "on 2"));
  }
  {
    auto g = Graph::Create();
    Tensor a = BatchInput(g, "a", {3});
    EXPECT_TRUE(MakeLayer<Lambda>([](const Tensor&) -> absl::StatusOr<Tensor> {
                  return absl::InvalidArgumentError("custom failure");
                })(a).poisoned());
    EXPECT_THAT(ErrorOf(a), HasSubstr("custom failure"));
  }
  {
    auto g = Graph::Create();
    Tensor a = BatchInput(g, "a", {3});
    EXPECT_TRUE(MakeLayer<Lambda>([](const Tensor&) { return Tensor(); })(a).poisoned());
    EXPECT_THAT(ErrorOf(a), HasSubstr("the function returned no tensor"));
  }
  {
    auto g = Graph::Create();
    Tensor a = BatchInput(g, "a", {3});
    EXPECT_TRUE(MakeLayer<Lambda>([](const Tensor& t) {
                  return t * Variable(t.graph(), "my_scale", DType::kF32, Shape{3});
                })(a).poisoned());
    EXPECT_THAT(ErrorOf(a), HasSubstr("the function created the variable 'my_scale'; a Lambda "
                                      "cannot create variables"));
  }
  {
    auto g = Graph::Create();
    Tensor a = BatchInput(g, "a", {3});
    EXPECT_TRUE(MakeLayer<Lambda>(LambdaFunction())(a).poisoned());
    EXPECT_THAT(ErrorOf(a), HasSubstr("the Lambda function is empty"));
  }
  {
    auto g = Graph::Create();
    Tensor a = BatchInput(g, "a", {3});
    EXPECT_TRUE(MakeLayer<Lambda>([](const Tensor& t) { return Reshape(t, Shape{5}); })(a)
                    .poisoned());
    EXPECT_THAT(ErrorOf(a), HasSubstr("[reshape]"));
  }
}

TEST(LambdaTest, MayCallLayersWhoseWeightsItReads) {
  auto g = Graph::Create();
  Tensor a = BatchInput(g, "a", {3});
  auto dense = MakeLayer<Dense>(2);
  Tensor y = MakeLayer<Lambda>([dense](const Tensor& t) { return dense(t) * 2.0; })(a);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 2}));
  Buffer av = RandomBuffer(Shape{2, 3}, 4);
  auto out = RunLayers({y}, {{"a", &av}});
  ASSERT_TRUE(out.ok()) << out.status();
  const Buffer& w = dense->weights()[0].value;
  for (int n = 0; n < 2; ++n) {
    for (int u = 0; u < 2; ++u) {
      double acc = 0;
      for (int i = 0; i < 3; ++i) acc += av.GetAsDouble(n * 3 + i) * w.GetAsDouble(i * 2 + u);
      EXPECT_NEAR((*out)[0].GetAsDouble(n * 2 + u), 2 * acc, 1e-5);
    }
  }
}

TEST(LambdaTest, CannotComeFromAKerasConfig) {
  auto layer = LayerFromKerasConfig(nlohmann::json::parse(
      R"({"class_name": "Lambda", "config": {"name": "l", "function": ["4wEA..."]}})"));
  ASSERT_FALSE(layer.ok());
  EXPECT_EQ(layer.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(layer.status().message()),
              HasSubstr("a Lambda layer cannot be loaded from a Keras config"));
}

}  // namespace
}  // namespace kiln
