// Graph text: printer/parser round trip, attribute forms, parse errors.
#include "graph/text.h"

#include "gtest/gtest.h"
#include "ops/catalog.h"
#include "ops/ops.h"

namespace kiln {
namespace {

TEST(GraphTextTest, PrintsOneLinePerNodeWithTypesAndAttrs) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 3});
  Tensor y = ReduceSum(Exp(x), {1});
  g->outputs() = {y.id()};
  EXPECT_EQ(PrintGraph(*g),
            "%0:f32[N,3] = input() {dtype=f32, name=\"x\", shape=[N,3]}\n"
            "%1:f32[N,3] = exp(%0)\n"
            "%2:f32[N] = reduce_sum(%1) {axes=(1), keepdims=0}\n"
            "return %2\n");
}

TEST(GraphTextTest, RoundTripsThroughTheParser) {
  const std::string text =
      "%0:f32[N,4] = input() {dtype=f32, name=\"x\", shape=[N,4]}\n"
      "%1:f32[2] = constant() {value=f32[2]{1.5,-inf}}\n"
      "%2:f32[] = constant() {value=f32[]{0.1}}\n"
      "%3:f32[N,4] = mul(%0, %2)\n"
      "%4:f32[N,4] = exp(%3)\n"
      "%5:f32[N,1] = reduce_sum(%4) {axes=(-1), keepdims=1}\n"
      "return %5, %3\n";
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(text, Ops());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(PrintGraph(**g), text);
}

TEST(GraphTextTest, AcceptsCommentsAndRenumbers) {
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(
      "# a comment\n"
      "%10:f32[3] = input() {dtype=f32, name=\"x\", shape=[3]}  # trailing\n"
      "%20:f32[3] = neg(%10)\n"
      "return %20\n",
      Ops());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(PrintGraph(**g),
            "%0:f32[3] = input() {dtype=f32, name=\"x\", shape=[3]}\n"
            "%1:f32[3] = neg(%0)\n"
            "return %1\n");
}

struct BadText {
  const char* text;
  const char* message;
};

class GraphTextErrorTest : public testing::TestWithParam<BadText> {};

TEST_P(GraphTextErrorTest, ReportsTheLineAndTheProblem) {
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(GetParam().text, Ops());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find(GetParam().message), absl::string_view::npos)
      << g.status();
}

INSTANTIATE_TEST_SUITE_P(
    Table, GraphTextErrorTest,
    testing::Values(
        BadText{"%0:f32[3] = frobnicate()", "line 1: unknown op 'frobnicate'"},
        BadText{"%0:f32[3] = neg(%4)", "%4 is used before it is defined"},
        BadText{"%0:f32[3] = input() {dtype=f32, name=\"x\", shape=[3]}\n"
                "%1:f32[4] = neg(%0)",
                "line 2: %1 is written as f32[4] but neg gives f32[3]"},
        BadText{"%0:f32[3] = input() {dtype=f32, shape=[3]}", "missing attribute 'name'"},
        BadText{"%0:f32[3] = input() {dtype=f32, name=\"x\", shape=[3]", "unterminated"},
        BadText{"%0:f32[2] = constant() {value=f32[2]{1}}", "needs 2 values, got 1"},
        BadText{"%0:f32[3] = input() {dtype=f99, name=\"x\", shape=[3]}",
                "bad attribute value 'f99'"},
        BadText{"%0:f32[3] = input() {dtype=f32, name=\"x\", shape=[3]}\n"
                "%0:f32[3] = neg(%0)",
                "%0 is defined twice"},
        BadText{"return %3", "%3 is used before it is defined"}));

TEST(AttrTextTest, ParsesEveryValueForm) {
  EXPECT_EQ(AttrValueToString(*ParseAttrValue("7")), "7");
  EXPECT_EQ(AttrValueToString(*ParseAttrValue("-2.5")), "-2.5");
  EXPECT_EQ(AttrValueToString(*ParseAttrValue("-inf")), "-inf");
  EXPECT_EQ(AttrValueToString(*ParseAttrValue("(1,-2,3)")), "(1,-2,3)");
  EXPECT_EQ(AttrValueToString(*ParseAttrValue("[N,2]")), "[N,2]");
  EXPECT_EQ(AttrValueToString(*ParseAttrValue("i64")), "i64");
  EXPECT_EQ(AttrValueToString(*ParseAttrValue("\"same\"")), "\"same\"");
  EXPECT_EQ(AttrValueToString(*ParseAttrValue("i32[2]{3,4}")), "i32[2]{3,4}");
  EXPECT_EQ(AttrValueToString(*ParseAttrValue("0.1")), "0.1");
  EXPECT_FALSE(ParseAttrValue("(1,x)").ok());
  EXPECT_FALSE(ParseAttrValue("@").ok());
}

}  // namespace
}  // namespace kiln
