// random_uniform and Bernoulli: Philox-4x32-10 against the published known
// answers, the documented element mapping (ops/philox.h), statistics of the
// draws, reproducibility, independence of the thread count, and that seed,
// stream and counter each change the numbers.
#include <cmath>
#include <cstdint>
#include <vector>

#include "codegen/thread_pool.h"
#include "graph/evaluate.h"
#include "graph/graph.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "ops/philox.h"

namespace kiln {
namespace {

// Draws random_uniform(step; shape, seed, stream) with the interpreter.
Buffer Draw(int64_t step, const Shape& shape, int64_t seed, int64_t stream,
            const Parallelism& parallel = SerialParallelism()) {
  auto g = Graph::Create();
  Tensor counter = Input(g, "step", DType::kI64, Shape{});
  Tensor u = RandomUniform(counter, shape, seed, stream);
  EXPECT_TRUE(u.ok()) << g->status();
  const Buffer step_value = Buffer::Scalar(DType::kI64, static_cast<double>(step));
  absl::StatusOr<std::vector<Buffer>> out = EvaluateTensors({u}, {{"step", &step_value}}, parallel);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? std::move((*out)[0]) : Buffer();
}

// Known-answer vectors of Philox-4x32-10 from the Random123 distribution.
TEST(PhiloxTest, KnownAnswers) {
  struct Kat {
    PhiloxBlock in;
    std::array<uint32_t, 4> out;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}, {0, 0}}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) EXPECT_EQ(Philox4x32x10(k.in), k.out);
}

TEST(PhiloxTest, BlockMapping) {
  const PhiloxBlock b = PhiloxBlockFor(/*seed=*/0x0000000500000007, /*stream=*/9,
                                       /*step=*/0x0000000300000002, /*group=*/0x100000004);
  EXPECT_EQ(b.counter, (std::array<uint32_t, 4>{4, 1, 2, 9}));
  EXPECT_EQ(b.key, (std::array<uint32_t, 2>{7, 5 ^ 3}));
  EXPECT_EQ(PhiloxUnitFloat(0), 0.0f);
  EXPECT_EQ(PhiloxUnitFloat(0xffffffffu), 1.0f - 1.0f / 16777216.0f);
}

TEST(RandomUniformTest, ElementsFollowTheDocumentedMapping) {
  const Buffer u = Draw(/*step=*/12, Shape{3, 7}, /*seed=*/99, /*stream=*/4);
  for (int64_t i = 0; i < u.num_elements(); ++i) {
    const auto words = Philox4x32x10(PhiloxBlockFor(99, 4, 12, i / 4));
    EXPECT_EQ(u.data<float>()[i], PhiloxUnitFloat(words[i % 4])) << i;
  }
}

TEST(RandomUniformTest, MeanAndVarianceOfUniform) {
  const Buffer u = Draw(/*step=*/1, Shape{200000}, /*seed=*/2024, /*stream=*/0);
  double sum = 0, sum_sq = 0;
  for (float v : u.span<float>()) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LT(v, 1.0f);
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(u.num_elements());
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.5, 0.005);  // standard error 0.00065
  EXPECT_NEAR(sum_sq / n - mean * mean, 1.0 / 12, 0.002);
}

TEST(RandomUniformTest, ReproducibleAndIndependentOfThreads) {
  ThreadPool pool(2);
  const Buffer a = Draw(5, Shape{1001, 17}, 7, 1);
  const Buffer b = Draw(5, Shape{1001, 17}, 7, 1);
  const Buffer c = Draw(5, Shape{1001, 17}, 7, 1, pool);
  EXPECT_TRUE(a.BitwiseEquals(b));
  EXPECT_TRUE(a.BitwiseEquals(c));
  // A shorter draw is a prefix of a longer one.
  const Buffer prefix = Draw(5, Shape{3}, 7, 1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(prefix.data<float>()[i], a.data<float>()[i]);
}

TEST(RandomUniformTest, SeedStreamAndCounterChangeTheNumbers) {
  const Buffer base = Draw(5, Shape{64}, 7, 1);
  const Buffer other[] = {Draw(6, Shape{64}, 7, 1), Draw(5, Shape{64}, 8, 1),
                          Draw(5, Shape{64}, 7, 2), Draw(5 + (int64_t{1} << 32), Shape{64}, 7, 1)};
  for (const Buffer& o : other) {
    int same = 0;
    for (int i = 0; i < 64; ++i) same += o.data<float>()[i] == base.data<float>()[i];
    EXPECT_LE(same, 1);
  }
}

TEST(RandomUniformTest, BatchShapeIsSpecialized) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 4});
  Tensor counter = Input(g, "step", DType::kI64, Shape{});
  Tensor u = RandomUniform(counter, Shape{Shape::kBatch, 4}, 3, 0);
  ASSERT_TRUE(u.ok()) << g->status();
  EXPECT_EQ(u.shape(), (Shape{Shape::kBatch, 4}));
  const Buffer xv = Buffer::Zeros(DType::kF32, Shape{5, 4});
  const Buffer step = Buffer::Scalar(DType::kI64, 0);
  absl::StatusOr<std::vector<Buffer>> out = EvaluateTensors({u, x}, {{"x", &xv}, {"step", &step}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), (Shape{5, 4}));
}

TEST(BernoulliTest, MeanIsP) {
  for (double p : {0.0, 0.3, 0.9, 1.0}) {
    auto g = Graph::Create();
    Tensor counter = Input(g, "step", DType::kI64, Shape{});
    Tensor mask = Bernoulli(counter, p, Shape{100000}, 11, 2);
    ASSERT_TRUE(mask.ok()) << g->status();
    EXPECT_EQ(mask.dtype(), DType::kF32);
    const Buffer step = Buffer::Scalar(DType::kI64, 3);
    absl::StatusOr<std::vector<Buffer>> out = EvaluateTensors({mask}, {{"step", &step}});
    ASSERT_TRUE(out.ok()) << out.status();
    double sum = 0;
    for (float v : (*out)[0].span<float>()) {
      ASSERT_TRUE(v == 0.0f || v == 1.0f) << v;
      sum += v;
    }
    EXPECT_NEAR(sum / 100000, p, 0.006) << "p = " << p;
    if (p == 0.0 || p == 1.0) EXPECT_EQ(sum / 100000, p);
  }
}

TEST(BernoulliTest, RejectsProbabilityOutsideUnitInterval) {
  for (double p : {-0.1, 1.5, std::nan("")}) {
    auto g = Graph::Create();
    Tensor counter = Input(g, "step", DType::kI64, Shape{});
    Tensor mask = Bernoulli(counter, p, Shape{4}, 1, 0);
    EXPECT_TRUE(mask.poisoned());
    EXPECT_NE(g->status().message().find("[bernoulli]"), std::string::npos) << g->status();
    EXPECT_NE(g->status().message().find("expected a probability p in [0, 1]"), std::string::npos)
        << g->status();
  }
}

}  // namespace
}  // namespace kiln
