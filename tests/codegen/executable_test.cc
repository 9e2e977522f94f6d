// The Executable API over the interpreter: input checking, batch
// specialization, thread-count invariance, backend selection.
#include "codegen/executable.h"

#include <cstdlib>
#include <random>

#include "codegen/thread_pool.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

TEST(ExecutableTest, RunsAndSpecializesPerBatchSize) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 2});
  Tensor y = ReduceSum(x * 2.0 + 1.0, {1});
  auto exe = Executable::Compile({y});
  ASSERT_TRUE(exe.ok()) << exe.status();
  for (int64_t batch : {1, 3}) {
    Buffer xv(DType::kF32, Shape{batch, 2});
    for (int64_t i = 0; i < xv.num_elements(); ++i) xv.SetFromDouble(i, i);
    auto out = (*exe)->Run({{"x", &xv}});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ((*out)[0].shape(), (Shape{batch}));
    for (int64_t r = 0; r < batch; ++r) {
      EXPECT_EQ((*out)[0].GetAsDouble(r), (2 * r * 2 + 1) + (2 * (r * 2 + 1) + 1));
    }
  }
  absl::StatusOr<std::string> text = (*exe)->ProgramText(3);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("f32[3,2]"), std::string::npos) << *text;
}

TEST(ExecutableTest, NamesTheInputWhenItsShapeOrDtypeIsWrong) {
  auto g = Graph::Create();
  Tensor x = Input(g, "pixels", DType::kF32, Shape{Shape::kBatch, 4});
  Tensor l = Input(g, "labels", DType::kI32, Shape{Shape::kBatch});
  Tensor y = ReduceSum(x, {1}) * Cast(l, DType::kF32);
  auto exe = Executable::Compile({y});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer wrong_shape(DType::kF32, Shape{2, 5});
  Buffer labels = Buffer::Zeros(DType::kI32, Shape{2});
  auto r1 = (*exe)->Run({{"pixels", &wrong_shape}, {"labels", &labels}});
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.status().message(), "[input] 'pixels' expects f32[2,4], got f32[2,5]");

  Buffer pixels = Buffer::Zeros(DType::kF32, Shape{2, 4});
  Buffer wrong_dtype = Buffer::Zeros(DType::kI64, Shape{2});
  auto r2 = (*exe)->Run({{"pixels", &pixels}, {"labels", &wrong_dtype}});
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().message(), "[input] 'labels' expects i32[2], got i64[2]");

  Buffer other_batch = Buffer::Zeros(DType::kI32, Shape{3});
  auto r3 = (*exe)->Run({{"pixels", &pixels}, {"labels", &other_batch}});
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.status().message().find("batch size"), absl::string_view::npos);

  auto r4 = (*exe)->Run({{"pixels", &pixels}});
  ASSERT_FALSE(r4.ok());
  EXPECT_EQ(r4.status().message(), "[input] no value fed for 'labels'");
}

TEST(ExecutableTest, ResultsDoNotDependOnTheThreadCount) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 1000});
  Tensor y = ReduceSum(Exp(x * 0.01) * x, {0});
  std::mt19937 rng(3);
  Buffer xv(DType::kF32, Shape{300, 1000});
  std::uniform_real_distribution<float> u(-3, 3);
  for (float& v : xv.span<float>()) v = u(rng);
  std::vector<Buffer> results;
  for (int threads : {1, 2, 3}) {
    auto exe = Executable::Compile({y}, {.num_threads = threads});
    ASSERT_TRUE(exe.ok());
    EXPECT_EQ((*exe)->num_threads(), threads);
    auto out = (*exe)->Run({{"x", &xv}});
    ASSERT_TRUE(out.ok()) << out.status();
    results.push_back(std::move((*out)[0]));
  }
  EXPECT_TRUE(results[0].BitwiseEquals(results[1]));
  EXPECT_TRUE(results[0].BitwiseEquals(results[2]));
}

TEST(ExecutableTest, RejectsPoisonedGraphsAndUnknownBackends) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{3});
  Tensor bad = x + Input(g, "y", DType::kF32, Shape{4});
  auto exe = Executable::Compile({bad});
  ASSERT_FALSE(exe.ok());
  EXPECT_NE(exe.status().message().find("[add]"), absl::string_view::npos);

  auto fine = Graph::Create();
  Tensor z = Input(fine, "z", DType::kF32, Shape{3});
  setenv("KILN_BACKEND", "gpu", 1);
  auto unknown = Executable::Compile({Exp(z)});
  unsetenv("KILN_BACKEND");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("KILN_BACKEND='gpu'"), absl::string_view::npos);
}

TEST(ThreadPoolTest, CoversTheRangeOnceWithNestedLoopsSerial) {
  ThreadPool pool(3);
  std::vector<int> hits(1000, 0);
  pool.For(1000, 10, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ++hits[i];
    pool.For(5, 1, [](int64_t, int64_t) {});  // nested: runs inline
  });
  for (int h : hits) EXPECT_EQ(h, 1);
}

}  // namespace
}  // namespace kiln
