// Passes in text-in/text-out form: each case is a graph before and after.
#include "graph/passes.h"

#include "gtest/gtest.h"
#include "graph/text.h"
#include "ops/catalog.h"

namespace kiln {
namespace {

std::shared_ptr<Graph> Parse(const std::string& text) {
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(text, Ops());
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *g : Graph::Create();
}

constexpr char kX[] = "%0:f32[N,3] = input() {dtype=f32, name=\"x\", shape=[N,3]}\n";

TEST(DeadCodeTest, RemovesWhatTheOutputsDoNotUse) {
  auto g = Parse(std::string(kX) +
                 "%1:f32[N,3] = exp(%0)\n"
                 "%2:f32[N,3] = neg(%0)\n"
                 "%3:f32[N,3] = neg(%2)\n"
                 "return %3\n");
  absl::StatusOr<bool> changed = EliminateDeadCode(*g);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(PrintGraph(*g), std::string(kX) +
                                "%1:f32[N,3] = neg(%0)\n"
                                "%2:f32[N,3] = neg(%1)\n"
                                "return %2\n");
  EXPECT_FALSE(*EliminateDeadCode(*g)) << "a second run finds nothing";
}

TEST(CommonSubexpressionTest, MergesIdenticalNodes) {
  auto g = Parse(std::string(kX) +
                 "%1:f32[N,3] = exp(%0)\n"
                 "%2:f32[N,3] = exp(%0)\n"
                 "%3:f32[N,3] = add(%1, %2)\n"
                 "%4:f32[N] = reduce_sum(%3) {axes=(1), keepdims=0}\n"
                 "%5:f32[N] = reduce_sum(%3) {axes=(1), keepdims=0}\n"
                 "%6:f32[N,1] = reduce_sum(%3) {axes=(1), keepdims=1}\n"
                 "return %4, %5, %6\n");
  EXPECT_TRUE(*EliminateCommonSubexpressions(*g));
  EXPECT_TRUE(*EliminateDeadCode(*g));
  EXPECT_EQ(PrintGraph(*g), std::string(kX) +
                                "%1:f32[N,3] = exp(%0)\n"
                                "%2:f32[N,3] = add(%1, %1)\n"
                                "%3:f32[N] = reduce_sum(%2) {axes=(1), keepdims=0}\n"
                                "%4:f32[N,1] = reduce_sum(%2) {axes=(1), keepdims=1}\n"
                                "return %3, %3, %4\n");
  EXPECT_FALSE(*EliminateCommonSubexpressions(*g));
}

constexpr char kCube[] = "%0:f32[2,3,4] = input() {dtype=f32, name=\"x\", shape=[2,3,4]}\n";

TEST(InverseIndexMapTest, DropsATransposeOrReshapeAndItsInverse) {
  auto g = Parse(std::string(kCube) +
                 "%1:f32[3,4,2] = transpose(%0) {permutation=(1,2,0)}\n"
                 "%2:f32[2,3,4] = transpose(%1) {permutation=(2,0,1)}\n"
                 "%3:f32[24] = reshape(%0) {shape=[24]}\n"
                 "%4:f32[2,3,4] = reshape(%3) {shape=[2,3,4]}\n"
                 "%5:f32[2,3,4] = add(%2, %4)\n"
                 "return %5\n");
  EXPECT_TRUE(*EliminateInverseIndexMaps(*g));
  EXPECT_TRUE(*EliminateDeadCode(*g));
  EXPECT_EQ(PrintGraph(*g), std::string(kCube) +
                                "%1:f32[2,3,4] = add(%0, %0)\n"
                                "return %1\n");
  EXPECT_FALSE(*EliminateInverseIndexMaps(*g));
}

TEST(InverseIndexMapTest, KeepsMapsThatDoNotUndoEachOther) {
  // The same permutation twice; a reshape to other dims; a slice and a
  // broadcast back to the shape (indices, not values, come back).
  const std::string text = std::string(kCube) +
                           "%1:f32[3,4,2] = transpose(%0) {permutation=(1,2,0)}\n"
                           "%2:f32[4,2,3] = transpose(%1) {permutation=(1,2,0)}\n"
                           "%3:f32[6,4] = reshape(%0) {shape=[6,4]}\n"
                           "%4:f32[4,6] = reshape(%3) {shape=[4,6]}\n"
                           "%5:f32[1,3,4] = slice(%0) {begin=(0,0,0), end=(1,3,4), "
                           "strides=(1,1,1)}\n"
                           "%6:f32[2,3,4] = broadcast_to(%5) {shape=[2,3,4]}\n"
                           "return %2, %4, %6\n";
  auto g = Parse(text);
  EXPECT_FALSE(*EliminateInverseIndexMaps(*g));
  EXPECT_EQ(PrintGraph(*g), text);
}

TEST(InverseIndexMapTest, DropsAPairAcrossAnElementwiseNode) {
  // neg and add run on the untransposed values; the maps become dead code.
  auto g = Parse(std::string(kCube) +
                 "%1:f32[2,3,4] = input() {dtype=f32, name=\"y\", shape=[2,3,4]}\n"
                 "%2:f32[3,4,2] = transpose(%0) {permutation=(1,2,0)}\n"
                 "%3:f32[3,4,2] = transpose(%1) {permutation=(1,2,0)}\n"
                 "%4:f32[3,4,2] = neg(%2)\n"
                 "%5:f32[2,3,4] = transpose(%4) {permutation=(2,0,1)}\n"
                 "%6:f32[3,4,2] = add(%2, %3)\n"
                 "%7:f32[2,3,4] = transpose(%6) {permutation=(2,0,1)}\n"
                 "return %5, %7\n");
  EXPECT_TRUE(*EliminateInverseIndexMaps(*g));
  EXPECT_TRUE(*EliminateDeadCode(*g));
  EXPECT_EQ(PrintGraph(*g), std::string(kCube) +
                                "%1:f32[2,3,4] = neg(%0)\n"
                                "%2:f32[2,3,4] = input() {dtype=f32, name=\"y\", shape=[2,3,4]}\n"
                                "%3:f32[2,3,4] = add(%0, %2)\n"
                                "return %1, %3\n");
}

TEST(InverseIndexMapTest, KeepsAnElementwiseNodeOthersReadOrThatBroadcasts) {
  // %3 is also an output; %6 adds a broadcast row, not a transposed value.
  const std::string text = std::string(kCube) +
                           "%1:f32[3,4,2] = transpose(%0) {permutation=(1,2,0)}\n"
                           "%2:f32[3,4,2] = neg(%1)\n"
                           "%3:f32[2,3,4] = transpose(%2) {permutation=(2,0,1)}\n"
                           "%4:f32[2] = input() {dtype=f32, name=\"b\", shape=[2]}\n"
                           "%5:f32[3,4,2] = add(%1, %4)\n"
                           "%6:f32[2,3,4] = transpose(%5) {permutation=(2,0,1)}\n"
                           "return %2, %3, %6\n";
  auto g = Parse(text);
  EXPECT_FALSE(*EliminateInverseIndexMaps(*g));
  EXPECT_EQ(PrintGraph(*g), text);
}

TEST(ConstantFoldingTest, EvaluatesConstantSubgraphsWithTheirKernels) {
  auto g = Parse(std::string(kX) +
                 "%1:f32[2] = constant() {value=f32[2]{1,2}}\n"
                 "%2:f32[2] = neg(%1)\n"
                 "%3:f32[] = reduce_sum(%2) {axes=(0), keepdims=0}\n"
                 "%4:f32[N,3] = mul(%0, %3)\n"
                 "return %4\n");
  EXPECT_TRUE(*FoldConstants(*g, Ops()));
  EXPECT_TRUE(*EliminateDeadCode(*g));
  EXPECT_EQ(PrintGraph(*g), std::string(kX) +
                                "%1:f32[] = constant() {value=f32[]{-3}}\n"
                                "%2:f32[N,3] = mul(%0, %1)\n"
                                "return %2\n");
  EXPECT_FALSE(*FoldConstants(*g, Ops()));
}

TEST(ConstantFoldingTest, LeavesLargeResultsAlone) {
  auto g = Parse(
      "%0:f32[] = constant() {value=f32[]{2}}\n"
      "%1:f32[1000] = broadcast_to(%0) {shape=[1000]}\n"
      "return %1\n");
  EXPECT_FALSE(*FoldConstants(*g, Ops(), /*max_elements=*/100));
}

TEST(TopologicalOrderTest, PutsInputsBeforeUsers) {
  auto g = Parse(std::string(kX) +
                 "%1:f32[N,3] = exp(%0)\n"
                 "%2:f32[N,3] = neg(%1)\n"
                 "return %2\n");
  // Make %1 read a node appended after it, as a rewrite might.
  absl::StatusOr<NodeId> late = g->AddNode(*Ops().Find("neg"), {0}, {});
  ASSERT_TRUE(late.ok());
  g->mutable_node(1).inputs = {*late};
  EXPECT_FALSE(VerifyGraph(*g).ok());
  EXPECT_EQ(TopologicalOrder(*g), (std::vector<NodeId>{0, 3, 1, 2}));
  EXPECT_TRUE(*EliminateDeadCode(*g));
  EXPECT_TRUE(VerifyGraph(*g).ok());
  EXPECT_EQ(PrintGraph(*g), std::string(kX) +
                                "%1:f32[N,3] = neg(%0)\n"
                                "%2:f32[N,3] = exp(%1)\n"
                                "%3:f32[N,3] = neg(%2)\n"
                                "return %3\n");
}

TEST(VerifierTest, CatchesATypeThatDisagreesWithTheShapeRule) {
  auto g = Parse(std::string(kX) + "%1:f32[N,3] = exp(%0)\nreturn %1\n");
  ASSERT_TRUE(VerifyGraph(*g).ok());
  g->mutable_node(1).type.shape = Shape{4};
  absl::Status s = VerifyGraph(*g);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("recorded as f32[4]"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace kiln
