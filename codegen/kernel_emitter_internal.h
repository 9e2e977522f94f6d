// Lowers a scheduled kernel to an LLVM function with explicit vectors:
//
//   void <name>(ptr buffers, i64 begin, i64 end)
//
// `buffers` holds one pointer per KernelSchedule::buffers entry (inputs,
// then the output); the function computes work items [begin, end), so the
// thread pool splits a kernel by calling it on disjoint ranges. Inner loops
// use <W x T> vectors with masked tails; reductions keep vector
// accumulators and fold lanes at the end with the op's own combiner; each
// op's arithmetic comes from its OpDef `lower` (no op is known by name).
//
// This header includes LLVM; only codegen/ and ops/ .cc files (and tests)
// may include it.
#ifndef KILN_CODEGEN_KERNEL_EMITTER_INTERNAL_H_
#define KILN_CODEGEN_KERNEL_EMITTER_INTERNAL_H_

#include "absl/status/status.h"
#include "codegen/kernel_schedule.h"
#include "graph/graph.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

namespace kiln {

// Adds the kernel's function (named schedule.name) to `module`.
absl::Status EmitKernel(const Graph& graph, const KernelSchedule& schedule,
                        llvm::Module& module);

// Emits, at the builder's insertion point, every value of an elementwise
// `schedule` at one vector position: `idx` holds the index of each loop
// dimension but the innermost (null counts as 0), `j` the innermost index of
// lane 0, `mask` the active lanes (null: all). `buffers` holds one pointer
// per schedule buffer; loads of `given_node` yield `given` instead (a GEMM
// epilogue passes its accumulators this way). Result: one vector per
// schedule value, indexed like schedule.values.
absl::StatusOr<std::vector<llvm::Value*>> EmitScheduleValues(
    const Graph& graph, const KernelSchedule& schedule, llvm::IRBuilder<>& builder,
    absl::Span<llvm::Value* const> buffers, const std::vector<llvm::Value*>& idx,
    llvm::Value* j, llvm::Value* mask, NodeId given_node, llvm::Value* given);

}  // namespace kiln

#endif  // KILN_CODEGEN_KERNEL_EMITTER_INTERNAL_H_
