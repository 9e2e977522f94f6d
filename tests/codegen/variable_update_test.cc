// Programs with in-place variable updates, on both backends: new values are
// written into the variables' buffers, every read in the run sees the old
// value (also when a later kernel reads it, or the update is an index map),
// a variable can be updated and output, re-runs reuse every buffer, and
// misuse gives a clear Status.
#include <string>

#include "codegen/executable.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

class VariableUpdateTest : public ::testing::TestWithParam<Backend> {
 protected:
  ExecutableOptions Options() const { return {.backend = GetParam()}; }
  // "in place" / "copied" for the JIT's plan of variable `name` at batch 1.
  static std::string HowUpdated(Executable& exe, const std::string& name) {
    absl::StatusOr<std::string> text = exe.ProgramText(1);
    if (!text.ok()) return text.status().ToString();
    const std::string key = "update '" + name + "' ";
    const size_t at = text->find(key);
    if (at == std::string::npos) return "?";
    return text->substr(at + key.size(), text->find('\n', at) - at - key.size());
  }
};

Buffer Matrix(int64_t rows, int64_t cols, double start) {
  Buffer b(DType::kF32, Shape{rows, cols});
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, start + 0.25 * i);
  return b;
}

TEST_P(VariableUpdateTest, SgdStepReadsOldWeightsAndWritesNewOnes) {
  // More columns than a rows-in-lanes GEMM has, so the update is an epilogue.
  constexpr int kCols = 5;
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3});
  Tensor w = Variable(g, "w", DType::kF32, Shape{3, kCols});
  Tensor y = MatMul(x, w);
  Tensor loss = ReduceSum(y * y, {0, 1});
  // d loss / d w = 2 x^T (x w), written by hand.
  Tensor grad = MatMul(x, y * 2.0, /*transpose_a=*/true);
  auto exe = Executable::Compile({loss}, Options(), {{w, w - grad * 0.01}});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer xv = Matrix(2, 3, -0.5);
  Buffer wv = Matrix(3, kCols, 0.1);
  for (int step = 0; step < 3; ++step) {
    const Buffer old = wv.Clone();
    auto out = (*exe)->Run({{"x", &xv}}, {{"w", &wv}});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), 1u);
    double expected_loss = 0;
    double yv[2][kCols];
    for (int r = 0; r < 2; ++r) {
      for (int c = 0; c < kCols; ++c) {
        yv[r][c] = 0;
        for (int k = 0; k < 3; ++k) {
          yv[r][c] += xv.GetAsDouble(r * 3 + k) * old.GetAsDouble(k * kCols + c);
        }
        expected_loss += yv[r][c] * yv[r][c];
      }
    }
    EXPECT_NEAR((*out)[0].GetAsDouble(0), expected_loss, 1e-4 * (1 + expected_loss));
    for (int k = 0; k < 3; ++k) {
      for (int c = 0; c < kCols; ++c) {
        double grad_kc = 0;
        for (int r = 0; r < 2; ++r) grad_kc += 2 * xv.GetAsDouble(r * 3 + k) * yv[r][c];
        EXPECT_NEAR(wv.GetAsDouble(k * kCols + c),
                    old.GetAsDouble(k * kCols + c) - 0.01 * grad_kc, 1e-5);
      }
    }
  }
  // The update is the epilogue of the gradient GEMM, which stores partial
  // sums before it reads w: it cannot write over w.
  if (GetParam() == Backend::kJit) {
    EXPECT_EQ(HowUpdated(**exe, "w"), "copied");
  }
}

TEST_P(VariableUpdateTest, AnElementwiseUpdateKernelWritesInPlace) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3});
  Tensor w = Variable(g, "w", DType::kF32, Shape{3});
  Tensor grad = ReduceSum(x * x * w * 2.0, {0});  // of sum((x w)^2), by hand
  auto exe = Executable::Compile({ReduceSum(Square(x * w), {0, 1})}, Options(),
                                 {{w, w - grad * 0.1}});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer xv = Matrix(4, 3, -0.5);
  Buffer wv = Buffer::FromVector<float>(Shape{3}, {0.5f, -1.0f, 2.0f});
  const Buffer old = wv.Clone();
  auto out = (*exe)->Run({{"x", &xv}}, {{"w", &wv}});
  ASSERT_TRUE(out.ok()) << out.status();
  double loss = 0;
  for (int c = 0; c < 3; ++c) {
    double grad_c = 0;
    for (int r = 0; r < 4; ++r) {
      const double xr = xv.GetAsDouble(r * 3 + c);
      grad_c += 2 * xr * xr * old.GetAsDouble(c);
      loss += xr * xr * old.GetAsDouble(c) * old.GetAsDouble(c);
    }
    EXPECT_NEAR(wv.GetAsDouble(c), old.GetAsDouble(c) - 0.1 * grad_c, 1e-5);
  }
  EXPECT_NEAR((*out)[0].GetAsDouble(0), loss, 1e-5 * loss);
  if (GetParam() == Backend::kJit) {
    EXPECT_EQ(HowUpdated(**exe, "w"), "in place");
  }
}

TEST_P(VariableUpdateTest, TwoUpdatesInOneKernelReadEachOthersOldValues) {
  auto g = Graph::Create();
  Tensor m = Variable(g, "m", DType::kF32, Shape{37});
  Tensor v = Variable(g, "v", DType::kF32, Shape{37});
  auto exe = Executable::Compile({}, Options(), {{m, m * 0.9 + v * 0.1}, {v, v * 0.5 + m * 0.5}});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer mv(DType::kF32, Shape{37}), vv(DType::kF32, Shape{37});
  for (int i = 0; i < 37; ++i) {
    mv.SetFromDouble(i, i);
    vv.SetFromDouble(i, 100 - 2 * i);
  }
  ASSERT_TRUE((*exe)->Run({}, {{"m", &mv}, {"v", &vv}}).ok());
  for (int i = 0; i < 37; ++i) {
    EXPECT_NEAR(mv.GetAsDouble(i), 0.9 * i + 0.1 * (100 - 2 * i), 1e-4);
    EXPECT_NEAR(vv.GetAsDouble(i), 0.5 * (100 - 2 * i) + 0.5 * i, 1e-4);
  }
  if (GetParam() == Backend::kJit) {
    EXPECT_EQ(HowUpdated(**exe, "m"), "in place");
    EXPECT_EQ(HowUpdated(**exe, "v"), "in place");
  }
}

TEST_P(VariableUpdateTest, AKernelAfterTheUpdateStillReadsTheOldValue) {
  auto g = Graph::Create();
  Tensor w = Variable(g, "w", DType::kF32, Shape{2, 2});
  Tensor doubled = w * 2.0;
  Tensor product = MatMul(doubled, w);  // runs after `doubled`, reads the old w
  auto exe = Executable::Compile({product}, Options(), {{w, doubled}});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer wv = Buffer::FromVector<float>(Shape{2, 2}, {1, 2, 3, 4});
  auto out = (*exe)->Run({}, {{"w", &wv}});
  ASSERT_TRUE(out.ok()) << out.status();
  // (2w) w with w = [[1,2],[3,4]]: [[14,20],[30,44]].
  const double expected[] = {14, 20, 30, 44};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR((*out)[0].GetAsDouble(i), expected[i], 1e-5);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(wv.GetAsDouble(i), 2.0 * (i + 1));
  if (GetParam() == Backend::kJit) {
    EXPECT_EQ(HowUpdated(**exe, "w"), "copied");
  }
}

TEST_P(VariableUpdateTest, AnIndexMapUpdateIsNotWrittenOverItsOwnInput) {
  auto g = Graph::Create();
  Tensor w = Variable(g, "w", DType::kF32, Shape{3, 3});
  auto exe = Executable::Compile({}, Options(), {{w, Transpose(w, {1, 0}) + 1.0}});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer wv = Matrix(3, 3, 0);
  const Buffer old = wv.Clone();
  auto out = (*exe)->Run({}, {{"w", &wv}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->empty());
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(wv.GetAsDouble(r * 3 + c), old.GetAsDouble(c * 3 + r) + 1);
  }
  if (GetParam() == Backend::kJit) {
    EXPECT_EQ(HowUpdated(**exe, "w"), "copied");
  }
}

TEST_P(VariableUpdateTest, AVariableCanBeUpdatedAndOutputAndSoCanItsNewValue) {
  auto g = Graph::Create();
  Tensor v = Variable(g, "v", DType::kF32, Shape{4});
  Tensor next = v + 1.0;
  auto exe = Executable::Compile({v, next}, Options(), {{v, next}});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer vv = Buffer::FromVector<float>(Shape{4}, {0, 1, 2, 3});
  auto out = (*exe)->Run({}, {{"v", &vv}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ((*out)[0].GetAsDouble(i), i);
    EXPECT_EQ((*out)[1].GetAsDouble(i), i + 1);
    EXPECT_EQ(vv.GetAsDouble(i), i + 1);
  }
}

TEST_P(VariableUpdateTest, ReRunsReuseEveryBuffer) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 4});
  Tensor m = Variable(g, "m", DType::kF32, Shape{4});
  Tensor iterations = Variable(g, "iterations", DType::kI64, Shape{});
  Tensor batch_mean = Mean(x, {0});
  auto exe = Executable::Compile({ReduceSum(m, {0})}, Options(),
                                 {{m, m * 0.5 + batch_mean * 0.5},
                                  {iterations, iterations + ScalarLike(iterations, 1)}});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer xv = Matrix(5, 4, 1);
  Buffer mv = Buffer::Zeros(DType::kF32, Shape{4});
  Buffer it = Buffer::Zeros(DType::kI64, Shape{});
  std::vector<Buffer> out;
  double expected[4] = {0, 0, 0, 0};
  const void* first_out = nullptr;
  const void* m_memory = mv.raw();
  for (int run = 0; run < 3; ++run) {
    ASSERT_TRUE((*exe)->RunInto({{"x", &xv}}, {{"m", &mv}, {"iterations", &it}}, out).ok());
    if (run == 0) first_out = out[0].raw();
    if (GetParam() == Backend::kJit) {
      EXPECT_EQ(out[0].raw(), first_out);
    }
    EXPECT_EQ(mv.raw(), m_memory);
    for (int c = 0; c < 4; ++c) {
      double mean = 0;
      for (int r = 0; r < 5; ++r) mean += xv.GetAsDouble(r * 4 + c) / 5;
      expected[c] = expected[c] * 0.5 + mean * 0.5;
      EXPECT_NEAR(mv.GetAsDouble(c), expected[c], 1e-5);
    }
    EXPECT_EQ(it.GetAsDouble(0), run + 1);
  }
}

TEST_P(VariableUpdateTest, AnInputCanBeTheNewValue) {
  auto g = Graph::Create();
  Tensor v = Variable(g, "v", DType::kF32, Shape{2});
  Tensor x = Input(g, "x", DType::kF32, Shape{2});
  auto exe = Executable::Compile({v * 3.0}, Options(), {{v, x}});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer vv = Buffer::FromVector<float>(Shape{2}, {1, 2});
  Buffer xv = Buffer::FromVector<float>(Shape{2}, {7, 8});
  auto out = (*exe)->Run({{"x", &xv}}, {{"v", &vv}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].GetAsDouble(1), 6);
  EXPECT_EQ(vv.GetAsDouble(0), 7);
  EXPECT_EQ(vv.GetAsDouble(1), 8);
}

TEST_P(VariableUpdateTest, MisuseIsAClearStatus) {
  auto g = Graph::Create();
  Tensor a = Variable(g, "a", DType::kF32, Shape{2});
  Tensor b = Variable(g, "b", DType::kF32, Shape{2});
  Tensor c = Variable(g, "c", DType::kF32, Shape{3});
  auto twice = Executable::Compile({}, Options(), {{a, a + 1.0}, {a, a * 2.0}});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().message(), "Compile: variable 'a' is updated twice");
  auto wrong_type = Executable::Compile({}, Options(), {{a, c}});
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.status().message(), "Compile: the update of 'a' expects f32[2], got f32[3]");
  auto not_fed = Executable::Compile({}, Options(), {{a + 1.0, a}});
  ASSERT_FALSE(not_fed.ok());
  EXPECT_EQ(not_fed.status().message(), "Compile: an update must target a variable or input, not [add]");
  auto swap = Executable::Compile({}, Options(), {{a, b}, {b, a}});
  ASSERT_FALSE(swap.ok());
  EXPECT_EQ(swap.status().message(), "Compile: the new value of 'a' is variable 'b', which is updated too");

  auto exe = Executable::Compile({a * 2.0}, Options(), {{a, a + 1.0}});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer av = Buffer::Zeros(DType::kF32, Shape{2});
  auto missing = (*exe)->Run({{"a", &av}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "Run: no buffer passed for updated variable 'a'");
  Buffer wrong = Buffer::Zeros(DType::kF32, Shape{5});
  auto bad_shape = (*exe)->Run({}, {{"a", &wrong}});
  ASSERT_FALSE(bad_shape.ok());
  EXPECT_EQ(bad_shape.status().message(), "Run: variable 'a' expects f32[2], got f32[5]");
}

TEST(VariableUpdateBackendsTest, AgreeOnATrainingLikeStep) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 8});
  Tensor w = Variable(g, "w", DType::kF32, Shape{8, 4});
  Tensor m = Variable(g, "m", DType::kF32, Shape{8, 4});
  Tensor y = Tanh(MatMul(x, w));
  Tensor grad = MatMul(x, (1.0 - y * y), true);
  Tensor m_next = m * 0.9 + grad;
  std::vector<Buffer> weights[2];
  for (int b = 0; b < 2; ++b) {
    const Backend backend = b == 0 ? Backend::kJit : Backend::kInterp;
    auto exe = Executable::Compile({ReduceSum(y, {0, 1})}, {.backend = backend},
                                   {{w, w - m_next * 0.05}, {m, m_next}});
    ASSERT_TRUE(exe.ok()) << exe.status();
    Buffer xv = Matrix(6, 8, -1);
    Buffer wv = Matrix(8, 4, -0.3);
    for (float& v : wv.span<float>()) v *= 0.1f;
    Buffer mv = Buffer::Zeros(DType::kF32, Shape{8, 4});
    for (int step = 0; step < 4; ++step) {
      ASSERT_TRUE((*exe)->Run({{"x", &xv}}, {{"w", &wv}, {"m", &mv}}).ok());
    }
    weights[b].push_back(std::move(wv));
    weights[b].push_back(std::move(mv));
  }
  for (int k = 0; k < 2; ++k) {
    for (int64_t i = 0; i < weights[0][k].num_elements(); ++i) {
      const double ref = weights[1][k].GetAsDouble(i);
      EXPECT_NEAR(weights[0][k].GetAsDouble(i), ref, kBackendTolerance * std::max(1.0, std::abs(ref)));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, VariableUpdateTest,
                         ::testing::Values(Backend::kJit, Backend::kInterp),
                         [](const auto& info) { return std::string(BackendName(info.param)); });

}  // namespace
}  // namespace kiln
