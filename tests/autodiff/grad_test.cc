// Reverse-mode autodiff: composite graphs against finite differences, fan-out
// accumulation, pruning, gradients of gradients and the error cases.
#include "autodiff/grad.h"

#include <random>

#include "autodiff/gradient_check.h"
#include "graph/evaluate.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

Buffer Random(Shape shape, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Buffer b(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, u(rng));
  return b;
}

// A two-layer perceptron with softmax cross-entropy on integer labels:
// every weight's gradient against central differences.
TEST(GradTest, MlpWithSoftmaxCrossEntropyMatchesFiniteDifferences) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 5});
  Tensor labels = Input(g, "labels", DType::kI32, Shape{Shape::kBatch});
  Tensor w1 = Variable(g, "w1", DType::kF32, Shape{5, 7});
  Tensor b1 = Variable(g, "b1", DType::kF32, Shape{7});
  Tensor w2 = Variable(g, "w2", DType::kF32, Shape{7, 4});
  Tensor b2 = Variable(g, "b2", DType::kF32, Shape{4});
  Tensor h = Tanh(MatMul(x, w1) + b1);
  Tensor logits = MatMul(h, w2) + b2;
  Tensor nll = -Gather(LogSoftmax(logits, -1), labels, 1);
  Tensor loss = Mean(nll, {0});
  ASSERT_TRUE(loss.ok()) << g->status();

  Buffer xv = Random(Shape{6, 5}, 1);
  Buffer lv = Buffer::FromVector<int32_t>(Shape{6}, {0, 3, 1, 2, 3, 0});
  Buffer w1v = Random(Shape{5, 7}, 2), b1v = Random(Shape{7}, 3);
  Buffer w2v = Random(Shape{7, 4}, 4), b2v = Random(Shape{4}, 5);
  Feeds feeds = {{"x", &xv}, {"labels", &lv}, {"w1", &w1v},
                 {"b1", &b1v}, {"w2", &w2v}, {"b2", &b2v}};
  absl::StatusOr<GradCheckResult> r = CheckGradients(loss, {w1, b1, w2, b2, x}, feeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok) << r->worst;
  EXPECT_GT(r->checked, 60);
}

TEST(GradTest, AccumulatesFanOut) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{3});
  // y = x * x + exp(x): x is read three times.
  Tensor loss = ReduceSum(x * x + Exp(x), {0});
  absl::StatusOr<std::vector<Tensor>> grads = Grad(loss, {x});
  ASSERT_TRUE(grads.ok()) << grads.status();
  Buffer xv = Buffer::FromVector<float>(Shape{3}, {0.0f, 1.0f, -2.0f});
  auto out = EvaluateTensors({(*grads)[0]}, {{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int i = 0; i < 3; ++i) {
    const double v = xv.GetAsDouble(i);
    EXPECT_NEAR((*out)[0].GetAsDouble(i), 2 * v + std::exp(v), 1e-5);
  }
}

TEST(GradTest, PrunesWhatNeedsNoGradient) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{4});
  Tensor c = Input(g, "c", DType::kF32, Shape{4});
  Tensor side = Exp(Exp(c));  // does not depend on x
  Tensor loss = ReduceSum(x * side, {0});
  const int before = g->num_nodes();
  ASSERT_TRUE(Grad(loss, {x}).ok());
  // d/dx = ones * side, reduced: no gradient nodes for the exp chain of c.
  for (NodeId id = before; id < g->num_nodes(); ++id) {
    EXPECT_NE(g->node(id).op->name, "exp") << "differentiated a branch that needs no gradient";
  }
}

TEST(GradTest, GradientOfGradientOfElementwiseOps) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{5});
  Tensor y = ReduceSum(Tanh(x) * Exp(x), {0});
  absl::StatusOr<std::vector<Tensor>> first = Grad(y, {x});
  ASSERT_TRUE(first.ok()) << first.status();
  // The gradient of sum(dy/dx) is the row sums of the Hessian (diagonal here).
  Buffer xv = Random(Shape{5}, 7);
  Feeds feeds = {{"x", &xv}};
  absl::StatusOr<GradCheckResult> r = CheckGradients((*first)[0], {x}, feeds);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok) << r->worst;
}

TEST(GradTest, UnreachedWrtGetsZeros) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{2});
  Tensor z = Input(g, "z", DType::kF32, Shape{2, 3});
  Tensor loss = ReduceSum(Exp(x), {0});
  absl::StatusOr<std::vector<Tensor>> grads = Grad(loss, {z});
  ASSERT_TRUE(grads.ok());
  Buffer xv = Random(Shape{2}, 1), zv = Random(Shape{2, 3}, 2);
  auto out = EvaluateTensors({(*grads)[0]}, {{"x", &xv}, {"z", &zv}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*out)[0].GetAsDouble(i), 0.0);
}

struct GradError {
  const char* label;
  std::function<absl::Status()> run;
  const char* message;
};

TEST(GradTest, ErrorTable) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{3});
  Tensor i = Input(g, "i", DType::kI32, Shape{3});
  auto other = Graph::Create();
  Tensor o = Input(other, "o", DType::kF32, Shape{3});
  const std::vector<GradError> table = {
      {"integer loss", [&] { return Grad(ReduceSum(x, {0}) , {i}).status(); },
       "cannot differentiate with respect to i32[3]"},
      {"other graph", [&] { return Grad(ReduceSum(x, {0}), {o}).status(); },
       "must come from the loss's graph"},
      {"integer loss value", [&] { return Grad(Cast(i, DType::kI32), {x}).status(); },
       "the loss must be f32"},
      {"bad seed", [&] { return Grad(Exp(x), {x}, Exp(o)).status(); },
       "the seed must be a tensor of shape [3]"},
      {"poisoned", [&] {
         auto h = Graph::Create();
         Tensor a = Input(h, "a", DType::kF32, Shape{3});
         Tensor bad = a + Input(h, "b", DType::kF32, Shape{4});
         return Grad(bad, {a}).status();
       },
       "do not broadcast"},
  };
  for (const GradError& e : table) {
    absl::Status s = e.run();
    EXPECT_FALSE(s.ok()) << e.label;
    EXPECT_NE(s.message().find(e.message), absl::string_view::npos)
        << e.label << ": " << s;
  }
}

}  // namespace
}  // namespace kiln
