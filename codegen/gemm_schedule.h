// The schedule of a JIT GEMM kernel (GroupKind::kContraction): the op's
// GemmProblem normalized (size-1 batch dims dropped, batch dims folded into
// the rows where every access allows it), the register tile of the
// micro-kernel for the host's vector width, the cache blocks, the work
// items the thread pool splits and the fused epilogue. Pure "how", no LLVM;
// it prints as text that tests compare.
//
//   KILN_ASSIGN_OR_RETURN(GemmSchedule s, ScheduleGemm(graph, group, 512));
//   s.ToString(graph) ==
//     "gemm [1024 x 1024 x 1024] a %0 (1024, 1) b %1 (1024, 1) c (1024, 1)\n"
//     "  tile 8x48 (16 lanes) blocks mc 256 nc 512 kc 256 work 8 scratch 548864\n"
#ifndef KILN_CODEGEN_GEMM_SCHEDULE_H_
#define KILN_CODEGEN_GEMM_SCHEDULE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "codegen/fusion_plan.h"
#include "codegen/kernel_schedule.h"
#include "graph/graph.h"

namespace kiln {

struct GemmSchedule {
  std::string name;
  std::vector<NodeId> buffers;  // the group's inputs, then its output
  int num_inputs = 0;
  int a_buffer = -1, b_buffer = -1;  // which inputs hold A and B
  NodeId contraction = kNoNode;

  // C[b][i][j] = sum_p A[b][i][p] * B[b][p][j]; per batch dim d, operand X
  // moves by x_batch[d] elements.
  std::vector<int64_t> batch;
  std::vector<int64_t> a_batch, b_batch, c_batch;
  int64_t m = 0, n = 0, k = 0;
  int64_t a_row = 0, a_col = 0;  // A[i][p] at i * a_row + p * a_col
  int64_t b_row = 0, b_col = 0;  // B[p][j] at p * b_row + j * b_col
  int64_t ldc = 0;               // C[i][j] at i * ldc + j
  // Set: A is read through sliding windows (convolutions; a_row and a_col
  // are unused), packed by codegen/conv_packing.cc.
  std::optional<GemmWindows> windows;
  // The output dims the rows run over (an epilogue indexes them), or empty.
  std::vector<int64_t> m_dims;
  // > 0: B's depth p sits at (p / b_run) * b_run_stride + (p % b_run) * b_row.
  int64_t b_run = 0, b_run_stride = 0;

  // Micro-kernel: mr rows x nr columns of accumulators (nr = lanes * vectors),
  // broadcasting packed A, FMAs on vectors of packed B.
  int lanes = 16;
  int mr = 8;
  int nr = 48;
  // Set for n <= kRowsInLanesMaxColumns (no epilogue): mr = nr = lanes, and
  // the micro-kernel turns around: a vector of A panel rows per depth, B's
  // n values broadcast, so a narrow C does not leave lanes idle.
  bool rows_in_lanes = false;
  // Blocks: kc deep panels; a work item is one mc x nc tile of C (all of K,
  // in kc blocks, always in the same order: bits do not depend on how the
  // items are split). Items run (batch, column tile, row tile); a call over
  // consecutive items of one column tile packs its B block once per kc.
  int64_t mc = 0, nc = 0, kc = 0;
  int64_t m_tiles = 0, n_tiles = 0;
  int64_t work_items = 0;
  int64_t a_panel_bytes = 0;  // one packed A panel, with packing slack
  int64_t b_block_bytes = 0;  // one packed B block
  // Set when all of B's blocks fit in kResidentBBytes: a call packs them
  // all first and then runs each item through every depth block, so the
  // item's C tile stays in cache between blocks (else C streams through
  // memory once per block). b_bytes: the scratch the packed B takes.
  bool b_resident = false;
  int64_t b_bytes = 0;
  // Direct A (filter gradients: cells along the rows, channels a multiple
  // of mr): a full panel is read straight from the image, not packed: per
  // kc block, one table of kc pointers per tap (a depth's cell of that tap,
  // or `zero_bytes` of zeros where it is padding) and per panel a shift give
  //   A[row0 + r][p0 + p] = table[tap][p][shift + r].
  bool direct_a = false;
  int64_t direct_tables = 0;
  // Direct A with one channel: rows are taps, so row r of a panel reads its
  // own tap's table, A[row0 + r][p0 + p] = table[row0 + r][p][0].
  bool tap_rows = false;
  // Row tables (windows along the rows): every panel reads A in place. kc is a whole number of taps; per
  // panel and kc block, tables of mr pointers per tap give
  //   A[row0 + r][tap * channels + c] = table[tap - tap0][r][c],
  // each row's cell of that tap, or the zeros where the cell is padding or
  // a strided gradient skips it.
  bool row_tables = false;
  int64_t table_bytes = 0, zero_bytes = 0;
  int64_t scratch_bytes = 0;  // per thread: A panel, B block, tables, zeros

  // The fused elementwise chain applied to the accumulators before the
  // last store, over dims [batch..., m, n] (after folding), or none.
  bool has_epilogue = false;
  KernelSchedule epilogue;
  // The fused elementwise chain that computes A (a_buffer is then -1), over
  // A's own dims; A is row-major with rows of k elements. A panel's rows are
  // computed into `prologue_bytes` of scratch, then packed.
  bool has_prologue = false;
  KernelSchedule prologue;
  int64_t prologue_bytes = 0;

  int64_t flops() const;
  std::string ToString(const Graph& graph) const;
};

// Schedules a kContraction group of a specialized graph for a CPU whose
// widest vectors have `vector_bits` bits.
absl::StatusOr<GemmSchedule> ScheduleGemm(const Graph& graph, const KernelGroup& group,
                                          int vector_bits);

}  // namespace kiln

#endif  // KILN_CODEGEN_GEMM_SCHEDULE_H_
