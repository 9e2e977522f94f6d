// Lowers a GemmSchedule to an LLVM function:
//
//   void <name>(ptr buffers, i64 begin, i64 end, ptr scratch)
//
// `buffers` holds one pointer per GemmSchedule::buffers entry; the function
// computes work items [begin, end) (output tiles), packing A panels and B
// blocks into `scratch` (GemmSchedule::scratch_bytes, 64-byte aligned, one
// per thread). The micro-kernel keeps an mr x nr tile of C in vector
// registers, broadcasts packed A and issues FMAs on packed B; edge tiles use
// masks; the fused epilogue (if any) runs on the accumulators before the
// last store, with each op's arithmetic from its OpDef `lower`.
//
//   KILN_ASSIGN_OR_RETURN(GemmSchedule s, ScheduleGemm(graph, group, 512));
//   KILN_RETURN_IF_ERROR(EmitGemmKernel(graph, s, *module));
//   // compiled by KernelJit: fn(buffers, 0, s.work_items, scratch)
//
// This header includes LLVM; only codegen/ and ops/ .cc files (and tests)
// may include it.
#ifndef KILN_CODEGEN_GEMM_EMITTER_INTERNAL_H_
#define KILN_CODEGEN_GEMM_EMITTER_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "codegen/gemm_schedule.h"
#include "graph/graph.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

namespace kiln {

// Adds the kernel's function (named schedule.name) to `module`.
absl::Status EmitGemmKernel(const Graph& graph, const GemmSchedule& schedule, llvm::Module& module);

// The IR building blocks the GEMM emitter and its packing routines share
// (codegen/gemm_emitter.cc, codegen/gemm_packing.cc).
class GemmIr {
 public:
  explicit GemmIr(llvm::Module& module)
      : ctx_(module.getContext()),
        b_(ctx_),
        i64_(llvm::Type::getInt64Ty(ctx_)),
        f32_(llvm::Type::getFloatTy(ctx_)) {}

  llvm::IRBuilder<>& b() { return b_; }
  llvm::Value* I64(int64_t v) { return llvm::ConstantInt::get(i64_, v); }
  llvm::Type* f32() { return f32_; }
  llvm::FixedVectorType* F32s(int n) { return llvm::FixedVectorType::get(f32_, n); }
  llvm::Value* Min(llvm::Value* a, llvm::Value* b) {
    return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, a, b);
  }
  // &base[offset] for f32 elements.
  llvm::Value* At(llvm::Value* base, llvm::Value* offset) {
    return b_.CreateGEP(f32_, base, offset);
  }
  // <n x i1>: lane l < count.
  llvm::Value* FirstN(int n, llvm::Value* count);
  // n floats from base[offset + l * stride] for active lanes (null mask:
  // all), 0 elsewhere: a masked vector load when stride is 1, else a gather.
  llvm::Value* Load(int n, llvm::Value* base, llvm::Value* offset, int64_t stride,
                    llvm::Value* mask);
  // The active lanes of `value` to base[offset + l * stride]: a masked
  // vector store when stride is 1, else a scatter.
  void Store(llvm::Value* value, llvm::Value* base, llvm::Value* offset, int64_t stride,
             llvm::Value* mask);

  // A hint to bring the cache line of `address` in (never faults).
  void Prefetch(llvm::Value* address);
  // for (i = begin; i < end; i += step) body(i), in function `fn`.
  using Body = std::function<absl::Status(llvm::Value*)>;
  absl::Status Loop(llvm::Function* fn, llvm::Value* begin, llvm::Value* end, int64_t step,
                    const Body& body);

  // `rows` holds R vectors of L lanes, element (r, p) in lane p of rows[r]
  // (R a power of two dividing L). Returns R vectors holding the R x L
  // matrix transposed, row-major: element (p, r) at flat position p * R + r.
  std::vector<llvm::Value*> Transpose(const std::vector<llvm::Value*>& rows);

 private:
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  llvm::Type* i64_;
  llvm::Type* f32_;
};

// Packing (codegen/gemm_packing.cc). Offsets and counts are i64 values.
// A panel: rows [row0, row0 + rows) (rows <= mr) of A, depth [p0, p0 + kc),
// to dst[p * mr + r], zero for r >= rows. B block: columns
// [col0, col0 + cols) and depth [p0, p0 + kc) to panels of nr columns,
// dst[(jp * kc + p) * nr + c], zero past `cols`.
absl::Status EmitPackA(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s, llvm::Value* a,
                       llvm::Value* row0, llvm::Value* rows, llvm::Value* p0, llvm::Value* kc,
                       llvm::Value* dst);
// The A panel of a problem whose A is read through windows
// (GemmSchedule::windows; codegen/conv_packing.cc), same layout as EmitPackA;
// it may store up to `lanes` depths past kc (a_panel_bytes leaves room).
absl::Status EmitPackWindowsA(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s,
                              llvm::Value* a, llvm::Value* row0, llvm::Value* rows,
                              llvm::Value* p0, llvm::Value* kc, llvm::Value* dst);
// Direct A (GemmSchedule::direct_a; codegen/conv_packing.cc): the pointer
// tables of depths [p0, p0 + kc), one per tap of the rows [row_begin,
// row_end), at `tables` (`zeros`: the zero cells), and
// for a panel of `rows` rows from row0, whether it reads directly (an i1),
// its table and its shift.
absl::Status EmitDirectTables(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s,
                              llvm::Value* a, llvm::Value* p0, llvm::Value* kc,
                              llvm::Value* row_begin, llvm::Value* row_end, llvm::Value* tables,
                              llvm::Value* zeros);
// Row tables (GemmSchedule::row_tables): for the panel of `rows` rows from
// row0, per tap of the depths [p0, p0 + kc), mr pointers to `table`: each
// row's cell of that tap, or `zeros`.
absl::Status EmitRowTable(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s, llvm::Value* a,
                          llvm::Value* row0, llvm::Value* rows, llvm::Value* p0, llvm::Value* kc,
                          llvm::Value* table, llvm::Value* zeros);
struct DirectPanel {
  llvm::Value* ok;
  llvm::Value* table;
  llvm::Value* shift;
};
DirectPanel EmitDirectPanel(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s,
                            llvm::Value* row0, llvm::Value* rows, llvm::Value* tables);
absl::Status EmitPackB(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s, llvm::Value* b,
                       llvm::Value* col0, llvm::Value* cols, llvm::Value* p0, llvm::Value* kc,
                       llvm::Value* dst);

}  // namespace kiln

#endif  // KILN_CODEGEN_GEMM_EMITTER_INTERNAL_H_
