#include "codegen/buffer_plan.h"

#include <algorithm>
#include <numeric>

namespace kiln {
namespace {

constexpr int64_t kAlign = 64;

int64_t RoundUp(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

}  // namespace

BufferPlan PlanBuffers(const std::vector<BufferLifetime>& lifetimes) {
  BufferPlan plan;
  plan.offsets.assign(lifetimes.size(), 0);
  std::vector<size_t> order(lifetimes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return lifetimes[a].bytes > lifetimes[b].bytes;
  });
  std::vector<size_t> placed;
  for (size_t i : order) {
    const BufferLifetime& me = lifetimes[i];
    // Busy intervals of placed values alive at the same time, by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t j : placed) {
      const BufferLifetime& other = lifetimes[j];
      if (other.last < me.first || me.last < other.first) continue;
      busy.push_back({plan.offsets[j], plan.offsets[j] + RoundUp(other.bytes)});
    }
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + RoundUp(me.bytes) <= begin) break;
      offset = std::max(offset, end);
    }
    plan.offsets[i] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + RoundUp(me.bytes));
    placed.push_back(i);
  }
  return plan;
}

}  // namespace kiln
