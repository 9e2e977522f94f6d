// The buffer planner: values alive at the same time never overlap; values
// that are not share memory.
#include "codegen/buffer_plan.h"

#include <random>

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(BufferPlanTest, ReusesMemoryOfDeadValues) {
  BufferPlan p = PlanBuffers({{.bytes = 400, .first = 0, .last = 2},
                              {.bytes = 400, .first = 3, .last = 4},
                              {.bytes = 100, .first = 1, .last = 3}});
  EXPECT_EQ(p.offsets[0], 0);
  EXPECT_EQ(p.offsets[1], 0);
  EXPECT_EQ(p.offsets[2], 448);
  EXPECT_EQ(p.arena_bytes, 576);
}

TEST(BufferPlanTest, RandomLifetimesNeverOverlapWhileAlive) {
  std::mt19937 rng(5);
  for (int round = 0; round < 50; ++round) {
    std::vector<BufferLifetime> v;
    int64_t total = 0;
    for (int i = 0; i < 30; ++i) {
      const int first = rng() % 20;
      v.push_back({.bytes = 1 + static_cast<int64_t>(rng() % 5000), .first = first,
                   .last = first + static_cast<int>(rng() % 6)});
      total += (v.back().bytes + 63) / 64 * 64;
    }
    BufferPlan p = PlanBuffers(v);
    EXPECT_LE(p.arena_bytes, total);
    for (size_t a = 0; a < v.size(); ++a) {
      EXPECT_EQ(p.offsets[a] % 64, 0);
      for (size_t b = a + 1; b < v.size(); ++b) {
        const bool alive_together = !(v[a].last < v[b].first || v[b].last < v[a].first);
        const bool disjoint = p.offsets[a] + v[a].bytes <= p.offsets[b] ||
                              p.offsets[b] + v[b].bytes <= p.offsets[a];
        if (alive_together) EXPECT_TRUE(disjoint) << a << " and " << b;
      }
    }
  }
}

}  // namespace
}  // namespace kiln
