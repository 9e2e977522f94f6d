// The JIT GEMM kernels: matmul on awkward sizes (1, odd, tails in every
// dimension, K = 1, transposes, broadcast batches) against a naive loop;
// fused epilogues (bias, activation, residual) against the same loop plus
// the chain in double; bitwise thread-count invariance; agreement with the
// interpreter; the plans and schedules as text.
#include <cmath>
#include <random>

#include "codegen/executable.h"
#include "codegen/fusion_plan.h"
#include "codegen/gemm_schedule.h"
#include "graph/text.h"
#include "gtest/gtest.h"
#include "ops/catalog.h"
#include "ops/ops.h"

namespace kiln {
namespace {

Buffer Random(const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  Buffer b(DType::kF32, shape);
  for (float& v : b.span<float>()) v = u(rng);
  return b;
}

// Row-major index of `index` (of the broadcast batch shape) in `shape`'s
// batch dims (the dims before the last two), numpy broadcasting.
int64_t BatchOffset(const Shape& shape, const std::vector<int64_t>& batch,
                    const std::vector<int64_t>& index) {
  const int nb = shape.rank() - 2, lead = static_cast<int>(batch.size()) - nb;
  int64_t off = 0;
  for (int d = 0; d < nb; ++d) off = off * shape.dim(d) + (shape.dim(d) == 1 ? 0 : index[lead + d]);
  return off * shape.dim(nb) * shape.dim(nb + 1);
}

// C = op(A) op(B) in double, with |A||B| for an error bound.
struct Naive {
  std::vector<int64_t> batch;
  int64_t m = 0, n = 0;
  std::vector<double> c, bound;
};

Naive NaiveMatMul(const Buffer& a, const Buffer& b, bool ta, bool tb) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  Naive r;
  const int ra = sa.rank(), rb = sb.rank();
  r.m = sa.dim(ta ? ra - 1 : ra - 2);
  const int64_t k = sa.dim(ta ? ra - 2 : ra - 1);
  r.n = sb.dim(tb ? rb - 2 : rb - 1);
  const int nb = std::max(ra, rb) - 2;
  for (int d = 0; d < nb; ++d) {
    const int da = d - (nb - (ra - 2)), db = d - (nb - (rb - 2));
    r.batch.push_back(std::max(da >= 0 ? sa.dim(da) : 1, db >= 0 ? sb.dim(db) : 1));
  }
  int64_t batches = 1;
  for (int64_t d : r.batch) batches *= d;
  std::vector<int64_t> index(nb, 0);
  for (int64_t bi = 0; bi < batches; ++bi) {
    for (int d = nb - 1, rest = static_cast<int>(bi); d >= 0; --d) {
      index[d] = rest % r.batch[d];
      rest /= static_cast<int>(r.batch[d]);
    }
    const float* pa = a.data<float>() + BatchOffset(sa, r.batch, index);
    const float* pb = b.data<float>() + BatchOffset(sb, r.batch, index);
    for (int64_t i = 0; i < r.m; ++i) {
      for (int64_t j = 0; j < r.n; ++j) {
        double sum = 0, abs = 0;
        for (int64_t p = 0; p < k; ++p) {
          const double x = pa[ta ? p * r.m + i : i * k + p], y = pb[tb ? j * k + p : p * r.n + j];
          sum += x * y;
          abs += std::abs(x * y);
        }
        r.c.push_back(sum);
        r.bound.push_back(abs);
      }
    }
  }
  return r;
}

std::vector<Buffer> RunJit(const std::vector<Tensor>& outputs, const Feeds& feeds, int threads = 2,
                           Backend backend = Backend::kJit) {
  auto exe = Executable::Compile(outputs, {.backend = backend, .num_threads = threads});
  EXPECT_TRUE(exe.ok()) << exe.status();
  if (!exe.ok()) return {};
  auto out = (*exe)->Run(feeds);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *std::move(out) : std::vector<Buffer>{};
}

// f32 summation error stays far below 1e-6 * sum |a_ip b_pj| for K <= 1000.
void ExpectNear(const Buffer& got, const std::vector<double>& want,
                const std::vector<double>& bound, const std::string& label) {
  ASSERT_EQ(got.num_elements(), static_cast<int64_t>(want.size())) << label;
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double g = got.GetAsDouble(static_cast<int64_t>(i));
    if (!(std::abs(g - want[i]) <= 1e-6 * bound[i] + 1e-7) && bad++ < 3) {
      ADD_FAILURE() << label << " element " << i << ": got " << g << " want " << want[i];
    }
  }
}

struct Case {
  Shape a, b;
  bool ta = false, tb = false;
};

std::string Label(const Case& c) {
  return absl::StrCat(c.a.ToString(), c.ta ? "^T" : "", " x ", c.b.ToString(), c.tb ? "^T" : "");
}

class GemmSizes : public testing::TestWithParam<Case> {};

TEST_P(GemmSizes, MatchesANaiveLoop) {
  const Case& c = GetParam();
  auto g = Graph::Create();
  Tensor y = MatMul(Input(g, "a", DType::kF32, c.a), Input(g, "b", DType::kF32, c.b), c.ta, c.tb);
  const Buffer a = Random(c.a, 1), b = Random(c.b, 2);
  std::vector<Buffer> out = RunJit({y}, {{"a", &a}, {"b", &b}});
  ASSERT_EQ(out.size(), 1u);
  const Naive want = NaiveMatMul(a, b, c.ta, c.tb);
  ExpectNear(out[0], want.c, want.bound, Label(c));
}

INSTANTIATE_TEST_SUITE_P(
    Awkward, GemmSizes,
    testing::Values(
        Case{{1, 1}, {1, 1}}, Case{{1, 5}, {5, 1}}, Case{{4, 1}, {1, 6}}, Case{{17, 1}, {1, 50}},
        Case{{7, 33}, {33, 37}}, Case{{5, 3}, {5, 4}, true, false},
        Case{{3, 5}, {4, 5}, false, true}, Case{{9, 7}, {19, 9}, true, true},
        Case{{13, 300}, {300, 97}}, Case{{9, 49}, {49, 49}}, Case{{8, 16}, {16, 48}},
        Case{{70, 65}, {70, 33}, true, false}, Case{{33, 70}, {65, 70}, false, true},
        Case{{70, 33}, {65, 70}, true, true}, Case{{300, 300}, {300, 300}},
        Case{{300, 300}, {300, 300}, true, false}, Case{{300, 300}, {300, 300}, false, true},
        Case{{300, 300}, {300, 300}, true, true}, Case{{1, 257}, {257, 530}},
        Case{{2, 3, 4}, {2, 4, 5}}, Case{{3, 5, 7}, {7, 9}}, Case{{5, 7}, {3, 7, 9}},
        Case{{2, 1, 3, 4}, {3, 4, 2}}, Case{{4, 3}, {2, 5, 4}, true, true},
        Case{{2, 3, 11, 20}, {1, 3, 20, 50}}, Case{{6, 20, 11}, {20, 53}, true, false}));

// An elementwise chain of two operands around a GEMM (its epilogue:
// y = chain(matmul(a, w), extra); its prologue: y = matmul(chain(a, extra),
// w)) and the chain in double.
struct Chain {
  std::string label;
  Shape a, w, extra;  // extra: the chain's second operand, broadcast
  Tensor (*chain)(const Tensor& value, const Tensor& extra);
  double (*reference)(double value, double extra);
};
using Epilogue = Chain;
using Prologue = Chain;

// The flat index into `extra` (broadcast to `dims`, aligned right) of
// element `flat` of `dims`.
int64_t BroadcastOffset(const std::vector<int64_t>& dims, const Shape& extra, int64_t flat) {
  const int rank = static_cast<int>(dims.size());
  int64_t rest = flat, off = 0, stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const int64_t idx = rest % dims[d];
    rest /= dims[d];
    const int ed = d - (rank - extra.rank());
    if (ed >= 0) {
      if (extra.dim(ed) != 1) off += idx * stride;
      stride *= extra.dim(ed);
    }
  }
  return off;
}

class GemmEpilogue : public testing::TestWithParam<Epilogue> {};

TEST_P(GemmEpilogue, IsFusedAndMatchesTheChain) {
  const Epilogue& e = GetParam();
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, e.a), w = Input(g, "w", DType::kF32, e.w);
  Tensor extra = Input(g, "extra", DType::kF32, e.extra);
  Tensor y = e.chain(MatMul(x, w), extra);
  const Buffer a = Random(e.a, 3), b = Random(e.w, 4), z = Random(e.extra, 5);
  const Feeds feeds = {{"x", &a}, {"w", &b}, {"extra", &z}};
  auto exe = Executable::Compile({y}, {.backend = Backend::kJit, .num_threads = 2});
  ASSERT_TRUE(exe.ok()) << exe.status();
  absl::StatusOr<std::string> text = (*exe)->ProgramText(1);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("contraction: "), std::string::npos) << *text;
  EXPECT_EQ(text->find(" jit: "), std::string::npos) << "the chain runs apart:\n" << *text;
  auto out = (*exe)->Run(feeds);
  ASSERT_TRUE(out.ok()) << out.status();
  Naive want = NaiveMatMul(a, b, false, false);
  // The extra operand broadcast to the output [batch..., m, n].
  std::vector<int64_t> out_dims = want.batch;
  out_dims.insert(out_dims.end(), {want.m, want.n});
  for (size_t i = 0; i < want.c.size(); ++i) {
    const int64_t off = BroadcastOffset(out_dims, e.extra, static_cast<int64_t>(i));
    want.c[i] = e.reference(want.c[i], z.data<float>()[off]);
    want.bound[i] += 1;
  }
  ExpectNear((*out)[0], want.c, want.bound, e.label);
}

INSTANTIATE_TEST_SUITE_P(
    Chains, GemmEpilogue,
    testing::Values(Epilogue{"bias_relu",
                             {37, 50},
                             {50, 70},
                             {70},
                             [](const Tensor& m, const Tensor& b) { return Relu(m + b); },
                             [](double m, double b) { return std::max(0.0, m + b); }},
                    Epilogue{"bias_tanh_folded_batch",
                             {3, 11, 40},
                             {40, 53},
                             {53},
                             [](const Tensor& m, const Tensor& b) { return Tanh(m + b); },
                             [](double m, double b) { return std::tanh(m + b); }},
                    Epilogue{"residual",
                             {29, 300},
                             {300, 61},
                             {29, 61},
                             [](const Tensor& m, const Tensor& r) { return m * 0.5 + r; },
                             [](double m, double r) { return m * 0.5 + r; }},
                    Epilogue{"row_scale",
                             {19, 8},
                             {8, 100},
                             {19, 1},
                             [](const Tensor& m, const Tensor& s) { return Sigmoid(m * s); },
                             [](double m, double s) { return 1 / (1 + std::exp(-m * s)); }},
                    Epilogue{"batched_residual",
                             {2, 9, 30},
                             {2, 30, 17},
                             {2, 1, 17},
                             [](const Tensor& m, const Tensor& r) { return m - r; },
                             [](double m, double r) { return m - r; }}),
    [](const testing::TestParamInfo<Epilogue>& info) { return info.param.label; });

// y = matmul(chain(a, extra), w): the chain is the GEMM's prologue,
// computed while A is packed.
class GemmPrologue : public testing::TestWithParam<Prologue> {};

TEST_P(GemmPrologue, IsFusedAndMatchesTheChain) {
  const Prologue& p = GetParam();
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, p.a), w = Input(g, "w", DType::kF32, p.w);
  Tensor extra = Input(g, "extra", DType::kF32, p.extra);
  Tensor y = MatMul(p.chain(x, extra), w);
  const Buffer a = Random(p.a, 6), b = Random(p.w, 7), z = Random(p.extra, 8);
  const Feeds feeds = {{"x", &a}, {"w", &b}, {"extra", &z}};
  // A after the chain, by the broadcast rule (extra's dims align right).
  Buffer chained(DType::kF32, p.a);
  for (int64_t i = 0; i < chained.num_elements(); ++i) {
    const int64_t off = BroadcastOffset(p.a.dims(), p.extra, i);
    chained.data<float>()[i] =
        static_cast<float>(p.reference(a.data<float>()[i], z.data<float>()[off]));
  }
  Naive want = NaiveMatMul(chained, b, false, false);
  for (int threads : {1, 2}) {
    auto exe = Executable::Compile({y}, {.backend = Backend::kJit, .num_threads = threads});
    ASSERT_TRUE(exe.ok()) << exe.status();
    absl::StatusOr<std::string> text = (*exe)->ProgramText(1);
    ASSERT_TRUE(text.ok());
    EXPECT_NE(text->find("] a prologue ("), std::string::npos) << *text;
    EXPECT_EQ(text->find(" jit: "), std::string::npos) << "the chain runs apart:\n" << *text;
    auto out = (*exe)->Run(feeds);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectNear((*out)[0], want.c, want.bound, p.label);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Chains, GemmPrologue,
    testing::Values(Prologue{"column_scale_relu",
                             {37, 50},
                             {50, 70},
                             {50},
                             [](const Tensor& a, const Tensor& s) { return Relu(a * s); },
                             [](double a, double s) { return std::max(0.0, a * s); }},
                    Prologue{"sequence_difference",
                             {3, 11, 40},
                             {40, 53},
                             {3, 11, 40},
                             [](const Tensor& a, const Tensor& e) { return a - e; },
                             [](double a, double e) { return a - e; }},
                    Prologue{"batched_two_depth_blocks",
                             {2, 9, 300},
                             {2, 300, 17},
                             {300},
                             [](const Tensor& a, const Tensor& e) { return a * e + 0.5; },
                             [](double a, double e) { return a * e + 0.5; }},
                    Prologue{"three_columns",
                             {29, 21},
                             {21, 3},
                             {29, 1},
                             [](const Tensor& a, const Tensor& e) { return Tanh(a + e); },
                             [](double a, double e) { return std::tanh(a + e); }}),
    [](const testing::TestParamInfo<Prologue>& info) { return info.param.label; });

TEST(GemmTest, APrologueAndAnEpilogueShareTheKernel) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{33, 40});
  Tensor w = Input(g, "w", DType::kF32, Shape{40, 20});
  Tensor bias = Input(g, "b", DType::kF32, Shape{20});
  Tensor y = Tanh(MatMul(Neg(x), w) + bias);
  const Buffer a = Random(Shape{33, 40}, 9), b = Random(Shape{40, 20}, 10),
               c = Random(Shape{20}, 11);
  auto exe = Executable::Compile({y}, {.backend = Backend::kJit});
  ASSERT_TRUE(exe.ok()) << exe.status();
  absl::StatusOr<std::string> text = (*exe)->ProgramText(1);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("] a prologue ("), std::string::npos) << *text;
  EXPECT_NE(text->find("  epilogue "), std::string::npos) << *text;
  auto out = (*exe)->Run({{"x", &a}, {"w", &b}, {"b", &c}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t i = 0; i < 33; ++i) {
    for (int64_t j = 0; j < 20; ++j) {
      double sum = c.data<float>()[j];
      for (int64_t p = 0; p < 40; ++p) {
        sum -= double{a.data<float>()[i * 40 + p]} * b.data<float>()[p * 20 + j];
      }
      ASSERT_NEAR((*out)[0].data<float>()[i * 20 + j], std::tanh(sum), 1e-5) << i << " " << j;
    }
  }
}

TEST(GemmTest, ResultsDoNotDependOnTheThreadCount) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{301, 517});
  Tensor w = Input(g, "w", DType::kF32, Shape{517, 299});
  Tensor bias = Input(g, "b", DType::kF32, Shape{299});
  Tensor y = Relu(MatMul(x, w) + bias);
  Tensor z = MatMul(x, w, false, false);
  const Buffer a = Random(Shape{301, 517}, 6), b = Random(Shape{517, 299}, 7);
  const Buffer c = Random(Shape{299}, 8);
  const Feeds feeds = {{"x", &a}, {"w", &b}, {"b", &c}};
  std::vector<Buffer> one = RunJit({y, z}, feeds, 1);
  for (int threads : {2, 3, 7}) {
    std::vector<Buffer> many = RunJit({y, z}, feeds, threads);
    ASSERT_EQ(many.size(), 2u);
    EXPECT_TRUE(one[0].BitwiseEquals(many[0])) << threads;
    EXPECT_TRUE(one[1].BitwiseEquals(many[1])) << threads;
  }
}

TEST(GemmTest, AgreesWithTheInterpreter) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const Shape sa = ta ? Shape{310, 290} : Shape{290, 310};
      const Shape sb = tb ? Shape{270, 310} : Shape{310, 270};
      auto g = Graph::Create();
      Tensor y = MatMul(Input(g, "a", DType::kF32, sa), Input(g, "b", DType::kF32, sb), ta, tb);
      const Buffer a = Random(sa, 9), b = Random(sb, 10);
      const Feeds feeds = {{"a", &a}, {"b", &b}};
      std::vector<Buffer> jit = RunJit({y}, feeds, 2);
      std::vector<Buffer> interp = RunJit({y}, feeds, 2, Backend::kInterp);
      ASSERT_EQ(jit.size(), 1u);
      ASSERT_EQ(interp.size(), 1u);
      for (int64_t i = 0; i < jit[0].num_elements(); ++i) {
        const double p = jit[0].GetAsDouble(i), q = interp[0].GetAsDouble(i);
        ASSERT_LE(std::abs(p - q), kBackendTolerance * std::max(1.0, std::abs(q)))
            << ta << tb << " element " << i;
      }
    }
  }
}

TEST(GemmTest, AnEpilogueMayReadAnotherGemm) {
  auto g = Graph::Create();
  const Shape sa{45, 70}, sb{70, 33}, sc{45, 20}, sd{20, 33};
  Tensor y = MatMul(Input(g, "a", DType::kF32, sa), Input(g, "b", DType::kF32, sb)) * 2.0 -
             MatMul(Input(g, "c", DType::kF32, sc), Input(g, "d", DType::kF32, sd));
  const Buffer a = Random(sa, 13), b = Random(sb, 14), c = Random(sc, 15), d = Random(sd, 16);
  std::vector<Buffer> out = RunJit({y}, {{"a", &a}, {"b", &b}, {"c", &c}, {"d", &d}});
  ASSERT_EQ(out.size(), 1u);
  Naive ab = NaiveMatMul(a, b, false, false), cd = NaiveMatMul(c, d, false, false);
  for (size_t i = 0; i < ab.c.size(); ++i) {
    ab.c[i] = 2 * ab.c[i] - cd.c[i];
    ab.bound[i] = 2 * ab.bound[i] + cd.bound[i];
  }
  ExpectNear(out[0], ab.c, ab.bound, "2ab - cd");
}

TEST(GemmTest, EmptyDimensions) {
  for (const Case& c : {Case{{3, 0}, {0, 4}}, Case{{0, 5}, {5, 4}}, Case{{3, 5}, {5, 0}}}) {
    auto g = Graph::Create();
    Tensor y = MatMul(Input(g, "a", DType::kF32, c.a), Input(g, "b", DType::kF32, c.b));
    const Buffer a = Random(c.a, 11), b = Random(c.b, 12);
    std::vector<Buffer> out = RunJit({y}, {{"a", &a}, {"b", &b}});
    ASSERT_EQ(out.size(), 1u) << Label(c);
    for (int64_t i = 0; i < out[0].num_elements(); ++i) EXPECT_EQ(out[0].GetAsDouble(i), 0.0);
  }
}

struct PlanCase {
  const char* label;
  const char* graph;
  const char* plan;
};

class GemmPlan : public testing::TestWithParam<PlanCase> {};

TEST_P(GemmPlan, PlansAsExpected) {
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(GetParam().graph, Ops());
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<FusionPlan> plan = PlanFusion(**g);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->ToString(**g), GetParam().plan);
}

// Dense on a sequence with bias and relu.
constexpr char kDense[] =
    "%0:f32[6,4,64] = input() {dtype=f32, name=\"x\", shape=[6,4,64]}\n"
    "%1:f32[64,100] = input() {dtype=f32, name=\"w\", shape=[64,100]}\n"
    "%2:f32[100] = input() {dtype=f32, name=\"b\", shape=[100]}\n"
    "%3:f32[6,4,100] = matmul(%0, %1) {transpose_a=0, transpose_b=0}\n"
    "%4:f32[6,4,100] = add(%3, %2)\n"
    "%5:f32[] = constant() {value=f32[]{0}}\n"
    "%6:f32[6,4,100] = maximum(%4, %5)\n"
    "return %6\n";

INSTANTIATE_TEST_SUITE_P(
    Table, GemmPlan,
    testing::Values(
        PlanCase{"bias and relu become the epilogue", kDense,
                 "k0 fused_matmul_add_maximum_k0 contraction: %3 %4 %6 <- reads %0 %1 %2\n"},
        PlanCase{"two readers: no epilogue",
                 "%0:f32[8,16] = input() {dtype=f32, name=\"x\", shape=[8,16]}\n"
                 "%1:f32[16,8] = input() {dtype=f32, name=\"w\", shape=[16,8]}\n"
                 "%2:f32[8,8] = matmul(%0, %1) {transpose_a=0, transpose_b=0}\n"
                 "%3:f32[8,8] = exp(%2)\n"
                 "%4:f32[8,16] = matmul(%2, %1) {transpose_a=0, transpose_b=1}\n"
                 "return %3, %4\n",
                 "k0 matmul_k0 contraction: %2 <- reads %0 %1\n"
                 "k1 fused_exp_k1 jit: %3 <- reads %2\n"
                 "k2 matmul_k2 contraction: %4 <- reads %2 %1\n"
                 "no: %2 (matmul) takes no epilogue: read by 2 nodes: an epilogue has one "
                 "reader\n"},
        PlanCase{"a reduction reader: no epilogue",
                 "%0:f32[8,16] = input() {dtype=f32, name=\"x\", shape=[8,16]}\n"
                 "%1:f32[16,8] = input() {dtype=f32, name=\"w\", shape=[16,8]}\n"
                 "%2:f32[8,8] = matmul(%0, %1) {transpose_a=0, transpose_b=0}\n"
                 "%3:f32[8] = reduce_sum(%2) {axes=(1), keepdims=0}\n"
                 "return %3\n",
                 "k0 matmul_k0 contraction: %2 <- reads %0 %1\n"
                 "k1 fused_reduce_sum_k1 jit: %3 <- reads %2\n"
                 "no: %2 (matmul) takes no epilogue: its reader %3 (reduce_sum) is not in an "
                 "elementwise kernel\n"},
        PlanCase{"two GEMMs summed: the later one takes the sum",
                 "%0:f32[8,16] = input() {dtype=f32, name=\"x\", shape=[8,16]}\n"
                 "%1:f32[16,8] = input() {dtype=f32, name=\"w\", shape=[16,8]}\n"
                 "%2:f32[8,8] = matmul(%0, %1) {transpose_a=0, transpose_b=0}\n"
                 "%3:f32[8,8] = matmul(%2, %2) {transpose_a=1, transpose_b=0}\n"
                 "%4:f32[8,8] = add(%2, %3)\n"
                 "return %4\n",
                 "k0 matmul_k0 contraction: %2 <- reads %0 %1\n"
                 "k1 fused_matmul_add_k1 contraction: %3 %4 <- reads %2\n"
                 "no: %2 (matmul) takes no epilogue: read by 2 nodes: an epilogue has one "
                 "reader\n"},
        PlanCase{"the reader already has a GEMM",
                 "%0:f32[8,16] = input() {dtype=f32, name=\"x\", shape=[8,16]}\n"
                 "%1:f32[16,8] = input() {dtype=f32, name=\"w\", shape=[16,8]}\n"
                 "%2:f32[8,8] = matmul(%0, %1) {transpose_a=0, transpose_b=0}\n"
                 "%3:f32[8,8] = matmul(%0, %1) {transpose_a=0, transpose_b=0}\n"
                 "%4:f32[8,8] = sub(%2, %3)\n"
                 "return %4\n",
                 "k0 matmul_k0 contraction: %2 <- reads %0 %1\n"
                 "k1 fused_matmul_sub_k1 contraction: %3 %4 <- reads %0 %1 %2\n"
                 "no: %2 (matmul) takes no epilogue: its reader %4 (sub) is already the "
                 "epilogue of %3 (matmul)\n"},
        PlanCase{"a transposed read: no epilogue",
                 "%0:f32[8,16] = input() {dtype=f32, name=\"x\", shape=[8,16]}\n"
                 "%1:f32[16,8] = input() {dtype=f32, name=\"w\", shape=[16,8]}\n"
                 "%2:f32[8,8] = input() {dtype=f32, name=\"y\", shape=[8,8]}\n"
                 "%3:f32[8,8] = matmul(%0, %1) {transpose_a=0, transpose_b=0}\n"
                 "%4:f32[8,8] = transpose(%3) {permutation=(1,0)}\n"
                 "%5:f32[8,8] = add(%4, %2)\n"
                 "return %5\n",
                 "k0 matmul_k0 contraction: %3 <- reads %0 %1\n"
                 "k1 fused_transpose_add_k1 jit: %4 %5 <- reads %3 %2\n"
                 "no: %3 (matmul) takes no epilogue: its value reaches the reader kernel's "
                 "result through %4 (transpose), not elementwise over its shape\n"}));

TEST(GemmScheduleTest, DenseOnASequenceFoldsTheBatchIntoRows) {
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(kDense, Ops());
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<FusionPlan> plan = PlanFusion(**g);
  ASSERT_TRUE(plan.ok());
  absl::StatusOr<GemmSchedule> s = ScheduleGemm(**g, plan->groups[0], 512);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ToString(**g),
            "gemm [24 x 100 x 64] a %0 (64, 1) b %1 (100, 1) c (100, 1)\n"
            "  tile 8x48 (16 lanes) blocks mc 8 nc 112 kc 64 work 3 scratch 38912\n"
            "  epilogue loop [24 x 100] elementwise vector 16 chunk 0 work 0\n"
            "  v0 = load %3 @ 100*i0 + 1*i1\n"
            "  v1 = load %2 @ 1*i1\n"
            "  v2 = add(v0, v1)\n"
            "  v3 = const 0\n"
            "  v4 = maximum(v2, v3)\n"
            "  store v4 @ 100*i0 + 1*i1\n");
}

TEST(GemmScheduleTest, SquareGemmSplitsIntoEqualColumnTiles) {
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(
      "%0:f32[1024,1024] = input() {dtype=f32, name=\"a\", shape=[1024,1024]}\n"
      "%1:f32[1024,1024] = input() {dtype=f32, name=\"b\", shape=[1024,1024]}\n"
      "%2:f32[1024,1024] = matmul(%0, %1) {transpose_a=0, transpose_b=0}\n"
      "return %2\n",
      Ops());
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<FusionPlan> plan = PlanFusion(**g);
  ASSERT_TRUE(plan.ok());
  absl::StatusOr<GemmSchedule> s = ScheduleGemm(**g, plan->groups[0], 512);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ToString(**g),
            "gemm [1024 x 1024 x 1024] a %0 (1024, 1) b %1 (1024, 1) c (1024, 1)\n"
            "  tile 8x48 (16 lanes) blocks mc 256 nc 512 kc 256 work 8 scratch 548864\n");
}

}  // namespace
}  // namespace kiln
