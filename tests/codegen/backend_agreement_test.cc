// Whole models, forward and backward, on both backends: the JIT agrees with
// the interpreter within kBackendTolerance, the JIT gives the same bits for
// any thread count, and a re-run reuses every buffer.
#include <random>

#include "autodiff/grad.h"
#include "codegen/executable.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

Buffer Random(Shape shape, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  Buffer b(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, u(rng));
  return b;
}

struct Model {
  std::vector<Tensor> outputs;  // loss, then gradients
  std::vector<Buffer> values;
  Feeds feeds;
};

// 784-64-10 perceptron, softmax cross-entropy on labels.
Model Mlp() {
  Model m;
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 784});
  Tensor labels = Input(g, "labels", DType::kI32, Shape{Shape::kBatch});
  std::vector<Tensor> p = {Variable(g, "w1", DType::kF32, Shape{784, 64}),
                           Variable(g, "b1", DType::kF32, Shape{64}),
                           Variable(g, "w2", DType::kF32, Shape{64, 10}),
                           Variable(g, "b2", DType::kF32, Shape{10})};
  Tensor logits = MatMul(Relu(MatMul(x, p[0]) + p[1]), p[2]) + p[3];
  Tensor loss = Mean(-Gather(LogSoftmax(logits, -1), labels, 1), {0});
  m.outputs = {loss};
  absl::StatusOr<std::vector<Tensor>> grads = Grad(loss, p);
  EXPECT_TRUE(grads.ok()) << grads.status();
  if (grads.ok()) m.outputs.insert(m.outputs.end(), grads->begin(), grads->end());
  m.values.push_back(Random(Shape{32, 784}, 1));
  Buffer l(DType::kI32, Shape{32});
  for (int i = 0; i < 32; ++i) l.data<int32_t>()[i] = (i * 7) % 10;
  m.values.push_back(std::move(l));
  m.values.push_back(Random(Shape{784, 64}, 2, 0.08));
  m.values.push_back(Random(Shape{64}, 3, 0.1));
  m.values.push_back(Random(Shape{64, 10}, 4, 0.3));
  m.values.push_back(Random(Shape{10}, 5, 0.1));
  const char* names[] = {"x", "labels", "w1", "b1", "w2", "b2"};
  for (int i = 0; i < 6; ++i) m.feeds[names[i]] = &m.values[i];
  return m;
}

// conv 5x5 same -> relu -> max pool 2 -> flatten -> dense -> softmax CE.
Model ConvNet() {
  Model m;
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 12, 12, 1});
  Tensor labels = Input(g, "labels", DType::kI32, Shape{Shape::kBatch});
  std::vector<Tensor> p = {Variable(g, "k", DType::kF32, Shape{5, 5, 1, 8}),
                           Variable(g, "kb", DType::kF32, Shape{8}),
                           Variable(g, "w", DType::kF32, Shape{288, 10}),
                           Variable(g, "b", DType::kF32, Shape{10})};
  Tensor h = Relu(Conv(x, p[0], {1, 1}, {1, 1}, {2, 2}, {2, 2}) + p[1]);
  h = MaxPool(h, {2, 2}, {2, 2}, {0, 0}, {0, 0});
  Tensor logits = MatMul(Reshape(h, Shape{Shape::kBatch, 288}), p[2]) + p[3];
  Tensor loss = Mean(-Gather(LogSoftmax(logits, -1), labels, 1), {0});
  m.outputs = {loss};
  absl::StatusOr<std::vector<Tensor>> grads = Grad(loss, p);
  EXPECT_TRUE(grads.ok()) << grads.status();
  if (grads.ok()) m.outputs.insert(m.outputs.end(), grads->begin(), grads->end());
  m.values.push_back(Random(Shape{6, 12, 12, 1}, 11));
  Buffer l(DType::kI32, Shape{6});
  for (int i = 0; i < 6; ++i) l.data<int32_t>()[i] = (i * 3) % 10;
  m.values.push_back(std::move(l));
  m.values.push_back(Random(Shape{5, 5, 1, 8}, 12, 0.3));
  m.values.push_back(Random(Shape{8}, 13, 0.1));
  m.values.push_back(Random(Shape{288, 10}, 14, 0.1));
  m.values.push_back(Random(Shape{10}, 15, 0.1));
  const char* names[] = {"x", "labels", "k", "kb", "w", "b"};
  for (int i = 0; i < 6; ++i) m.feeds[names[i]] = &m.values[i];
  return m;
}

std::vector<Buffer> RunOn(const Model& m, Backend backend, int threads) {
  auto exe = Executable::Compile(m.outputs, {.backend = backend, .num_threads = threads});
  EXPECT_TRUE(exe.ok()) << exe.status();
  if (!exe.ok()) return {};
  auto out = (*exe)->Run(m.feeds);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *std::move(out) : std::vector<Buffer>{};
}

void ExpectAgree(const std::vector<Buffer>& jit, const std::vector<Buffer>& interp) {
  ASSERT_EQ(jit.size(), interp.size());
  for (size_t k = 0; k < jit.size(); ++k) {
    ASSERT_EQ(jit[k].shape(), interp[k].shape());
    int bad = 0;
    for (int64_t i = 0; i < jit[k].num_elements(); ++i) {
      const double a = jit[k].GetAsDouble(i), b = interp[k].GetAsDouble(i);
      if (std::abs(a - b) > kBackendTolerance * std::max(1.0, std::abs(b)) && bad++ < 3) {
        ADD_FAILURE() << "output " << k << " element " << i << ": jit " << a << " interp " << b;
      }
    }
  }
}

TEST(BackendAgreementTest, MlpForwardAndBackward) {
  Model m = Mlp();
  ExpectAgree(RunOn(m, Backend::kJit, 2), RunOn(m, Backend::kInterp, 2));
}

TEST(BackendAgreementTest, ConvNetForwardAndBackward) {
  Model m = ConvNet();
  ExpectAgree(RunOn(m, Backend::kJit, 2), RunOn(m, Backend::kInterp, 2));
}

TEST(BackendAgreementTest, JitResultsDoNotDependOnTheThreadCount) {
  for (Model (*make)() : {Mlp, ConvNet}) {
    const Model m = make();
    std::vector<Buffer> one = RunOn(m, Backend::kJit, 1);
    std::vector<Buffer> three = RunOn(m, Backend::kJit, 3);
    ASSERT_EQ(one.size(), three.size());
    for (size_t k = 0; k < one.size(); ++k) EXPECT_TRUE(one[k].BitwiseEquals(three[k])) << k;
  }
}

TEST(BackendAgreementTest, ReRunReusesTheOutputBuffers) {
  Model m = Mlp();
  auto exe = Executable::Compile(m.outputs, {.backend = Backend::kJit});
  ASSERT_TRUE(exe.ok()) << exe.status();
  std::vector<Buffer> out;
  ASSERT_TRUE((*exe)->RunInto(m.feeds, out).ok());
  std::vector<const void*> first;
  for (const Buffer& b : out) first.push_back(b.raw());
  ASSERT_TRUE((*exe)->RunInto(m.feeds, out).ok());
  for (size_t k = 0; k < out.size(); ++k) EXPECT_EQ(out[k].raw(), first[k]);
}

}  // namespace
}  // namespace kiln
