// Lowers a WindowSchedule (codegen/window_schedule.h) to an LLVM function
//
//   void <name>(ptr buffers, i64 begin, i64 end)
//
// over output rows [begin, end): a kernel the thread pool splits like any
// other JIT kernel. Results do not depend on the split.
//
//   KILN_ASSIGN_OR_RETURN(WindowSchedule s, ScheduleWindow(graph, group, 512));
//   KILN_RETURN_IF_ERROR(EmitWindowKernel(s, *module));
//
// This header includes LLVM; only codegen/ .cc files (and tests) may
// include it.
#ifndef KILN_CODEGEN_WINDOW_EMITTER_INTERNAL_H_
#define KILN_CODEGEN_WINDOW_EMITTER_INTERNAL_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codegen/gemm_emitter_internal.h"
#include "codegen/jit_internal.h"
#include "codegen/window_schedule.h"
#include "llvm/IR/Module.h"

namespace kiln {

absl::Status EmitWindowKernel(const WindowSchedule& schedule, llvm::Module& module);
// The kernel of a sum over windows (codegen/window_sum_emitter.cc).
absl::Status EmitWindowSumKernel(const WindowSchedule& schedule, llvm::Module& module);

// `lanes` floats of channels [cv, cv + lanes) where channel c sits at
// base[at - cv + c / multiplier] (a depth multiplier's shared input
// channel): a plain masked load for multiplier 1, else a gather.
llvm::Value* SpreadLoad(GemmIr& ir, int lanes, llvm::Value* base, llvm::Value* at,
                        llvm::Value* cv, int64_t multiplier, llvm::Value* mask);

// The kernel of a routing over non-overlapping windows
// (codegen/window_scatter_emitter.cc).
absl::Status EmitWindowScatterKernel(const WindowSchedule& schedule, llvm::Module& module);

// Schedules, emits and compiles the kernel of a kWindow group.
struct CompiledWindowKernel {
  void (*fn)(char**, int64_t, int64_t) = nullptr;
  int64_t work_items = 0;
  int64_t grain = 1;  // work items per thread-pool task, at least
};
absl::StatusOr<CompiledWindowKernel> CompileWindowKernel(const Graph& graph,
                                                         const KernelGroup& group,
                                                         KernelJit& jit);

}  // namespace kiln

#endif  // KILN_CODEGEN_WINDOW_EMITTER_INTERNAL_H_
