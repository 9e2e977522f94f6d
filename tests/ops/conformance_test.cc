// The op conformance suite: every op in ops/op_list.inc, every test case its
// OpDef lists, with no per-op test code. For each case:
//   - the shape rule accepts the inputs (symbolic batch N included);
//   - the interpreter kernel agrees with the op's scalar reference;
//   - the interpreter gives the same bits with 1 and 2 threads;
//   - the JIT backend agrees with the interpreter (kBackendTolerance);
//   - the gradient rule agrees with finite differences;
// and for each bad case the Status message starts with "[opname]" and says
// what was expected.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "autodiff/gradient_check.h"
#include "codegen/executable.h"
#include "codegen/thread_pool.h"
#include "gtest/gtest.h"
#include "graph/evaluate.h"
#include "graph/graph.h"
#include "ops/catalog.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int64_t kTestBatch = 3;

struct CaseRef {
  const OpDef* op;
  int index;
  friend void PrintTo(const CaseRef& c, std::ostream* os) {
    *os << c.op->name << " #" << c.index;
  }
};

std::string Sanitize(absl::string_view s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

std::vector<CaseRef> AllCases(bool bad) {
  std::vector<CaseRef> refs;
  for (const OpDef* op : Ops().All()) {
    if (op->tests == nullptr) continue;
    const OpTests t = op->tests();
    const int n = static_cast<int>(bad ? t.bad.size() : t.cases.size());
    for (int i = 0; i < n; ++i) refs.push_back({op, i});
  }
  return refs;
}

std::string CaseName(const testing::TestParamInfo<CaseRef>& info) {
  return absl::StrCat(Sanitize(info.param.op->name), "_", info.param.index);
}

// Deterministic values in the input's domain.
Buffer RandomInput(const TestInput& in, std::mt19937_64& rng) {
  Buffer b(in.type.dtype, in.type.shape.Specialize(kTestBatch));
  std::uniform_real_distribution<double> uniform(in.lo, in.hi);
  for (int64_t i = 0; i < b.num_elements(); ++i) {
    double v = uniform(rng);
    if (in.type.dtype == DType::kBool) {
      v = v > 0.5 * (in.lo + in.hi) ? 1 : 0;
    } else if (in.integer_values || in.type.dtype != DType::kF32) {
      v = std::round(v);
    } else if (in.avoid_integers) {
      const double frac = v - std::floor(v);
      if (frac < 0.1) v += 0.1 - frac;
      if (frac > 0.9) v -= frac - 0.9;
    }
    b.SetFromDouble(i, v);
  }
  if (in.distinct) {  // neighbours (hi - lo) / n apart, in random order
    std::vector<int64_t> rank(b.num_elements());
    std::iota(rank.begin(), rank.end(), 0);
    std::shuffle(rank.begin(), rank.end(), rng);
    for (int64_t i = 0; i < b.num_elements(); ++i) {
      b.SetFromDouble(i, in.lo + (rank[i] + 0.5) * (in.hi - in.lo) / b.num_elements());
    }
  }
  return b;
}

// FNV-1a: the same seed in every run (absl::Hash is salted per process).
uint64_t StableSeed(absl::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Element by element within `tol` relative to max(1, |want|); NaN matches NaN.
void ExpectClose(const Buffer& got, const Buffer& want, double tol, const char* got_name,
                 const char* want_name) {
  ASSERT_EQ(got.shape(), want.shape());
  ASSERT_EQ(got.dtype(), want.dtype());
  int reported = 0;
  for (int64_t i = 0; i < got.num_elements(); ++i) {
    const double a = got.GetAsDouble(i), b = want.GetAsDouble(i);
    if ((std::isnan(a) && std::isnan(b)) || a == b) continue;
    const bool close = std::abs(a - b) <= tol * std::max(1.0, std::abs(b));
    if (!close && reported++ < 5) {
      ADD_FAILURE() << "element " << i << ": " << got_name << " " << a << ", " << want_name
                    << " " << b;
    }
  }
}

class OpConformance : public testing::TestWithParam<CaseRef> {};

TEST_P(OpConformance, MatchesReferenceThreadsAndGradient) {
  const OpDef& op = *GetParam().op;
  const TestCase tc = op.tests().cases[GetParam().index];
  SCOPED_TRACE(absl::StrCat(op.name, " case '", tc.label, "' ", tc.attrs.ToString()));

  auto g = Graph::Create();
  std::vector<Tensor> inputs;
  std::vector<Buffer> values;
  std::mt19937_64 rng(StableSeed(absl::StrCat(op.name, "/", tc.label)));
  for (size_t i = 0; i < tc.inputs.size(); ++i) {
    inputs.push_back(Input(g, absl::StrCat("in", i), tc.inputs[i].type.dtype,
                           tc.inputs[i].type.shape));
    values.push_back(RandomInput(tc.inputs[i], rng));
  }
  Tensor y = g->Apply(op, inputs, tc.attrs);
  ASSERT_TRUE(y.ok()) << g->status();
  Feeds feeds;
  for (size_t i = 0; i < values.size(); ++i) feeds[absl::StrCat("in", i)] = &values[i];

  // Interpreter, serial.
  absl::StatusOr<std::vector<Buffer>> serial = EvaluateTensors({y}, feeds);
  ASSERT_TRUE(serial.ok()) << serial.status();
  const Buffer& got = (*serial)[0];

  // Interpreter, two threads: the same bits.
  ThreadPool pool(2);
  absl::StatusOr<std::vector<Buffer>> threaded = EvaluateTensors({y}, feeds, pool);
  ASSERT_TRUE(threaded.ok()) << threaded.status();
  EXPECT_TRUE((*threaded)[0].BitwiseEquals(got)) << "results depend on the thread count";

  // The JIT backend: the same results within the documented tolerance.
  {
    absl::StatusOr<std::unique_ptr<Executable>> exe =
        Executable::Compile({y}, {.backend = Backend::kJit});
    ASSERT_TRUE(exe.ok()) << exe.status();
    absl::StatusOr<std::vector<Buffer>> jit = (*exe)->Run(feeds);
    ASSERT_TRUE(jit.ok()) << jit.status();
    ExpectClose((*jit)[0], got, kBackendTolerance, "jit", "interp");
  }

  // Scalar reference on the specialized node.
  if (op.reference != nullptr) {
    // The batch size the evaluator chose (1 when no input carries N).
    std::shared_ptr<Graph> concrete = g->Clone();
    absl::StatusOr<int64_t> batch = BatchSizeOf(*concrete, feeds);
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE(SpecializeBatch(*concrete, *batch > 0 ? *batch : 1).ok());
    const Node& node = concrete->node(y.id());
    Buffer want(node.type.dtype, node.type.shape);
    std::vector<const Buffer*> in_ptrs;
    for (const Buffer& v : values) in_ptrs.push_back(&v);
    ASSERT_TRUE(op.reference(KernelContext{in_ptrs, &want, node.attrs,
                                           SerialParallelism()}).ok());
    ExpectClose(got, want, op.tests().tolerance, "interp", "reference");
  }

  // Gradient vs finite differences, for every f32 input.
  if (op.grad != nullptr && tc.check_grad && y.dtype() == DType::kF32) {
    std::vector<Tensor> wrt;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (tc.inputs[i].type.dtype == DType::kF32) wrt.push_back(inputs[i]);
    }
    if (!wrt.empty()) {
      absl::StatusOr<GradCheckResult> check = CheckGradients(y, wrt, feeds);
      ASSERT_TRUE(check.ok()) << check.status();
      EXPECT_TRUE(check->ok) << "worst: " << check->worst;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpConformance,
                         testing::ValuesIn(AllCases(/*bad=*/false)), CaseName);

class OpRejects : public testing::TestWithParam<CaseRef> {};

TEST_P(OpRejects, BadInputWithClearStatus) {
  const OpDef& op = *GetParam().op;
  const BadCase bc = op.tests().bad[GetParam().index];
  SCOPED_TRACE(absl::StrCat(op.name, " bad case '", bc.label, "'"));
  auto g = Graph::Create();
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < bc.inputs.size(); ++i) {
    inputs.push_back(Input(g, absl::StrCat("in", i), bc.inputs[i].dtype, bc.inputs[i].shape));
  }
  Tensor y = g->Apply(op, inputs, bc.attrs);
  EXPECT_TRUE(y.poisoned());
  const std::string message(g->status().message());
  EXPECT_TRUE(absl::StartsWith(message, absl::StrCat("[", op.name, "]"))) << message;
  EXPECT_TRUE(absl::StrContains(message, bc.expected_message))
      << message << "\n  should contain: " << bc.expected_message;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpRejects,
                         testing::ValuesIn(AllCases(/*bad=*/true)), CaseName);

// Every op in the list takes part in the suite.
TEST(OpCatalogTest, EveryOpHasCasesAndAUniqueName) {
  for (const OpDef* op : Ops().All()) {
    SCOPED_TRACE(op->name);
    ASSERT_NE(op->infer, nullptr);
    ASSERT_NE(op->tests, nullptr);
    const OpTests t = op->tests();
    EXPECT_FALSE(t.cases.empty() && t.bad.empty());
    if (op->fusion != FusionKind::kSource) {
      EXPECT_NE(op->interp, nullptr);
      EXPECT_NE(op->reference, nullptr);
      EXPECT_FALSE(t.cases.empty());
      EXPECT_FALSE(t.bad.empty()) << "every op rejects something";
    }
    EXPECT_EQ(Ops().Find(op->name), op);
  }
}

}  // namespace
}  // namespace kiln
