// Fusion plans and kernel schedules in text-in/text-out form.
#include "codegen/fusion_plan.h"

#include "codegen/kernel_schedule.h"
#include "graph/evaluate.h"
#include "graph/text.h"
#include "gtest/gtest.h"
#include "ops/catalog.h"

namespace kiln {
namespace {

struct PlanCase {
  const char* label;
  const char* graph;
  const char* plan;
};

class FusionPlanTest : public testing::TestWithParam<PlanCase> {};

TEST_P(FusionPlanTest, PlansAsExpected) {
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(GetParam().graph, Ops());
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<FusionPlan> plan = PlanFusion(**g);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->ToString(**g), GetParam().plan);
}

INSTANTIATE_TEST_SUITE_P(
    Table, FusionPlanTest,
    testing::Values(
        PlanCase{"an elementwise chain is one kernel",
                 "%0:f32[64] = input() {dtype=f32, name=\"x\", shape=[64]}\n"
                 "%1:f32[] = constant() {value=f32[]{1.5}}\n"
                 "%2:f32[64] = mul(%0, %1)\n"
                 "%3:f32[64] = exp(%2)\n"
                 "%4:f32[64] = add(%3, %0)\n"
                 "return %4\n",
                 "k0 fused_mul_exp_add_k0 jit: %2 %3 %4 <- reads %0\n"},
        PlanCase{"a reduction takes its producers; a shared producer is recomputed",
                 "%0:f32[8,32] = input() {dtype=f32, name=\"x\", shape=[8,32]}\n"
                 "%1:f32[8,32] = exp(%0)\n"
                 "%2:f32[8,1] = reduce_sum(%1) {axes=(1), keepdims=1}\n"
                 "%3:f32[8,32] = div(%1, %2)\n"
                 "return %3\n",
                 "k0 fused_exp_reduce_sum_k0 jit: %1 %2 <- reads %0\n"
                 "k1 fused_exp_div_k1 jit: %1 %3 <- reads %0 %2\n"
                 "no: %2 (reduce_sum) not fused: a reduction: reductions are kernel roots\n"
                 "copy: %1 (exp) computed in 2 kernels instead of a round trip through memory\n"},
        PlanCase{"a value read by more than three kernels is written once; its elementwise readers "
                 "join its kernel",
                 "%0:f32[8] = input() {dtype=f32, name=\"x\", shape=[8]}\n"
                 "%1:f32[8] = exp(%0)\n"
                 "%2:f32[] = reduce_sum(%1) {axes=(0), keepdims=0}\n"
                 "%3:f32[] = reduce_max(%1) {axes=(0), keepdims=0}\n"
                 "%4:f32[8] = neg(%1)\n"
                 "%5:f32[8] = sqrt(%1)\n"
                 "return %2, %3, %4, %5\n",
                 "k0 fused_exp_neg_sqrt_k0 jit: %1 %4 %5 <- reads %0\n"
                 "k1 fused_reduce_sum_k1 jit: %2 <- reads %1\n"
                 "k2 fused_reduce_max_k2 jit: %3 <- reads %1\n"
                 "no: %1 (exp) not fused: read by 4 kernels: computed once\n"
                 "sibling: k3 merged into k0: it reads %1 where k0 writes it\n"
                 "sibling: k3 merged into k0: it reads %1 where k0 writes it\n"},
        PlanCase{"a kernel that reads another's output elsewhere than in place stays apart",
                 "%0:f32[4,4] = input() {dtype=f32, name=\"x\", shape=[4,4]}\n"
                 "%1:f32[4,4] = exp(%0)\n"
                 "%2:f32[4,4] = transpose(%1) {permutation=(1,0)}\n"
                 "%3:f32[4,4] = neg(%2)\n"
                 "return %1, %3\n",
                 "k0 fused_exp_k0 jit: %1 <- reads %0\n"
                 "k1 fused_transpose_neg_k1 jit: %2 %3 <- reads %1\n"
                 "no: %1 (exp) not fused: a program output: it is written to memory anyway\n"},
        PlanCase{"a contraction is a GEMM kernel that takes its reader as an epilogue and the "
                 "elementwise producer of A as a prologue",
                 "%0:f32[4,8] = input() {dtype=f32, name=\"x\", shape=[4,8]}\n"
                 "%1:f32[8,5] = input() {dtype=f32, name=\"w\", shape=[8,5]}\n"
                 "%2:f32[4,8] = neg(%0)\n"
                 "%3:f32[4,5] = matmul(%2, %1) {transpose_a=0, transpose_b=0}\n"
                 "%4:f32[4,5] = tanh(%3)\n"
                 "return %4\n",
                 "k0 fused_neg_matmul_tanh_k0 contraction: %2 %3 %4 <- reads %0 %1\n"},
        PlanCase{"B and a transposed A are read from memory",
                 "%0:f32[8,4] = input() {dtype=f32, name=\"x\", shape=[8,4]}\n"
                 "%1:f32[8,5] = input() {dtype=f32, name=\"w\", shape=[8,5]}\n"
                 "%2:f32[8,4] = neg(%0)\n"
                 "%3:f32[8,5] = exp(%1)\n"
                 "%4:f32[4,5] = matmul(%2, %3) {transpose_a=1, transpose_b=0}\n"
                 "return %4\n",
                 "k0 fused_neg_k0 jit: %2 <- reads %0\n"
                 "k1 fused_exp_k1 jit: %3 <- reads %1\n"
                 "k2 matmul_k2 contraction: %4 <- reads %2 %3\n"
                 "no: %3 (exp) not fused: its reader %4 (matmul) is a GEMM: it reads its B operand "
                 "from memory\n"
                 "no: %2 (neg) not fused: its reader %4 (matmul) is a GEMM: it reads A through "
                 "windows or strides, from memory\n"},
        PlanCase{"a GEMM of at most four columns keeps its rows in the lanes and takes no epilogue",
                 "%0:f32[4,8] = input() {dtype=f32, name=\"x\", shape=[4,8]}\n"
                 "%1:f32[8,3] = input() {dtype=f32, name=\"w\", shape=[8,3]}\n"
                 "%2:f32[4,3] = matmul(%0, %1) {transpose_a=0, transpose_b=0}\n"
                 "%3:f32[4,3] = tanh(%2)\n"
                 "return %3\n",
                 "k0 matmul_k0 contraction: %2 <- reads %0 %1\n"
                 "k1 fused_tanh_k1 jit: %3 <- reads %2\n"
                 "no: %2 (matmul) takes no epilogue: its GEMM has 3 columns: its rows fill the "
                 "vector lanes\n"},
        PlanCase{"a broadcast producer is computed once, not once per use",
                 "%0:f32[16] = input() {dtype=f32, name=\"b\", shape=[16]}\n"
                 "%1:f32[4,16] = input() {dtype=f32, name=\"x\", shape=[4,16]}\n"
                 "%2:f32[16] = exp(%0)\n"
                 "%3:f32[4,16] = add(%1, %2)\n"
                 "return %3\n",
                 "k0 fused_exp_k0 jit: %2 <- reads %0\n"
                 "k1 fused_add_k1 jit: %3 <- reads %1 %2\n"
                 "no: %2 (exp) not fused: smaller than the loop of %3 (add): computed once "
                 "instead of once per use\n"},
        PlanCase{"sibling kernels over one input merge into a two-output kernel",
                 "%0:f32[64] = input() {dtype=f32, name=\"x\", shape=[64]}\n"
                 "%1:f32[64] = exp(%0)\n"
                 "%2:f32[64] = neg(%0)\n"
                 "%3:f32[64] = tanh(%2)\n"
                 "return %1, %3\n",
                 "k0 fused_exp_neg_tanh_k0 jit: %1 %2 %3 <- reads %0\n"
                 "sibling: k1 merged into k0: both read %0\n"},
        PlanCase{"index maps fuse into their reader; reshape reads memory",
                 "%0:f32[6,4] = input() {dtype=f32, name=\"x\", shape=[6,4]}\n"
                 "%1:f32[6,4] = exp(%0)\n"
                 "%2:f32[4,6] = transpose(%1) {permutation=(1,0)}\n"
                 "%3:f32[24] = reshape(%2) {shape=[24]}\n"
                 "%4:f32[24] = neg(%3)\n"
                 "return %4\n",
                 "k0 fused_exp_transpose_k0 jit: %1 %2 <- reads %0\n"
                 "k1 fused_reshape_neg_k1 jit: %3 %4 <- reads %2\n"
                 "no: %2 (transpose) not fused: read by position through %3 (reshape), "
                 "which needs it in memory\n"}));

TEST(KernelScheduleTest, BroadcastBiasAndCollapsedLoops) {
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(
      "%0:f32[8,10,32] = input() {dtype=f32, name=\"x\", shape=[8,10,32]}\n"
      "%1:f32[32] = input() {dtype=f32, name=\"b\", shape=[32]}\n"
      "%2:f32[8,10,32] = add(%0, %1)\n"
      "%3:f32[] = constant() {value=f32[]{0}}\n"
      "%4:f32[8,10,32] = maximum(%3, %2)\n"
      "return %4\n",
      Ops());
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<FusionPlan> plan = PlanFusion(**g);
  ASSERT_TRUE(plan.ok());
  absl::StatusOr<KernelSchedule> s = ScheduleKernel(**g, plan->groups[0], 16);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ToString(**g),
            "loop [80 x 32] elementwise vector 16 chunk 32 work 80\n"
            "  v0 = const 0\n"
            "  v1 = load %0 @ 32*i0 + 1*i1\n"
            "  v2 = load %1 @ 1*i1\n"
            "  v3 = add(v1, v2)\n"
            "  v4 = maximum(v0, v3)\n"
            "  store v4 @ 32*i0 + 1*i1\n");
}

TEST(KernelScheduleTest, ColumnReductionKeepsTheInnerDimensionInLanes) {
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(
      "%0:f32[100,40] = input() {dtype=f32, name=\"g\", shape=[100,40]}\n"
      "%1:f32[40] = reduce_sum(%0) {axes=(0), keepdims=0}\n"
      "return %1\n",
      Ops());
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<FusionPlan> plan = PlanFusion(**g);
  ASSERT_TRUE(plan.ok());
  absl::StatusOr<KernelSchedule> s = ScheduleKernel(**g, plan->groups[0], 16);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ToString(**g),
            "loop [100r x 40] column-reduce vector 16 chunk 16 work 3\n"
            "  v0 = load %0 @ 40*i0 + 1*i1\n"
            "  reduce_sum v0\n"
            "  store r @ 1*i1\n");
}

TEST(KernelScheduleTest, RowReductionOfASoftmaxDenominator) {
  absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(
      "%0:f32[64,10] = input() {dtype=f32, name=\"z\", shape=[64,10]}\n"
      "%1:f32[64,1] = input() {dtype=f32, name=\"m\", shape=[64,1]}\n"
      "%2:f32[64,10] = sub(%0, %1)\n"
      "%3:f32[64,10] = exp(%2)\n"
      "%4:f32[64,1] = reduce_sum(%3) {axes=(1), keepdims=1}\n"
      "return %4\n",
      Ops());
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<FusionPlan> plan = PlanFusion(**g);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->groups.size(), 1u);
  absl::StatusOr<KernelSchedule> s = ScheduleKernel(**g, plan->groups[0], 16);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ToString(**g),
            "loop [64 x 10r] row-reduce vector 16 chunk 10 work 64\n"
            "  v0 = load %0 @ 10*i0 + 1*i1\n"
            "  v1 = load %1 @ 1*i0\n"
            "  v2 = sub(v0, v1)\n"
            "  v3 = exp(v2)\n"
            "  reduce_sum v3\n"
            "  store r @ 1*i0\n");
}

}  // namespace
}  // namespace kiln
