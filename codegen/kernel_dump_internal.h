// DumpKernel: what JitProgram::Build calls for each kernel when
// KILN_DUMP_DIR is set (see kernel_dump.h for the files). Internal: it
// names LLVM types.
//
//   if (!dump_dir.empty()) KILN_RETURN_IF_ERROR(DumpKernel(dump_dir, g, group, *module, *jit));
#ifndef KILN_CODEGEN_KERNEL_DUMP_INTERNAL_H_
#define KILN_CODEGEN_KERNEL_DUMP_INTERNAL_H_

#include <string>

#include "absl/status/status.h"
#include "codegen/fusion_plan.h"
#include "codegen/kernel_dump.h"
#include "graph/graph.h"

namespace llvm {
class Module;
}  // namespace llvm

namespace kiln {

class KernelJit;

// Writes the four dump files of `group`'s kernel, whose emitted module is
// `module` (not changed), to `dir` (created if missing).
absl::Status DumpKernel(const std::string& dir, const Graph& graph, const KernelGroup& group,
                        const llvm::Module& module, const KernelJit& jit);

}  // namespace kiln

#endif  // KILN_CODEGEN_KERNEL_DUMP_INTERNAL_H_
