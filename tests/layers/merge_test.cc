// The merge layers (spec 2.18): elementwise merges with rank alignment and
// broadcasting, the tie rule of Maximum/Minimum gradients, Concatenate and
// Dot against index loops, mask combination, configs and errors.
#include "layers/merge.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "autodiff/grad.h"
#include "autodiff/gradient_check.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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

void ExpectGradientsOk(const Tensor& y, const std::vector<Tensor>& xs,
                       const std::vector<std::pair<std::string, const Buffer*>>& inputs) {
  Feeds feeds = LayerFeeds(y.graph(), false);
  for (const auto& [name, b] : inputs) feeds[name] = b;
  auto r = CheckGradients(y, xs, feeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok) << r->worst;
}

TEST(MergeTest, ElementwiseMergesBroadcastAfterInsertingAxesAtOne) {
  auto g = Graph::Create();
  Tensor a = BatchInput(g, "a", {4, 3});
  Tensor b = BatchInput(g, "b", {3});      // -> [N, 1, 3]
  Tensor c = BatchInput(g, "c", {4, 1});
  std::vector<Tensor> ys = {MakeLayer<AddLayer>()({a, b, c}), MakeLayer<Subtract>()({a, b}),
                            MakeLayer<Multiply>()({a, b, c}), MakeLayer<Average>()({a, b, c}),
                            MakeLayer<MaximumLayer>()({a, b, c}),
                            MakeLayer<MinimumLayer>()({a, b, c})};
  for (const Tensor& y : ys) {
    ASSERT_TRUE(y.ok()) << g->status();
    EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 4, 3}));
  }
  Buffer av = RandomBuffer(Shape{2, 4, 3}, 1), bv = RandomBuffer(Shape{2, 3}, 2);
  Buffer cv = RandomBuffer(Shape{2, 4, 1}, 3);
  const std::vector<std::pair<std::string, const Buffer*>> in = {
      {"a", &av}, {"b", &bv}, {"c", &cv}};
  auto out = RunLayers(ys, in);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int n = 0; n < 2; ++n) {
    for (int t = 0; t < 4; ++t) {
      for (int f = 0; f < 3; ++f) {
        const int64_t i = (n * 4 + t) * 3 + f;
        const double x0 = av.GetAsDouble(i), x1 = bv.GetAsDouble(n * 3 + f);
        const double x2 = cv.GetAsDouble(n * 4 + t);
        EXPECT_NEAR((*out)[0].GetAsDouble(i), x0 + x1 + x2, 1e-6);
        EXPECT_NEAR((*out)[1].GetAsDouble(i), x0 - x1, 1e-6);
        EXPECT_NEAR((*out)[2].GetAsDouble(i), x0 * x1 * x2, 1e-6);
        EXPECT_NEAR((*out)[3].GetAsDouble(i), (x0 + x1 + x2) / 3, 1e-6);
        EXPECT_EQ((*out)[4].GetAsDouble(i), std::max({x0, x1, x2}));
        EXPECT_EQ((*out)[5].GetAsDouble(i), std::min({x0, x1, x2}));
      }
    }
  }
  for (const Tensor& y : ys) ExpectGradientsOk(y, {a, c}, in);
}

TEST(MergeTest, OneInputIsAccepted) {
  auto g = Graph::Create();
  Tensor a = BatchInput(g, "a", {3});
  Tensor y = MakeLayer<AddLayer>()(std::vector<Tensor>{a});
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_NE(y, a);
  EXPECT_EQ(y.shape(), a.shape());
}

TEST(MergeTest, OnATieTheLeftOperandGetsTheWholeGradient) {
  auto g = Graph::Create();
  Tensor a = BatchInput(g, "a", {3});
  Tensor b = BatchInput(g, "b", {3});
  Tensor c = BatchInput(g, "c", {3});
  Buffer same = testing_core::FromValues(Shape{1, 3}, {0.5, -1.0, 2.0});
  for (int which = 0; which < 2; ++which) {
    Tensor y = which == 0 ? MakeLayer<MaximumLayer>()({a, b, c})
                          : MakeLayer<MinimumLayer>()({a, b, c});
    auto grads = Grad(ReduceSum(y, {0, 1}), {a, b, c});
    ASSERT_TRUE(grads.ok()) << grads.status();
    auto out = RunLayers(*grads, {{"a", &same}, {"b", &same}, {"c", &same}});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(testing_core::Values((*out)[0]), (std::vector<double>{1, 1, 1}));
    EXPECT_EQ(testing_core::Values((*out)[1]), (std::vector<double>{0, 0, 0}));
    EXPECT_EQ(testing_core::Values((*out)[2]), (std::vector<double>{0, 0, 0}));
  }
}

TEST(MergeTest, ElementwiseMasksAreAndedAndMissingOnesIgnored) {
  auto g = Graph::Create();
  Tensor a = BatchInput(g, "a", {4, 2}), b = BatchInput(g, "b", {4, 2});
  Tensor c = BatchInput(g, "c", {4, 2});
  Tensor ma = BatchInput(g, "ma", {4}, DType::kBool), mb = BatchInput(g, "mb", {4}, DType::kBool);
  auto& masks = g->Attachment<LayerGraphState>().masks;
  masks[a.id()] = ma.id();
  masks[b.id()] = mb.id();
  Tensor none = MakeLayer<AddLayer>()({c, c});
  Tensor one = MakeLayer<Multiply>()({a, c});
  Tensor both = MakeLayer<MaximumLayer>()({a, c, b});
  ASSERT_TRUE(both.ok()) << g->status();
  EXPECT_FALSE(MaskOf(none).defined());
  EXPECT_EQ(MaskOf(one), ma);
  ASSERT_TRUE(MaskOf(both).ok());
  Buffer mav(DType::kBool, Shape{1, 4}), mbv(DType::kBool, Shape{1, 4});
  const int va[] = {1, 1, 0, 0}, vb[] = {1, 0, 1, 0};
  for (int i = 0; i < 4; ++i) {
    mav.SetFromDouble(i, va[i]);
    mbv.SetFromDouble(i, vb[i]);
  }
  auto out = RunLayers({MaskOf(both)}, {{"ma", &mav}, {"mb", &mbv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*out)[0].GetAsDouble(i), va[i] && vb[i]) << i;
}

TEST(MergeTest, ElementwiseErrors) {
  auto error = [](auto layer, std::vector<std::vector<int64_t>> shapes, bool batch = true) {
    auto g = Graph::Create();
    std::vector<Tensor> xs;
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (!batch) {
        xs.push_back(Input(g, absl::StrCat("x", i), DType::kF32, Shape(shapes[i])));
      } else {
        xs.push_back(BatchInput(g, absl::StrCat("x", i), shapes[i]));
      }
    }
    EXPECT_TRUE(layer(xs).poisoned());
    return std::string(g->status().message());
  };
  EXPECT_THAT(error(MakeLayer<Subtract>(), {{3}, {3}, {3}}),
              HasSubstr("a Subtract layer should be called on exactly 2 inputs, got 3"));
  EXPECT_THAT(error(MakeLayer<Subtract>(), {{3}}), HasSubstr("exactly 2 inputs, got 1"));
  EXPECT_THAT(error(MakeLayer<AddLayer>(), {{4, 3}, {4}}),
              HasSubstr("inputs have incompatible shapes: [N,4,3], [N,4]"));
  EXPECT_THAT(error(MakeLayer<Multiply>(), {{2, 3}, {5, 3}}), HasSubstr("[multiply] in layer"));
  EXPECT_THAT(error(MakeLayer<Average>(), {{2, 3}, {3, 3}}, false),
              HasSubstr("cannot merge tensors with different batch sizes, got shapes [2,3], "
                        "[3,3]"));
  auto g = Graph::Create();
  Tensor n = BatchInput(g, "n", {3}), fixed = Input(g, "f", DType::kF32, Shape{4, 3});
  EXPECT_TRUE(MakeLayer<MinimumLayer>()({n, fixed}).poisoned());
  EXPECT_THAT(std::string(g->status().message()),
              HasSubstr("cannot merge the symbolic batch N with a fixed batch size"));
}

TEST(ConcatenateTest, JoinsAlongTheAxis) {
  auto g = Graph::Create();
  Tensor a = BatchInput(g, "a", {2, 3}), b = BatchInput(g, "b", {2, 5});
  Tensor c = BatchInput(g, "c", {4, 3});
  Tensor last = MakeLayer<Concatenate>()({a, b});
  Tensor time = MakeLayer<Concatenate>(1)({a, c});
  Tensor neg = MakeLayer<Concatenate>(-2)({c, a});
  ASSERT_TRUE(neg.ok()) << g->status();
  EXPECT_EQ(last.shape(), (Shape{Shape::kBatch, 2, 8}));
  EXPECT_EQ(time.shape(), (Shape{Shape::kBatch, 6, 3}));
  EXPECT_EQ(neg.shape(), (Shape{Shape::kBatch, 6, 3}));
  Buffer av = RandomBuffer(Shape{2, 2, 3}, 1), bv = RandomBuffer(Shape{2, 2, 5}, 2);
  Buffer cv = RandomBuffer(Shape{2, 4, 3}, 3);
  const std::vector<std::pair<std::string, const Buffer*>> in = {
      {"a", &av}, {"b", &bv}, {"c", &cv}};
  auto out = RunLayers({last, time}, in);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int n = 0; n < 2; ++n) {
    for (int t = 0; t < 2; ++t) {
      for (int f = 0; f < 8; ++f) {
        const double want = f < 3 ? av.GetAsDouble((n * 2 + t) * 3 + f)
                                  : bv.GetAsDouble((n * 2 + t) * 5 + f - 3);
        EXPECT_EQ((*out)[0].GetAsDouble((n * 2 + t) * 8 + f), want);
      }
    }
    for (int t = 0; t < 6; ++t) {
      for (int f = 0; f < 3; ++f) {
        const double want = t < 2 ? av.GetAsDouble((n * 2 + t) * 3 + f)
                                  : cv.GetAsDouble((n * 4 + t - 2) * 3 + f);
        EXPECT_EQ((*out)[1].GetAsDouble((n * 6 + t) * 3 + f), want);
      }
    }
  }
  ExpectGradientsOk(last, {a, b}, in);
}

TEST(ConcatenateTest, MasksAreConcatenatedThenAndedOverTheLastAxis) {
  auto g = Graph::Create();
  Tensor a = BatchInput(g, "a", {3, 2}), b = BatchInput(g, "b", {3, 4});
  Tensor c = BatchInput(g, "c", {2, 2});
  Tensor ma = BatchInput(g, "ma", {3}, DType::kBool), mb = BatchInput(g, "mb", {3}, DType::kBool);
  auto& masks = g->Attachment<LayerGraphState>().masks;
  masks[a.id()] = ma.id();
  masks[b.id()] = mb.id();
  Tensor features = MakeLayer<Concatenate>()({a, b});     // both masked, axis -1
  Tensor steps = MakeLayer<Concatenate>(1)({a, c});       // c unmasked, time axis
  Tensor plain = MakeLayer<Concatenate>()({c, c});
  ASSERT_TRUE(steps.ok()) << g->status();
  EXPECT_FALSE(MaskOf(plain).defined());
  ASSERT_TRUE(MaskOf(features).ok());
  ASSERT_TRUE(MaskOf(steps).ok());
  EXPECT_EQ(MaskOf(features).shape(), (Shape{Shape::kBatch, 3}));
  EXPECT_EQ(MaskOf(steps).shape(), (Shape{Shape::kBatch, 5}));
  Buffer mav(DType::kBool, Shape{1, 3}), mbv(DType::kBool, Shape{1, 3});
  const int va[] = {1, 0, 1}, vb[] = {1, 1, 0};
  for (int i = 0; i < 3; ++i) {
    mav.SetFromDouble(i, va[i]);
    mbv.SetFromDouble(i, vb[i]);
  }
  auto out = RunLayers({MaskOf(features), MaskOf(steps)}, {{"ma", &mav}, {"mb", &mbv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int t = 0; t < 3; ++t) EXPECT_EQ((*out)[0].GetAsDouble(t), va[t] && vb[t]);
  EXPECT_EQ(testing_core::Values((*out)[1]), (std::vector<double>{1, 0, 1, 1, 1}));
}

TEST(ConcatenateTest, Errors) {
  auto error = [](int axis, std::vector<std::vector<int64_t>> shapes) {
    auto g = Graph::Create();
    std::vector<Tensor> xs;
    for (size_t i = 0; i < shapes.size(); ++i) {
      xs.push_back(BatchInput(g, absl::StrCat("x", i), shapes[i]));
    }
    EXPECT_TRUE(MakeLayer<Concatenate>(axis)(xs).poisoned());
    return std::string(g->status().message());
  };
  EXPECT_THAT(error(-1, {{2, 3}, {4, 3}}),
              HasSubstr("a Concatenate layer requires inputs with matching shapes except for "
                        "the concatenation axis -1, got shapes [N,2,3], [N,4,3]"));
  EXPECT_THAT(error(1, {{2, 3}, {2}}), HasSubstr("matching shapes"));
  EXPECT_THAT(error(3, {{2, 3}, {2, 3}}),
              HasSubstr("axis 3 is out of range for inputs of rank 3"));
  EXPECT_THAT(error(0, {{2}, {2}}), HasSubstr("cannot concatenate along the batch dimension N"));
}

TEST(DotTest, BatchedDotProductsAgainstLoops) {
  auto g = Graph::Create();
  Tensor u = BatchInput(g, "u", {4}), v = BatchInput(g, "v", {4});
  Tensor p = BatchInput(g, "p", {5, 2}), q = BatchInput(g, "q", {2, 5});
  Tensor m = BatchInput(g, "m", {4}, DType::kBool);
  g->Attachment<LayerGraphState>().masks[u.id()] = m.id();
  Tensor uv = MakeLayer<Dot>(1)({u, v});
  Tensor pq = MakeLayer<Dot>(std::vector<int>{1, 2})({p, q});
  Tensor neg = MakeLayer<Dot>(std::vector<int>{-1, -2})({p, q});  // axes (2, 1)
  Tensor cos = MakeLayer<Dot>(-1, DotOptions{.normalize = true})({u, v});
  ASSERT_TRUE(cos.ok()) << g->status();
  EXPECT_EQ(uv.shape(), (Shape{Shape::kBatch, 1}));
  EXPECT_EQ(pq.shape(), (Shape{Shape::kBatch, 2, 2}));
  EXPECT_EQ(neg.shape(), (Shape{Shape::kBatch, 5, 5}));
  EXPECT_FALSE(MaskOf(uv).defined()) << "Dot drops masks";
  Buffer uvv = RandomBuffer(Shape{3, 4}, 1), vvv = RandomBuffer(Shape{3, 4}, 2);
  Buffer pv = RandomBuffer(Shape{3, 5, 2}, 3), qv = RandomBuffer(Shape{3, 2, 5}, 4);
  const std::vector<std::pair<std::string, const Buffer*>> in = {
      {"u", &uvv}, {"v", &vvv}, {"p", &pv}, {"q", &qv}};
  auto out = RunLayers({uv, pq, neg, cos}, in);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int n = 0; n < 3; ++n) {
    double dot = 0, nu = 0, nv = 0;
    for (int k = 0; k < 4; ++k) {
      const double a = uvv.GetAsDouble(n * 4 + k), b = vvv.GetAsDouble(n * 4 + k);
      dot += a * b;
      nu += a * a;
      nv += b * b;
    }
    EXPECT_NEAR((*out)[0].GetAsDouble(n), dot, 1e-5);
    EXPECT_NEAR((*out)[3].GetAsDouble(n), dot / std::sqrt(nu) / std::sqrt(nv), 1e-5);
    for (int i = 0; i < 2; ++i) {  // pq[n,i,j] = sum_k p[n,k,i] q[n,j,k]
      for (int j = 0; j < 2; ++j) {
        double acc = 0;
        for (int k = 0; k < 5; ++k) {
          acc += pv.GetAsDouble((n * 5 + k) * 2 + i) * qv.GetAsDouble((n * 2 + j) * 5 + k);
        }
        EXPECT_NEAR((*out)[1].GetAsDouble((n * 2 + i) * 2 + j), acc, 1e-5);
      }
    }
    for (int i = 0; i < 5; ++i) {  // neg[n,i,j] = sum_k p[n,i,k] q[n,k,j]
      for (int j = 0; j < 5; ++j) {
        double acc = 0;
        for (int k = 0; k < 2; ++k) {
          acc += pv.GetAsDouble((n * 5 + i) * 2 + k) * qv.GetAsDouble((n * 2 + k) * 5 + j);
        }
        EXPECT_NEAR((*out)[2].GetAsDouble((n * 5 + i) * 5 + j), acc, 1e-5);
      }
    }
  }
  ExpectGradientsOk(pq, {p, q}, in);
  ExpectGradientsOk(cos, {u, v}, in);
}

TEST(DotTest, Errors) {
  auto error = [](auto layer, std::vector<std::vector<int64_t>> shapes) {
    auto g = Graph::Create();
    std::vector<Tensor> xs;
    for (size_t i = 0; i < shapes.size(); ++i) {
      xs.push_back(BatchInput(g, absl::StrCat("x", i), shapes[i]));
    }
    EXPECT_TRUE(layer(xs).poisoned());
    return std::string(g->status().message());
  };
  EXPECT_THAT(error(MakeLayer<Dot>(1), {{3}, {4}}),
              HasSubstr("incompatible input shapes: axis values 3 (at axis 1) != 4 (at axis 1), "
                        "full input shapes [N,3], [N,4]"));
  EXPECT_THAT(error(MakeLayer<Dot>(1), {{3}, {3}, {3}}),
              HasSubstr("a Dot layer should be called on a list of 2 inputs, got 3"));
  EXPECT_THAT(error(MakeLayer<Dot>(std::vector<int>{1, 2, 1}), {{3}, {3}}),
              HasSubstr("axes: it should contain two elements, got (1, 2, 1)"));
  EXPECT_THAT(error(MakeLayer<Dot>(0), {{3}, {3}}),
              HasSubstr("the batch axis cannot be contracted"));
  EXPECT_THAT(error(MakeLayer<Dot>(2), {{3}, {3}}), HasSubstr("out of range"));
}

std::string ConfigError(const char* text) {
  auto l = LayerFromKerasConfig(nlohmann::json::parse(text));
  return l.ok() ? std::string("ok") : std::string(l.status().message());
}

TEST(MergeTest, FromConfig) {
  using nlohmann::json;
  for (const char* name : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}) {
    auto layer = LayerFromKerasConfig(json{{"class_name", name},
        {"config", {{"name", "merge"}, {"trainable", true}, {"dtype", "float32"}}}});
    ASSERT_TRUE(layer.ok()) << layer.status();
    EXPECT_EQ((*layer)->class_name(), name);
    EXPECT_NE(dynamic_cast<ElementwiseMerge*>(layer->get()), nullptr);
  }
  auto concat = LayerFromKerasConfig(json::parse(
      R"({"class_name": "Concatenate", "config": {"name": "c", "axis": 1}})"));
  ASSERT_TRUE(concat.ok()) << concat.status();
  EXPECT_EQ(dynamic_cast<Concatenate*>(concat->get())->axis(), 1);
  auto dot = LayerFromKerasConfig(json::parse(
      R"({"class_name": "Dot", "config": {"axes": [1, 2], "normalize": true}})"));
  ASSERT_TRUE(dot.ok()) << dot.status();
  EXPECT_EQ(dynamic_cast<Dot*>(dot->get())->axes(), (std::vector<int>{1, 2}));
  EXPECT_TRUE(dynamic_cast<Dot*>(dot->get())->normalize());
  auto dot1 = LayerFromKerasConfig(json::parse(R"({"class_name": "Dot", "config": {"axes": -1}})"));
  ASSERT_TRUE(dot1.ok()) << dot1.status();
  EXPECT_EQ(dynamic_cast<Dot*>(dot1->get())->axes(), (std::vector<int>{-1, -1}));
  EXPECT_FALSE(dynamic_cast<Dot*>(dot1->get())->normalize());

  EXPECT_THAT(ConfigError(R"({"class_name": "Add", "config": {"axis": 1}})"),
              HasSubstr("unexpected argument 'axis'"));
  EXPECT_THAT(ConfigError(R"({"class_name": "Concatenate", "config": {"axis": "x"}})"),
              HasSubstr("argument 'axis' must be an integer"));
  EXPECT_THAT(ConfigError(R"({"class_name": "Dot", "config": {}})"),
              HasSubstr("missing required argument 'axes'"));
  EXPECT_THAT(ConfigError(R"({"class_name": "Dot", "config": {"axes": "1"}})"),
              HasSubstr("argument 'axes' must be a list or an int"));
  EXPECT_THAT(ConfigError(R"({"class_name": "Dot", "config": {"axes": [1]}})"),
              HasSubstr("it should contain two elements, got (1)"));
  EXPECT_THAT(ConfigError(R"({"class_name": "Dot", "config": {"axes": [1, 1.5]}})"),
              HasSubstr("argument 'axes' list elements must be integers"));
  EXPECT_THAT(ConfigError(R"({"class_name": "Dot", "config": {"axes": 1, "normalize": 1}})"),
              HasSubstr("argument 'normalize' must be true or false"));
}

}  // namespace
}  // namespace kiln
