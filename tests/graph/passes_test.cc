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
