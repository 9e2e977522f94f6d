// A specialized program compiled for the JIT backend: fused kernels, GEMM
// kernels and interpreter ("library") steps over planned buffers.
//
// Build plans fusion, schedules and emits every JIT kernel (one LLVM module
// each, compiled and cached by KernelJit), and places intermediate values in
// one arena with the buffer planner. Run binds the feeds, runs the steps in
// order (each kernel split over the thread pool by work items; GEMM kernels
// pack into a per-thread scratch buffer that grows once and is reused) and
// returns the outputs.
//
// Updates: the last graph outputs may be new values of variables, written
// into the variables' buffers. A new value goes straight into its
// variable's buffer when nothing reads the old value after the step that
// computes it (or that step is an elementwise loop over the variable's
// shape, which loads element i, and all its inputs, before storing it);
// otherwise it is computed apart and copied at the end of the run.
//
//   KILN_ASSIGN_OR_RETURN(auto program, JitProgram::Build(specialized_graph, pool));
//   KILN_ASSIGN_OR_RETURN(std::vector<Buffer> out, program->Run(feeds));
#ifndef KILN_CODEGEN_JIT_PROGRAM_H_
#define KILN_CODEGEN_JIT_PROGRAM_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "codegen/fusion_plan.h"
#include "codegen/gemm_schedule.h"
#include "codegen/kernel_schedule.h"
#include "graph/evaluate.h"
#include "graph/graph.h"

namespace kiln {

class JitProgram {
 public:
  // `graph` is specialized (concrete shapes) and has its outputs set.
  // The last `updated_variables.size()` graph outputs are the new values
  // of the variables (fed nodes) of those names.
  static absl::StatusOr<std::unique_ptr<JitProgram>> Build(
      std::shared_ptr<const Graph> graph, const Parallelism& parallel,
      absl::Span<const std::string> updated_variables = {});

  // Runs the program; `outputs` receives one buffer per graph output that
  // is not an update and is reused (no allocation) when it already holds
  // buffers of the right types. `variables` are the updated variables'
  // buffers, in order (also fed by name in `feeds`).
  absl::Status Run(const Feeds& feeds, std::vector<Buffer>& outputs,
                   absl::Span<Buffer* const> variables = {});

  const FusionPlan& plan() const { return plan_; }
  // The plan and every kernel's schedule, as text.
  std::string ToString() const;
  int num_jit_kernels() const;

 private:
  struct Step {
    int group = -1;
    void (*kernel)(char**, int64_t, int64_t) = nullptr;  // null: library step
    void (*gemm)(char**, int64_t, int64_t, char*) = nullptr;  // a GEMM step instead
    int64_t scratch_bytes = 0;  // per thread, for a GEMM step
    int64_t work_items = 0;
    int64_t grain = 1;
    std::vector<int> slots;  // values read, then the values written
    int num_inputs = 0;
  };

  JitProgram(std::shared_ptr<const Graph> graph, const Parallelism& parallel)
      : graph_(std::move(graph)), parallel_(parallel) {}
  absl::Status PlanSlots();
  // Which update values are computed straight into their variable.
  void PlanInPlaceUpdates(const std::vector<int>& first, std::vector<int>& last);

  std::shared_ptr<const Graph> graph_;
  const Parallelism& parallel_;
  FusionPlan plan_;
  std::vector<KernelSchedule> schedules_;  // per group (empty for library groups)
  std::vector<GemmSchedule> gemms_;        // per group (empty unless a GEMM)
  std::vector<Step> steps_;
  // Slots: one per value held in memory (fed, constant, intermediate, output).
  std::vector<NodeId> slot_node_;
  std::vector<int64_t> slot_offset_;  // arena offset, or -1
  std::vector<int> slot_output_;      // index into the outputs, or -1
  std::vector<int> slot_of_node_;     // node -> slot, or -1
  std::vector<int> slot_update_;      // the update whose variable holds it, or -1
  int num_results_ = 0;               // graph outputs that are not updates
  std::vector<std::string> updated_variables_;
  std::vector<int> update_slot_;      // per update: the slot of its new value
  std::vector<bool> update_in_place_;
  int64_t arena_bytes_ = 0;
  std::unique_ptr<char, void (*)(void*)> arena_{nullptr, nullptr};
  std::mutex mu_;  // one Run at a time: the arena is shared
};

}  // namespace kiln

#endif  // KILN_CODEGEN_JIT_PROGRAM_H_
