// The graph builder: shape rules at build time, the first error recorded
// with op, layer and source line, poisoned tensors downstream.
#include "gtest/gtest.h"
#include "graph/graph.h"
#include "ops/ops.h"

namespace kiln {
namespace {

TEST(BuilderTest, InfersTypesAsTheGraphGrows) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 4});
  Tensor b = Input(g, "b", DType::kF32, Shape{4});
  Tensor y = ReduceSum(Exp(x + b), {1}, /*keepdims=*/true);
  ASSERT_TRUE(y.ok()) << g->status();
  EXPECT_EQ(y.shape(), (Shape{Shape::kBatch, 1}));
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_TRUE(g->status().ok());
}

TEST(BuilderTest, RecordsTheFirstErrorWithLayerAndLineAndPoisons) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 4});
  Tensor bad;
  int line = 0;
  {
    LayerScope scope("dense_1");
    line = __LINE__ + 1;
    bad = x + Input(g, "w", DType::kF32, Shape{5});
  }
  EXPECT_TRUE(bad.poisoned());
  EXPECT_EQ(g->status().message(),
            "[add] in layer 'dense_1' (builder_test.cc:" + std::to_string(line - 2) +
                "): shapes [N,4] and [5] do not broadcast (dimension 1: 4 vs 5)");
  // Downstream ops stay poisoned and keep the first error.
  Tensor later = Exp(bad) * 2.0;
  EXPECT_TRUE(later.poisoned());
  Tensor other = Log1p(Input(g, "i", DType::kI32, Shape{2}));
  EXPECT_TRUE(other.poisoned());
  EXPECT_NE(g->status().message().find("[add]"), absl::string_view::npos);
}

TEST(BuilderTest, OutsideALayerNamesTheCallersLine) {
  auto g = Graph::Create();
  Tensor i = Input(g, "i", DType::kI32, Shape{2});
  const int line = __LINE__ + 1;
  Tensor y = Exp(i);
  EXPECT_TRUE(y.poisoned());
  EXPECT_EQ(g->status().message(),
            "[exp] (builder_test.cc:" + std::to_string(line) +
                "): expected an f32 input, got i32[2]");
}

TEST(BuilderTest, RejectsTensorsFromAnotherGraph) {
  auto g1 = Graph::Create();
  auto g2 = Graph::Create();
  Tensor a = Input(g1, "a", DType::kF32, Shape{2});
  Tensor b = Input(g2, "b", DType::kF32, Shape{2});
  EXPECT_TRUE((a + b).poisoned());
  EXPECT_NE(g1->status().message().find("inputs come from different graphs"),
            absl::string_view::npos);
}

TEST(BuilderTest, FailRecordsACompositesArgumentError) {
  auto g = Graph::Create();
  Tensor t;
  {
    LayerScope scope("softmax_3");
    t = g->Fail("softmax", absl::InvalidArgumentError("needs rank >= 2"));
  }
  EXPECT_TRUE(t.poisoned());
  EXPECT_EQ(g->status().message().substr(0, 32), "[softmax] in layer 'softmax_3' (");
}

TEST(ShapeTest, BroadcastsWithTheSymbolicBatch) {
  EXPECT_EQ(*BroadcastShapes(Shape{Shape::kBatch, 1}, Shape{3}), (Shape{Shape::kBatch, 3}));
  EXPECT_EQ(*BroadcastShapes(Shape{1}, Shape{Shape::kBatch, 1}), (Shape{Shape::kBatch, 1}));
  EXPECT_FALSE(BroadcastShapes(Shape{Shape::kBatch}, Shape{3}).ok());
  EXPECT_EQ(Shape({Shape::kBatch, 2}).Specialize(5), (Shape{5, 2}));
  EXPECT_EQ(Shape({Shape::kBatch, 2}).ToString(), "[N,2]");
  EXPECT_EQ(*Shape::Parse("[N,28,28,1]"), (Shape{Shape::kBatch, 28, 28, 1}));
  EXPECT_FALSE(Shape::Parse("[2,x]").ok());
  EXPECT_EQ(*NormalizeAxis(-1, 3), 2);
  EXPECT_FALSE(NormalizeAxis(3, 3).ok());
}

TEST(BufferTest, IsAlignedTypedAndCopyable) {
  Buffer b = Buffer::FromVector<int32_t>(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.raw()) % Buffer::kAlignment, 0u);
  EXPECT_EQ(b.size_bytes(), 24u);
  EXPECT_EQ(b.GetAsDouble(5), 6.0);
  Buffer c = b.Clone();
  EXPECT_TRUE(c.BitwiseEquals(b));
  c.SetFromDouble(0, 9);
  EXPECT_FALSE(c.BitwiseEquals(b));
  EXPECT_EQ(b.ToString(), "i32[2,3]{1,2,3,4,5,6}");
  EXPECT_EQ(Buffer::Scalar(DType::kBool, 3.0).GetAsDouble(0), 1.0);
}

TEST(DTypeTest, NamesParseBack) {
  for (DType t : kAllDTypes) EXPECT_EQ(*ParseDType(DTypeName(t)), t);
  EXPECT_FALSE(ParseDType("f16").ok());
}

}  // namespace
}  // namespace kiln
