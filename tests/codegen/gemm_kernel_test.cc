// The GEMM kernel called directly: schedules for every vector width the
// generator supports (128, 256, 512 bits: other tiles and packing paths),
// and any split of the work items into calls gives the same bits; the
// window kernels (depthwise, pooling) likewise at every width.
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>

#include "codegen/fusion_plan.h"
#include "codegen/gemm_emitter_internal.h"
#include "codegen/gemm_schedule.h"
#include "codegen/window_emitter_internal.h"
#include "codegen/window_schedule.h"
#include "codegen/jit_internal.h"
#include "graph/text.h"
#include "gtest/gtest.h"
#include "llvm/IR/LLVMContext.h"
#include "ops/catalog.h"
#include "ops/ops.h"

namespace kiln {
namespace {

using GemmFn = void (*)(char**, int64_t, int64_t, char*);

struct Compiled {
  GemmSchedule schedule;
  GemmFn fn = nullptr;
};

Compiled Compile(const Graph& g, int vector_bits) {
  absl::StatusOr<FusionPlan> plan = PlanFusion(g);
  EXPECT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->groups.size(), 1u);
  Compiled c;
  absl::StatusOr<GemmSchedule> s = ScheduleGemm(g, plan->groups[0], vector_bits);
  EXPECT_TRUE(s.ok()) << s.status();
  c.schedule = *s;
  c.schedule.name = absl::StrCat(c.schedule.name, "_", vector_bits);
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = std::make_unique<llvm::Module>("gemm", *context);
  absl::Status emitted = EmitGemmKernel(g, c.schedule, *module);
  EXPECT_TRUE(emitted.ok()) << emitted;
  absl::StatusOr<KernelJit*> jit = KernelJit::Default();
  EXPECT_TRUE(jit.ok());
  absl::StatusOr<std::vector<void*>> fns = (*jit)->Compile(
      llvm::orc::ThreadSafeModule(std::move(module), std::move(context)), {c.schedule.name});
  EXPECT_TRUE(fns.ok()) << fns.status();
  if (fns.ok()) c.fn = reinterpret_cast<GemmFn>((*fns)[0]);
  return c;
}

// Runs work items [0, items) in calls of `step` items each.
std::vector<float> RunItems(const Compiled& c, std::vector<std::vector<float>>& inputs,
                            int64_t out_elements, int64_t step) {
  std::vector<float> out(out_elements, -7.0f);
  std::vector<char*> buffers;
  for (auto& in : inputs) buffers.push_back(reinterpret_cast<char*>(in.data()));
  buffers.push_back(reinterpret_cast<char*>(out.data()));
  std::unique_ptr<char, void (*)(void*)> scratch(
      static_cast<char*>(std::aligned_alloc(64, (c.schedule.scratch_bytes + 63) / 64 * 64)),
      std::free);
  for (int64_t b = 0; b < c.schedule.work_items; b += step) {
    c.fn(buffers.data(), b, std::min(b + step, c.schedule.work_items), scratch.get());
  }
  return out;
}

TEST(GemmKernelTest, EveryVectorWidthAndSplitMatchesANaiveLoop) {
  // (a or a^T) x (b or b^T) + bias; K = 37: vector and gather packing.
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const int64_t m = 70, n = 50, k = 37;
      const std::string sa = ta ? "[37,70]" : "[70,37]", sb = tb ? "[50,37]" : "[37,50]";
      const std::string text = absl::StrCat(
          "%0:f32", sa, " = input() {dtype=f32, name=\"a\", shape=", sa, "}\n", "%1:f32", sb,
          " = input() {dtype=f32, name=\"b\", shape=", sb, "}\n",
          "%2:f32[50] = input() {dtype=f32, name=\"c\", shape=[50]}\n",
          "%3:f32[70,50] = matmul(%0, %1) {transpose_a=", ta ? 1 : 0, ", transpose_b=", tb ? 1 : 0,
          "}\n", "%4:f32[70,50] = add(%3, %2)\nreturn %4\n");
      absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(text, Ops());
      ASSERT_TRUE(g.ok()) << g.status();
      std::mt19937 rng(5);
      std::uniform_real_distribution<float> u(-1, 1);
      std::vector<std::vector<float>> in = {std::vector<float>(m * k), std::vector<float>(k * n),
                                            std::vector<float>(n)};
      for (auto& v : in) {
        for (float& x : v) x = u(rng);
      }
      for (int bits : {128, 256, 512}) {
        const Compiled c = Compile(**g, bits);
        ASSERT_NE(c.fn, nullptr);
        std::vector<float> whole = RunItems(c, in, m * n, c.schedule.work_items);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double want = in[2][j];
            for (int64_t p = 0; p < k; ++p) {
              want += double{in[0][ta ? p * m + i : i * k + p]} * in[1][tb ? j * k + p : p * n + j];
            }
            ASSERT_NEAR(whole[i * n + j], want, 1e-5) << bits << " bits " << ta << tb;
          }
        }
        for (int64_t step : {int64_t{1}, int64_t{2}}) {
          EXPECT_EQ(RunItems(c, in, m * n, step), whole) << bits << " bits, steps of " << step;
        }
      }
    }
  }
}

// GEMMs of at most four columns keep the rows in the vector lanes: C's
// columns strided (n > 1) or contiguous (n = 1), a partial last row panel,
// at every vector width and split of the work items.
TEST(GemmKernelTest, NarrowGemmsKeepRowsInLanes) {
  const int64_t m = 70, k = 37;
  for (int64_t n = 1; n <= kRowsInLanesMaxColumns; ++n) {
    for (bool ta : {false, true}) {
      const std::string sa = ta ? "[37,70]" : "[70,37]", sb = absl::StrCat("[37,", n, "]");
      const std::string text = absl::StrCat(
          "%0:f32", sa, " = input() {dtype=f32, name=\"a\", shape=", sa, "}\n", "%1:f32", sb,
          " = input() {dtype=f32, name=\"b\", shape=", sb, "}\n", "%2:f32[70,", n,
          "] = matmul(%0, %1) {transpose_a=", ta ? 1 : 0, ", transpose_b=0}\nreturn %2\n");
      absl::StatusOr<std::shared_ptr<Graph>> g = ParseGraph(text, Ops());
      ASSERT_TRUE(g.ok()) << g.status();
      std::mt19937 rng(7);
      std::uniform_real_distribution<float> u(-1, 1);
      std::vector<std::vector<float>> in = {std::vector<float>(m * k), std::vector<float>(k * n)};
      for (auto& v : in) {
        for (float& x : v) x = u(rng);
      }
      for (int bits : {128, 256, 512}) {
        const Compiled c = Compile(**g, bits);
        ASSERT_NE(c.fn, nullptr);
        EXPECT_TRUE(c.schedule.rows_in_lanes) << c.schedule.ToString(**g);
        std::vector<float> whole = RunItems(c, in, m * n, c.schedule.work_items);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double want = 0;
            for (int64_t p = 0; p < k; ++p) {
              want += double{in[0][ta ? p * m + i : i * k + p]} * in[1][p * n + j];
            }
            ASSERT_NEAR(whole[i * n + j], want, 1e-5) << bits << " bits, n " << n << " " << ta;
          }
        }
        EXPECT_EQ(RunItems(c, in, m * n, 1), whole) << bits << " bits, n " << n;
      }
    }
  }
}

// Convolutions read A through windows: every packing path (transposed
// runs, gathers, cells along depth) at every vector width, against the op's
// scalar reference, and the same bits for any split of the work items.
TEST(GemmKernelTest, ImplicitConvolutionsAtEveryVectorWidth) {
  const Shape xs{2, 7, 6, 12}, ws{3, 2, 12, 20}, ys{2, 4, 7, 20};
  const IntList strides = {2, 1}, dilations = {1, 2}, low = {1, 1}, high = {1, 2};
  for (int which = 0; which < 3; ++which) {
    auto g = Graph::Create();
    Tensor x = Input(g, "x", DType::kF32, xs);
    Tensor w = Input(g, "w", DType::kF32, ws);
    Tensor dy = Input(g, "dy", DType::kF32, ys);
    // Depth multiplier 2: 42 output channels from 21 inputs.
    const Shape ws2{3, 2, 1, 42}, ys2{2, 4, 10, 42};
    Tensor w2 = Input(g, "w2", DType::kF32, ws2);
    Tensor dy2 = Input(g, "dy2", DType::kF32, ys2);
    Tensor out = which == 0   ? Conv(x, w, strides, dilations, low, high, 1)
                 : which == 1 ? ConvInputGrad(dy, w, xs, strides, dilations, low, high, 1)
                              : ConvFilterGrad(x, dy, ws, strides, dilations, low, high, 1);
    ASSERT_TRUE(g->status().ok()) << g->status();
    g->outputs() = {out.id()};
    const Node& node = g->node(out.id());
    std::mt19937 rng(which + 11);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<Buffer> inputs;
    std::vector<std::vector<float>> in;
    for (NodeId id : node.inputs) {
      inputs.emplace_back(DType::kF32, g->node(id).type.shape);
      for (float& v : inputs.back().span<float>()) v = u(rng);
      in.emplace_back(inputs.back().span<float>().begin(), inputs.back().span<float>().end());
    }
    Buffer want(DType::kF32, node.type.shape);
    std::vector<const Buffer*> views = {&inputs[0], &inputs[1]};
    ASSERT_TRUE(node.op->reference(KernelContext{views, &want, node.attrs, SerialParallelism()})
                    .ok());
    for (int bits : {128, 256, 512}) {
      const Compiled c = Compile(*g, bits);
      ASSERT_NE(c.fn, nullptr);
      ASSERT_TRUE(c.schedule.windows.has_value()) << c.schedule.ToString(*g);
      std::vector<float> whole = RunItems(c, in, want.num_elements(), c.schedule.work_items);
      for (int64_t i = 0; i < want.num_elements(); ++i) {
        ASSERT_NEAR(whole[i], want.data<float>()[i], 1e-4) << node.op->name << " " << bits;
      }
      EXPECT_EQ(RunItems(c, in, want.num_elements(), 1), whole) << node.op->name << " " << bits;
    }
  }
}

// Depthwise convolutions (forward and both gradients) and pooling (and its
// gradient) run window kernels: at every vector
// width (channel tails of 4-, 8- and 16-lane vectors) against the op's
// scalar reference.
TEST(WindowKernelTest, DepthwiseAndPoolingAtEveryVectorWidth) {
  const Shape xs{2, 7, 9, 21}, ws{3, 2, 1, 21}, ys{2, 4, 10, 21};
  const IntList strides = {2, 1}, dilations = {1, 2}, low = {1, 1}, high = {1, 2};
  for (int which = 0; which < 9; ++which) {
    auto g = Graph::Create();
    Tensor x = Input(g, "x", DType::kF32, xs);
    Tensor w = Input(g, "w", DType::kF32, ws);
    Tensor dy = Input(g, "dy", DType::kF32, ys);
    // Depth multiplier 2: 42 output channels from 21 inputs.
    const Shape ws2{3, 2, 1, 42}, ys2{2, 4, 10, 42};
    Tensor w2 = Input(g, "w2", DType::kF32, ws2);
    Tensor dy2 = Input(g, "dy2", DType::kF32, ys2);
    const IntList window = {3, 2}, pool_low = {1, 0}, pool_high = {1, 1};
    Tensor pooled = MaxPool(x, window, strides, pool_low, pool_high);
    // Non-overlapping windows (2x2, strides 2 and 3: a gap column, a tail
    // row, padding) scatter from each window once.
    const IntList apart = {2, 3}, apart_low = {0, 1}, apart_high = {1, 1};
    Tensor pooled_apart = MaxPool(x, {2, 2}, apart, apart_low, apart_high);
    Tensor out =
        which == 0   ? Conv(x, w, strides, dilations, low, high, 21)
        : which == 1 ? ConvInputGrad(dy, w, xs, strides, dilations, low, high, 21)
        : which == 2 ? pooled
        : which == 4 ? ConvFilterGrad(x, dy, ws, strides, dilations, low, high, 21)
        : which == 6 ? Conv(x, w2, strides, dilations, low, high, 21)
        : which == 7 ? ConvInputGrad(dy2, w2, xs, strides, dilations, low, high, 21)
        : which == 8 ? ConvFilterGrad(x, dy2, ws2, strides, dilations, low, high, 21)
        : which == 5 ? MaxPoolGrad(x,
                                   Input(g, "g", DType::kF32,
                                         g->node(pooled_apart.id()).type.shape),
                                   {2, 2}, apart, apart_low, apart_high)
                     : MaxPoolGrad(x, Input(g, "g", DType::kF32, g->node(pooled.id()).type.shape),
                                   window, strides, pool_low, pool_high);
    ASSERT_TRUE(g->status().ok()) << g->status();
    g->outputs() = {out.id()};
    const Node& node = g->node(out.id());
    std::mt19937 rng(which + 21);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<Buffer> inputs;
    for (NodeId id : node.inputs) {
      inputs.emplace_back(DType::kF32, g->node(id).type.shape);
      for (float& v : inputs.back().span<float>()) v = u(rng);
    }
    Buffer want(DType::kF32, node.type.shape);
    std::vector<const Buffer*> views;
    for (const Buffer& b : inputs) views.push_back(&b);
    ASSERT_TRUE(node.op->reference(KernelContext{views, &want, node.attrs, SerialParallelism()})
                    .ok());
    absl::StatusOr<FusionPlan> plan = PlanFusion(*g);
    ASSERT_TRUE(plan.ok()) << plan.status();
    const KernelGroup& group = plan->groups.back();
    ASSERT_EQ(group.kind, GroupKind::kWindow) << plan->ToString(*g);
    for (int bits : {128, 256, 512}) {
      absl::StatusOr<WindowSchedule> s = ScheduleWindow(*g, group, bits);
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ(s->scatters(), which == 5) << s->ToString();
      s->name = absl::StrCat(s->name, "_", which, "_", bits);
      auto context = std::make_unique<llvm::LLVMContext>();
      auto module = std::make_unique<llvm::Module>("window", *context);
      ASSERT_TRUE(EmitWindowKernel(*s, *module).ok());
      absl::StatusOr<KernelJit*> jit = KernelJit::Default();
      ASSERT_TRUE(jit.ok());
      absl::StatusOr<std::vector<void*>> fns = (*jit)->Compile(
          llvm::orc::ThreadSafeModule(std::move(module), std::move(context)), {s->name});
      ASSERT_TRUE(fns.ok()) << fns.status();
      auto* fn = reinterpret_cast<void (*)(char**, int64_t, int64_t)>((*fns)[0]);
      Buffer got(DType::kF32, node.type.shape);
      for (float& v : got.span<float>()) v = std::nanf("");  // every output is written
      std::vector<char*> buffers;
      for (Buffer& b : inputs) buffers.push_back(static_cast<char*>(b.raw()));
      buffers.push_back(static_cast<char*>(got.raw()));
      for (int64_t item = 0; item < s->work_items; ++item) fn(buffers.data(), item, item + 1);
      for (int64_t i = 0; i < want.num_elements(); ++i) {
        ASSERT_NEAR(got.data<float>()[i], want.data<float>()[i], 1e-5)
            << node.op->name << " " << bits << " bits at " << i;
      }
    }
  }
}

}  // namespace
}  // namespace kiln
