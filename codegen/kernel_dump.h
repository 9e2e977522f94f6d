// Kernel dumps: with KILN_DUMP_DIR=dir, every JIT kernel a program builds
// leaves four files in dir, named after its symbol and the first 8 hex
// digits of its cache key (kernels of two programs may share a symbol):
//
//   <symbol>.<key8>.nodes.txt  the fused graph nodes, their layers and sources
//   <symbol>.<key8>.ll         the LLVM IR as emitted
//   <symbol>.<key8>.opt.ll     the LLVM IR after the optimization pipeline
//   <symbol>.<key8>.s          the host assembly
//
// Dumps are made from copies of the module: the compiled kernel is the one
// a run without KILN_DUMP_DIR gets. Files are written atomically; a dump
// that cannot be written fails the build of the program with the reason.
//
//   KILN_DUMP_DIR=/tmp/kiln-dump ./my_model && ls /tmp/kiln-dump
//   KILN_RETURN_IF_ERROR(CheckIrFileParses("/tmp/kiln-dump/fused_relu_k0.0123abcd.ll"));
#ifndef KILN_CODEGEN_KERNEL_DUMP_H_
#define KILN_CODEGEN_KERNEL_DUMP_H_

#include <string>

#include "absl/status/status.h"

namespace kiln {

// KILN_DUMP_DIR, or "" when unset (no dumps).
std::string DumpDirFromEnvironment();

// OK if the file holds LLVM IR (text or bitcode) that parses and verifies;
// else InvalidArgument with LLVM's diagnostic (tests check dumps with it).
absl::Status CheckIrFileParses(const std::string& path);

}  // namespace kiln

#endif  // KILN_CODEGEN_KERNEL_DUMP_H_
