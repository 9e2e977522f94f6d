// The kernel dumps of KILN_DUMP_DIR (see kernel_dump.h) and the IR check
// tests run on them.
#include "codegen/kernel_dump_internal.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/jit_internal.h"
#include "graph/file_io.h"
#include "graph/status_macros.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/IRReader/IRReader.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace kiln {
namespace {

std::string Ids(const std::vector<NodeId>& ids, const char* separator = " ") {
  return absl::StrJoin(ids, separator, [](std::string* out, NodeId id) { absl::StrAppend(out, "%", id); });
}

// One line per fused node: "%7 = add(%5, %6) : f32[32,64]  layer 'dense_1' (model.cc:12)".
std::string NodesText(const Graph& g, const KernelGroup& group) {
  std::string out = absl::StrCat("kernel ", group.name, "\nreads ", Ids(group.inputs),
                                 "\nwrites ", Ids(group.outputs), "\n");
  for (NodeId id : group.nodes) {
    const Node& n = g.node(id);
    absl::StrAppend(&out, "%", id, " = ", n.op->name, "(", Ids(n.inputs, ", "), ")");
    const std::string attrs = n.attrs.ToString();
    if (!attrs.empty()) absl::StrAppend(&out, " ", attrs);
    absl::StrAppend(&out, " : ", n.type.ToString());
    if (!n.layer.empty()) absl::StrAppend(&out, "  layer '", n.layer, "'");
    if (!n.location.empty()) absl::StrAppend(&out, " (", n.location, ")");
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace

std::string DumpDirFromEnvironment() {
  const char* dir = std::getenv("KILN_DUMP_DIR");
  return dir == nullptr ? "" : dir;
}

absl::Status DumpKernel(const std::string& dir, const Graph& graph, const KernelGroup& group,
                        const llvm::Module& module, const KernelJit& jit) {
  if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat("KILN_DUMP_DIR: cannot create '", dir, "': ", ec.message()));
  }
  const std::string stem =
      absl::StrCat(dir, "/", group.name, ".", jit.CacheKey(module).substr(0, 8));
  std::string emitted;
  llvm::raw_string_ostream out(emitted);
  module.print(out, nullptr);
  out.flush();
  KILN_ASSIGN_OR_RETURN(std::string optimized, jit.EmitOptimizedIR(module));
  KILN_ASSIGN_OR_RETURN(std::string assembly, jit.EmitAssembly(module));
  KILN_RETURN_IF_ERROR(WriteFileAtomically(stem + ".nodes.txt", NodesText(graph, group)));
  KILN_RETURN_IF_ERROR(WriteFileAtomically(stem + ".ll", emitted));
  KILN_RETURN_IF_ERROR(WriteFileAtomically(stem + ".opt.ll", optimized));
  return WriteFileAtomically(stem + ".s", assembly);
}

absl::Status CheckIrFileParses(const std::string& path) {
  llvm::LLVMContext context;
  llvm::SMDiagnostic diagnostic;
  std::unique_ptr<llvm::Module> module = llvm::parseIRFile(path, diagnostic, context);
  if (module == nullptr) {
    std::string message;
    llvm::raw_string_ostream out(message);
    diagnostic.print("kiln", out);
    out.flush();
    return absl::InvalidArgumentError(message);
  }
  std::string problems;
  llvm::raw_string_ostream out(problems);
  if (llvm::verifyModule(*module, &out)) {
    out.flush();
    return absl::InvalidArgumentError(absl::StrCat(path, " does not verify: ", problems));
  }
  return absl::OkStatus();
}

}  // namespace kiln
