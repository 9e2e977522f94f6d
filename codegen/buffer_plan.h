// The buffer planner: places a program's intermediate values in one arena
// so that values whose lifetimes do not overlap share memory, and a program
// re-run allocates nothing.
//
//   BufferPlan plan = PlanBuffers({{.bytes = 400, .first = 0, .last = 2},
//                                  {.bytes = 400, .first = 3, .last = 4}});
//   plan.offsets == {0, 0};  plan.arena_bytes == 448 (64-byte aligned)
#ifndef KILN_CODEGEN_BUFFER_PLAN_H_
#define KILN_CODEGEN_BUFFER_PLAN_H_

#include <cstdint>
#include <vector>

namespace kiln {

struct BufferLifetime {
  int64_t bytes = 0;
  int first = 0;  // the step that writes it
  int last = 0;   // the last step that reads it (inclusive)
};

struct BufferPlan {
  std::vector<int64_t> offsets;  // per lifetime, 64-byte aligned
  int64_t arena_bytes = 0;
};

// Greedy best fit, largest first: a value goes at the lowest offset where
// it overlaps no value alive at the same time.
BufferPlan PlanBuffers(const std::vector<BufferLifetime>& lifetimes);

}  // namespace kiln

#endif  // KILN_CODEGEN_BUFFER_PLAN_H_
