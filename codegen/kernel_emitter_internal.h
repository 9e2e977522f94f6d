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
#include "llvm/IR/Module.h"

namespace kiln {

// Adds the kernel's function (named schedule.name) to `module`.
absl::Status EmitKernel(const Graph& graph, const KernelSchedule& schedule,
                        llvm::Module& module);

}  // namespace kiln

#endif  // KILN_CODEGEN_KERNEL_EMITTER_INTERNAL_H_
