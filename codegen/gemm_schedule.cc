#include "codegen/gemm_schedule.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"

namespace kiln {
namespace {

// Cache budgets (bytes): a packed B block (kc x nc) stays in L2 while every
// A panel of a tile streams past it; an A panel (mr x kc) and a B panel
// row stay in L1.
constexpr int64_t kL2BlockBytes = 512 * 1024;
constexpr int64_t kMaxKc = 256;
constexpr int64_t kMaxMc = 256;
// All of B packed at once (GemmSchedule::b_resident) up to this size.
constexpr int64_t kResidentBBytes = 512 * 1024;
// Fewer work items than this leave threads idle on a mid-sized GEMM.
constexpr int64_t kMinWorkItems = 8;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t RoundUp(int64_t a, int64_t b) { return CeilDiv(a, b) * b; }

// Every access of the kernel as coefficients over the loop [batch..., m, n].
struct Forms {
  std::vector<std::vector<int64_t>*> all;
};

void EraseDim(const Forms& forms, size_t d) {
  for (std::vector<int64_t>* f : forms.all) f->erase(f->begin() + static_cast<int64_t>(d));
}

// Whether full panels of a filter gradient (cells along the rows) can skip
// packing (GemmSchedule::direct_a): they must never straddle two taps, or
// have one tap per row (one channel), and depths split in 32-bit lanes.
void ScheduleDirectA(GemmSchedule& s) {
  const GemmWindows& w = *s.windows;
  if (!w.windows_along_depth || (w.channels % s.mr != 0 && w.channels != 1) ||
      s.k > std::numeric_limits<int32_t>::max()) {
    return;
  }
  s.tap_rows = w.channels % s.mr != 0;
  s.direct_a = true;
  s.direct_tables = w.taps[0] * w.taps[1] * w.taps[2];
  s.table_bytes = RoundUp(s.direct_tables * s.kc * 8, 64);
  s.zero_bytes = RoundUp(w.channels * 4, 64);
}

}  // namespace

int64_t GemmSchedule::flops() const {
  int64_t b = 1;
  for (int64_t d : batch) b *= d;
  return 2 * b * m * n * k;
}

absl::StatusOr<GemmSchedule> ScheduleGemm(const Graph& g, const KernelGroup& group,
                                          int vector_bits) {
  if (group.contraction == kNoNode || g.node(group.contraction).op->contraction == nullptr) {
    return absl::InternalError("ScheduleGemm: not a contraction group");
  }
  const Node& c = g.node(group.contraction);
  std::vector<TensorType> in_types;
  for (NodeId in : c.inputs) in_types.push_back(g.node(in).type);
  KILN_ASSIGN_OR_RETURN(GemmProblem p, c.op->contraction(in_types, c.type, c.attrs));

  GemmSchedule s;
  s.name = group.name;
  s.contraction = group.contraction;
  s.buffers = group.inputs;
  s.num_inputs = static_cast<int>(group.inputs.size());
  s.buffers.insert(s.buffers.end(), group.outputs.begin(), group.outputs.end());
  if (group.outputs.size() != 1) return absl::InternalError("a GEMM kernel writes one value");
  auto find = [&](NodeId id) {
    return static_cast<int>(std::find(s.buffers.begin(), s.buffers.begin() + s.num_inputs, id) -
                            s.buffers.begin());
  };
  s.a_buffer = find(c.inputs[0]);
  s.b_buffer = find(c.inputs[1]);
  s.has_prologue = std::count(group.nodes.begin(), group.nodes.end(), c.inputs[0]) > 0;
  if (s.has_prologue) s.a_buffer = -1;
  if ((!s.has_prologue && s.a_buffer >= s.num_inputs) || s.b_buffer >= s.num_inputs) {
    return absl::InternalError("GEMM operands are not kernel inputs");
  }

  s.m = p.m;
  s.n = p.n;
  s.k = p.k;
  s.a_row = p.a_transposed ? 1 : p.lda;
  s.a_col = p.a_transposed ? p.lda : 1;
  s.b_row = p.b_transposed ? 1 : p.ldb;
  s.b_col = p.b_transposed ? p.ldb : 1;
  s.ldc = p.ldc;
  s.windows = p.a_windows;
  s.m_dims = p.m_dims;
  s.b_run = p.b_depth_run;
  s.b_run_stride = p.b_depth_run_stride;
  for (const GemmBatchDim& d : p.batch) {
    s.batch.push_back(d.size);
    s.a_batch.push_back(d.a_stride);
    s.b_batch.push_back(d.b_stride);
    s.c_batch.push_back(d.c_stride);
  }

  // Fold batch dims away where every access allows it (Dense on a
  // sequence: [N, T, K] x [K, F] is one GEMM of N * T rows).
  std::vector<int64_t> fa = s.a_batch, fb = s.b_batch, fc = s.c_batch;
  fa.insert(fa.end(), {s.a_row, 0});
  fb.insert(fb.end(), {0, s.b_col});
  if (s.m_dims.empty()) {
    fc.insert(fc.end(), {s.ldc, 1});
  } else {  // the epilogue indexes the rows by m_dims
    std::vector<int64_t> row_coeff(s.m_dims.size());
    int64_t step = s.ldc;
    for (size_t d = s.m_dims.size(); d-- > 0;) {
      row_coeff[d] = step;
      step *= s.m_dims[d];
    }
    fc.insert(fc.end(), row_coeff.begin(), row_coeff.end());
    fc.push_back(1);
  }
  Forms forms{{&fa, &fb, &fc}};
  if (s.has_prologue) {
    if (p.a_windows.has_value() || p.a_transposed || p.lda != p.k) {
      return absl::InternalError("a GEMM prologue needs a row-major A");
    }
    KILN_ASSIGN_OR_RETURN(s.prologue,
                          SchedulePrologue(g, group, c.inputs[0], std::max(4, vector_bits / 32)));
  }
  if (group.outputs[0] != group.contraction) {
    KILN_ASSIGN_OR_RETURN(s.epilogue, ScheduleEpilogue(g, group, std::max(4, vector_bits / 32)));
    s.has_epilogue = true;
    for (KernelValue& v : s.epilogue.values) {
      if (v.buffer >= 0) forms.all.push_back(&v.at.coeff);
    }
    for (LinearForm& f : s.epilogue.stores) forms.all.push_back(&f.coeff);
    if (s.epilogue.stores[0].coeff != fc || s.epilogue.result_dtypes[0] != DType::kF32) {
      return absl::InternalError("the epilogue does not store where the GEMM does");
    }
  }
  for (size_t d = 0; d < s.batch.size();) {
    if (s.batch[d] == 1) {
      EraseDim(forms, d);
      s.batch.erase(s.batch.begin() + static_cast<int64_t>(d));
    } else {
      ++d;
    }
  }
  // Rows read through windows or indexed by m_dims do not fold.
  while (!s.batch.empty() && !s.windows.has_value() && s.m_dims.empty()) {
    const size_t d = s.batch.size() - 1, rows = d + 1;
    bool fold = true;
    for (const std::vector<int64_t>* f : forms.all) fold = fold && (*f)[d] == (*f)[rows] * s.m;
    if (!fold) break;
    s.m *= s.batch[d];
    EraseDim(forms, d);
    s.batch.pop_back();
  }
  const size_t nb = s.batch.size();
  s.a_batch.assign(fa.begin(), fa.begin() + static_cast<int64_t>(nb));
  s.b_batch.assign(fb.begin(), fb.begin() + static_cast<int64_t>(nb));
  s.c_batch.assign(fc.begin(), fc.begin() + static_cast<int64_t>(nb));
  if (s.has_epilogue) {
    s.epilogue.dims = s.batch;
    if (s.m_dims.empty()) {
      s.epilogue.dims.push_back(s.m);
    } else {
      s.epilogue.dims.insert(s.epilogue.dims.end(), s.m_dims.begin(), s.m_dims.end());
    }
    s.epilogue.dims.push_back(s.n);
    s.epilogue.reduced.assign(s.epilogue.dims.size(), false);
  }

  // Register tile: with 32 vector registers, 8 x 3 vectors of accumulators
  // (24 FMAs per step, 11 loads, 3 registers of B, A broadcast from memory);
  // with 16, 6 x 2.
  s.lanes = std::max(4, vector_bits / 32);
  const bool wide = vector_bits >= 512;
  s.mr = wide ? 8 : 6;
  s.nr = s.lanes * (wide ? 3 : 2);
  // Columns that fill panels of two vectors but not of three (64 output
  // channels): two full panels beat a full and a one-vector one.
  if (wide && s.n % (2 * s.lanes) == 0 && s.n % s.nr != 0 && s.n <= 4 * s.lanes) {
    s.nr = 2 * s.lanes;
  }
  if (s.n <= kRowsInLanesMaxColumns && !s.has_epilogue) {
    s.rows_in_lanes = true;
    s.mr = s.nr = s.lanes;
  }

  int64_t batches = 1;
  for (int64_t d : s.batch) batches *= d;
  s.kc = std::max<int64_t>(1, CeilDiv(s.k, CeilDiv(std::max<int64_t>(s.k, 1), kMaxKc)));
  if (s.windows.has_value() && !s.windows->windows_along_depth && !s.rows_in_lanes) {
    // Blocks of whole taps, as even as they come.
    const GemmWindows& w = *s.windows;
    const int64_t taps = w.taps[0] * w.taps[1] * w.taps[2];
    const int64_t per_block = CeilDiv(
        taps, CeilDiv(taps, std::max<int64_t>(1, kMaxKc / w.channels)));
    s.row_tables = true;
    s.kc = per_block * w.channels;
    s.table_bytes = RoundUp(per_block * s.mr * 8, 64);
    s.zero_bytes = RoundUp(w.channels * 4, 64);
  }
  const int64_t nc_max = std::max<int64_t>(s.nr, kL2BlockBytes / (s.kc * 4));
  // Column tiles of equal width in vectors (their last panels may be narrow).
  s.nc = RoundUp(std::max<int64_t>(1, CeilDiv(s.n, std::max<int64_t>(1, CeilDiv(s.n, nc_max)))),
                 s.lanes);
  s.n_tiles = CeilDiv(s.n, s.nc);
  const int64_t mc_max = kMaxMc / s.mr * s.mr;
  int64_t m_tiles = std::max(CeilDiv(s.m, mc_max),
                             CeilDiv(kMinWorkItems, std::max<int64_t>(1, batches * s.n_tiles)));
  m_tiles = std::max<int64_t>(1, std::min(m_tiles, CeilDiv(s.m, s.mr)));
  s.mc = RoundUp(std::max<int64_t>(1, CeilDiv(s.m, m_tiles)), s.mr);
  s.m_tiles = CeilDiv(s.m, s.mc);
  s.work_items = batches * s.n_tiles * s.m_tiles;
  // Window packing stores whole vectors of depths past a panel's end.
  s.a_panel_bytes = RoundUp(s.mr * (s.kc + (s.windows ? s.lanes : 0)) * 4, 64);
  s.b_block_bytes = RoundUp(s.kc * RoundUp(s.nc, s.nr) * 4, 64);
  if (s.windows.has_value() && !s.rows_in_lanes && !s.row_tables) ScheduleDirectA(s);
  // Direct-A tables cover the rows of all a call's items per block.
  const int64_t blocks = std::max<int64_t>(1, CeilDiv(s.k, s.kc));
  s.b_resident = !s.direct_a && blocks > 1 && blocks * s.b_block_bytes <= kResidentBBytes;
  s.b_bytes = s.b_resident ? blocks * s.b_block_bytes : s.b_block_bytes;
  if (s.has_prologue) s.prologue_bytes = RoundUp(s.mr * RoundUp(s.kc, s.lanes) * 4, 64);
  s.scratch_bytes =
      s.a_panel_bytes + s.b_bytes + s.table_bytes + s.zero_bytes + s.prologue_bytes;
  return s;
}

std::string GemmSchedule::ToString(const Graph& g) const {
  std::string out = "gemm [";
  for (int64_t d : batch) absl::StrAppend(&out, d, " x ");
  absl::StrAppend(&out, m, " x ", n, " x ", k, "] a ",
                  a_buffer >= 0 ? absl::StrCat("%", buffers[a_buffer]) : "prologue", " (", a_row,
                  ", ", a_col, ") b %", buffers[b_buffer], " (", b_row, ", ", b_col, ") c (", ldc,
                  ", 1)");
  if (windows.has_value()) {
    const GemmWindows& w = *windows;
    absl::StrAppend(&out, " a windows [", w.images, " x ", absl::StrJoin(w.windows, " x "),
                    "] cells [", absl::StrJoin(w.taps, " x "), " x ", w.channels, "]",
                    w.windows_along_depth ? " along depth" : "");
  }
  if (b_run > 0) absl::StrAppend(&out, " b runs ", b_run, " by ", b_run_stride);
  if (!batch.empty()) {
    absl::StrAppend(&out, " batch strides a (", absl::StrJoin(a_batch, ", "), ") b (",
                    absl::StrJoin(b_batch, ", "), ") c (", absl::StrJoin(c_batch, ", "), ")");
  }
  absl::StrAppend(&out, "\n  tile ", mr, "x", nr, " (", lanes, " lanes) blocks mc ", mc, " nc ", nc,
                  " kc ", kc, " work ", work_items, " scratch ", scratch_bytes,
                  direct_a ? (tap_rows ? " direct a by tap" : " direct a") : "",
                  row_tables ? " row tables" : "", b_resident ? " b resident" : "",
                  has_prologue ? " prologue" : "", rows_in_lanes ? " rows in lanes" : "", "\n");
  if (has_prologue) absl::StrAppend(&out, "  prologue ", prologue.ToString(g));
  if (has_epilogue) absl::StrAppend(&out, "  epilogue ", epilogue.ToString(g));
  return out;
}

}  // namespace kiln
