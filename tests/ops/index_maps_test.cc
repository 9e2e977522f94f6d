// Index maps (transpose, slice, pad, concat, gather, one_hot) and reduce_max
// beyond the conformance suite: kernels split into many tiny chunks give the
// reference's bits, larger shapes hit every copy path, and the documented
// semantics hold (NaN and ties in reduce_max, out-of-range indices).
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "autodiff/grad.h"
#include "graph/evaluate.h"
#include "graph/graph.h"
#include "gtest/gtest.h"
#include "ops/catalog.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();

// Ignores the grain and runs chunks of 1, 2, ..., 7 elements in turn, so
// every chunk boundary a kernel can meet is met.
class TinyChunks final : public Parallelism {
 public:
  int num_threads() const override { return 7; }
  void For(int64_t n, int64_t, absl::FunctionRef<void(int64_t, int64_t)> fn) const override {
    int64_t size = 1;
    for (int64_t b = 0; b < n; b += size, size = size % 7 + 1) fn(b, std::min(n, b + size));
  }
};

Buffer RandomBuffer(DType dtype, const Shape& shape, std::mt19937_64& rng) {
  Buffer b(dtype, shape);
  std::uniform_int_distribution<int> u(-100, 100);
  for (int64_t i = 0; i < b.num_elements(); ++i) {
    b.SetFromDouble(i, dtype == DType::kBool ? (u(rng) > 0) : u(rng) / 7.0);
  }
  return b;
}

// The op's interpreter with tiny chunks against its reference, bitwise.
void ExpectTinyChunksMatchReference(const OpDef& op, std::vector<const Buffer*> ptrs,
                                    const Attrs& attrs) {
  std::vector<TensorType> types;
  for (const Buffer* b : ptrs) types.push_back({b->dtype(), b->shape()});
  absl::StatusOr<TensorType> type = InferType(op, types, attrs);
  ASSERT_TRUE(type.ok()) << type.status();
  Buffer got(type->dtype, type->shape), want(type->dtype, type->shape);
  ASSERT_TRUE(op.interp(KernelContext{ptrs, &got, attrs, TinyChunks()}).ok());
  ASSERT_TRUE(op.reference(KernelContext{ptrs, &want, attrs, SerialParallelism()}).ok());
  EXPECT_TRUE(got.BitwiseEquals(want)) << op.name << " " << attrs.ToString();
}

TEST(IndexMapsTest, ConformanceCasesWithTinyChunks) {
  for (absl::string_view name : {"transpose", "slice", "pad", "concat", "gather", "one_hot",
                                 "reduce_max", "random_uniform"}) {
    const OpDef* op = Ops().Find(name);
    ASSERT_NE(op, nullptr) << name;
    std::mt19937_64 rng(1);
    for (const TestCase& tc : op->tests().cases) {
      SCOPED_TRACE(absl::StrCat(name, " ", tc.label));
      std::vector<Buffer> inputs;
      for (const TestInput& in : tc.inputs) {
        Buffer b = RandomBuffer(in.type.dtype, in.type.shape.Specialize(5), rng);
        if (in.integer_values) {  // indices and counters within the case's range
          std::uniform_int_distribution<int64_t> u(std::ceil(in.lo), std::floor(in.hi));
          for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, u(rng));
        }
        inputs.push_back(std::move(b));
      }
      Attrs attrs;  // the case's attributes with N specialized
      for (const auto& [key, value] : tc.attrs.items()) {
        const Shape* s = std::get_if<Shape>(&value);
        attrs.Set(key, s != nullptr ? AttrValue(s->Specialize(5)) : value);
      }
      std::vector<const Buffer*> ptrs;
      for (const Buffer& b : inputs) ptrs.push_back(&b);
      ExpectTinyChunksMatchReference(*op, ptrs, attrs);
    }
  }
}

TEST(IndexMapsTest, LargerShapesHitEveryCopyPath) {
  std::mt19937_64 rng(2);
  for (DType t : {DType::kF32, DType::kBool, DType::kI64}) {
    const Buffer x = RandomBuffer(t, Shape{37, 5, 41}, rng);
    for (IntList perm : {IntList{2, 1, 0}, IntList{1, 0, 2}, IntList{0, 2, 1}, IntList{2, 0, 1}}) {
      ExpectTinyChunksMatchReference(kTransposeOp, {&x}, Attrs{{"permutation", perm}});
    }
    ExpectTinyChunksMatchReference(
        kSliceOp, {&x},
        Attrs{{"begin", IntList{3, 0, 1}}, {"end", IntList{kEnd, 5, 40}}, {"strides", IntList{4, 1, 3}}});
    ExpectTinyChunksMatchReference(
        kPadOp, {&x},
        Attrs{{"low", IntList{1, 0, 2}}, {"high", IntList{0, 3, 1}}, {"interior", IntList{2, 0, 1}},
              {"value", 1.0}});
    const Buffer y = RandomBuffer(t, Shape{37, 2, 41}, rng);
    ExpectTinyChunksMatchReference(kConcatOp, {&x, &y},
                                   Attrs{{"axis", int64_t{1}}});
  }
}

Buffer Eval(const Tensor& y, const Feeds& feeds) {
  absl::StatusOr<std::vector<Buffer>> out = EvaluateTensors({y}, feeds);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? std::move((*out)[0]) : Buffer();
}

TEST(ReduceMaxTest, NanPropagatesAndEmptyGivesMinusInfinity) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{3, 20});
  std::vector<float> v(60, 1.0f);
  v[5] = nan;   // row 0, column 5
  v[59] = nan;  // row 2, column 19 (a vector tail)
  const Buffer xv = Buffer::FromVector<float>(Shape{3, 20}, v);
  const Buffer rows = Eval(ReduceMax(x, {1}), {{"x", &xv}});
  EXPECT_TRUE(std::isnan(rows.data<float>()[0]));
  EXPECT_EQ(rows.data<float>()[1], 1.0f);
  EXPECT_TRUE(std::isnan(rows.data<float>()[2]));
  const Buffer columns = Eval(ReduceMax(x, {0}), {{"x", &xv}});
  for (int c = 0; c < 20; ++c) {
    EXPECT_EQ(std::isnan(columns.data<float>()[c]), c == 5 || c == 19) << c;
  }
  Tensor empty = Input(g, "e", DType::kF32, Shape{2, 0});
  const Buffer ev(DType::kF32, Shape{2, 0});
  const Buffer m = Eval(ReduceMax(empty, {1}), {{"e", &ev}});
  EXPECT_EQ(m.data<float>()[0], -inf);
}

TEST(ReduceMaxTest, GradientIsSharedAmongTiedMaxima) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{2, 3});
  absl::StatusOr<std::vector<Tensor>> grads = Grad(ReduceSum(ReduceMax(x, {1}), {0}), {x});
  ASSERT_TRUE(grads.ok()) << grads.status();
  const Buffer xv = Buffer::FromVector<float>(Shape{2, 3}, {1, 3, 3, 5, 5, 5});
  const Buffer dx = Eval((*grads)[0], {{"x", &xv}});
  const std::vector<float> want = {0, 0.5f, 0.5f, 1 / 3.0f, 1 / 3.0f, 1 / 3.0f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(dx.data<float>()[i], want[i]) << i;
}

TEST(GatherTest, OutOfRangeIndexNamesIndexAndPosition) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{5, 10});
  Tensor idx = Input(g, "i", DType::kI64, Shape{5});
  const Buffer xv = Buffer::Zeros(DType::kF32, Shape{5, 10});
  for (int64_t bad : {12, -1}) {
    const Buffer iv = Buffer::FromVector<int64_t>(Shape{5}, {0, 9, 1, bad, 2});
    absl::StatusOr<std::vector<Buffer>> out =
        EvaluateTensors({Gather(x, idx, 1)}, {{"x", &xv}, {"i", &iv}});
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().message(),
              absl::StrCat("[gather] index ", bad, " is out of range [0, 10) at position 3"));
  }
}

TEST(OneHotTest, OutOfRangeIndicesGiveZeroRows) {
  auto g = Graph::Create();
  Tensor idx = Input(g, "i", DType::kI32, Shape{4});
  const Buffer iv = Buffer::FromVector<int32_t>(Shape{4}, {2, -1, 3, 0});
  const Buffer y = Eval(OneHot(idx, 3), {{"i", &iv}});
  const std::vector<float> want = {0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(y.data<float>()[i], want[i]) << i;
}

// slice's gradient is a pad and pad's a slice, both back to the input's
// shape (N included): d sum(slice(x)) / dx marks each sliced element once,
// d sum(pad(x)) / dx is all ones.
TEST(IndexMapsTest, SliceAndPadGradientsRestoreTheInputShape) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 11, 7});
  Tensor s = Slice(x, {0, 2, 1}, {kEnd, 10, kEnd}, {1, 3, 2});
  ASSERT_TRUE(s.ok()) << g->status();
  EXPECT_EQ(s.shape(), (Shape{Shape::kBatch, 3, 3}));
  absl::StatusOr<std::vector<Tensor>> gs = Grad(ReduceSum(s, {0, 1, 2}), {x});
  ASSERT_TRUE(gs.ok()) << gs.status();
  EXPECT_EQ((*gs)[0].shape(), x.shape());
  Tensor p = Pad(x, {0, 1, 0}, {0, 2, 3}, {0, 2, 1}, -1.0);
  ASSERT_TRUE(p.ok()) << g->status();
  absl::StatusOr<std::vector<Tensor>> gp = Grad(ReduceSum(p, {0, 1, 2}), {x});
  ASSERT_TRUE(gp.ok()) << gp.status();
  EXPECT_EQ((*gp)[0].shape(), x.shape());
  std::mt19937_64 rng(3);
  const Buffer xv = RandomBuffer(DType::kF32, Shape{2, 11, 7}, rng);
  const Buffer ds = Eval((*gs)[0], {{"x", &xv}});
  const Buffer dp = Eval((*gp)[0], {{"x", &xv}});
  double ones_s = 0, ones_p = 0;
  for (int64_t i = 0; i < ds.num_elements(); ++i) {
    ones_s += ds.data<float>()[i];
    ones_p += dp.data<float>()[i];
  }
  EXPECT_EQ(ones_s, 2 * 3 * 3);  // one per sliced element
  EXPECT_EQ(ones_p, 2 * 11 * 7);  // every input element lands once in the pad
}

}  // namespace
}  // namespace kiln
