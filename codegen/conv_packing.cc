// An implicit-GEMM A operand read through sliding windows (GemmWindows:
// convolutions and their gradients), without an im2col matrix.
//
//   rows = windows (conv forward, input gradient): row tables
//     (GemmSchedule::row_tables) hold per panel and tap a pointer per row
//     to its cell, or to a zero area where the cell is padding or a strided
//     gradient skips it, so every panel reads A in place. A GEMM with its
//     rows in the vector lanes packs instead (PackWindowRows: per run of
//     depths that share a tap, mr row vectors transposed in registers, or a
//     masked gather per depth for few channels).
//   rows = cells (filter gradient): with channels a multiple of mr, full
//     panels read in place through DirectTables (per tap, a pointer per
//     depth to its cell or to zeros) and Panel (the table and row shift of
//     a panel); other panels pack (PackCellRows: the mr cells of a tap are
//     one contiguous masked load, else a gather).
//
// Packed panels have EmitPackA's layout, dst[p * mr + r], padding as zeros.
#include <algorithm>
#include <array>
#include <cstdlib>

#include "codegen/gemm_emitter_internal.h"
#include "graph/status_macros.h"
#include "llvm/IR/Constants.h"

namespace kiln {
namespace {

// Channels below which a run of depths packs by gathers, not transposes.
constexpr int64_t kMinTransposeChannels = 8;

class WindowPacker {
 public:
  WindowPacker(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s, llvm::Value* a)
      : ir_(ir), b_(ir.b()), fn_(fn), s_(s), w_(*s.windows), a_(a), mr_(s.mr) {}

  absl::Status PackWindowRows(llvm::Value* row0, llvm::Value* rows, llvm::Value* p0,
                              llvm::Value* kc, llvm::Value* dst);
  absl::Status PackCellRows(llvm::Value* row0, llvm::Value* rows, llvm::Value* p0,
                            llvm::Value* kc, llvm::Value* dst);
  absl::Status DirectTables(llvm::Value* p0, llvm::Value* kc, llvm::Value* row_begin,
                            llvm::Value* row_end, llvm::Value* tables, llvm::Value* zeros);
  DirectPanel Panel(llvm::Value* row0, llvm::Value* rows, llvm::Value* tables);
  absl::Status RowTable(llvm::Value* row0, llvm::Value* rows, llvm::Value* p0, llvm::Value* kc,
                        llvm::Value* table, llvm::Value* zeros);

 private:
  using Dims = std::array<llvm::Value*, 3>;
  // Splits `index` (scalar or vector) row-major over `sizes`; returns the
  // quotient by their product in `outer`.
  Dims Split(llvm::Value* index, const std::array<int64_t, 3>& sizes, llvm::Value** outer) {
    Dims out;
    for (int e = 2; e >= 0; --e) {
      out[e] = b_.CreateSRem(index, Const(index, sizes[e]));
      index = b_.CreateSDiv(index, Const(index, sizes[e]));
    }
    *outer = index;
    return out;
  }
  // `v` with the type of `like` (an integer scalar or vector, splat).
  llvm::Value* Const(llvm::Value* like, int64_t v) {
    return llvm::ConstantInt::get(like->getType(), v, /*isSigned=*/true);
  }
  // The image element of window (n, win) at tap t (each scalar or a vector
  // of mr lanes), and whether it is a real cell: offset, valid.
  std::pair<llvm::Value*, llvm::Value*> Cell(llvm::Value* n, const Dims& win, const Dims& t,
                                             llvm::Value* live);
  // for (p = 0; p < kc; ++p) body(p, n, window) where (n, window) is
  // depth p0 + p split over [images, windows...]: split once, then carried.
  template <typename Body>
  absl::Status WindowLoop(llvm::Value* p0, llvm::Value* kc, Body body) {
    llvm::Value* n0 = nullptr;
    const Dims win0 = Split(p0, w_.windows, &n0);
    llvm::LLVMContext& ctx = b_.getContext();
    llvm::Type* i64 = b_.getInt64Ty();
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx, "windows", fn_);
    llvm::BasicBlock* inside = llvm::BasicBlock::Create(ctx, "window", fn_);
    llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx, "windows_done", fn_);
    b_.CreateBr(header);
    b_.SetInsertPoint(header);
    llvm::PHINode* p = b_.CreatePHI(i64, 2);
    llvm::PHINode* n = b_.CreatePHI(i64, 2);
    std::array<llvm::PHINode*, 3> win;
    p->addIncoming(ir_.I64(0), pre);
    n->addIncoming(n0, pre);
    for (int e = 0; e < 3; ++e) {
      win[e] = b_.CreatePHI(i64, 2);
      win[e]->addIncoming(win0[e], pre);
    }
    b_.CreateCondBr(b_.CreateICmpSLT(p, kc), inside, exit);
    b_.SetInsertPoint(inside);
    body(p, n, Dims{win[0], win[1], win[2]});
    // The next window: the innermost dim steps, carries ripple outwards.
    llvm::Value* carry = b_.getTrue();
    for (int e = 2; e >= 0; --e) {
      llvm::Value* next = b_.CreateAdd(win[e], b_.CreateZExt(carry, i64));
      llvm::Value* wrap = b_.CreateICmpEQ(next, ir_.I64(w_.windows[e]));
      win[e]->addIncoming(b_.CreateSelect(wrap, ir_.I64(0), next), b_.GetInsertBlock());
      carry = wrap;
    }
    n->addIncoming(b_.CreateAdd(n, b_.CreateZExt(carry, i64)), b_.GetInsertBlock());
    p->addIncoming(b_.CreateAdd(p, ir_.I64(1)), b_.GetInsertBlock());
    b_.CreateBr(header);
    b_.SetInsertPoint(exit);
    return absl::OkStatus();
  }
  // Whether every cell of the live rows' windows is real (an i1), or null
  // when strided gradients make that rare (divisors > 1).
  llvm::Value* PanelInside(const Dims& win, llvm::Value* live) {
    llvm::Value* inside = llvm::ConstantInt::getTrue(live->getType());
    for (int e = 0; e < 3; ++e) {
      if (w_.divisor[e] > 1) return nullptr;
      const int64_t span = (w_.taps[e] - 1) * w_.tap_step[e];
      llvm::Value* first = b_.CreateAdd(b_.CreateMul(win[e], Const(win[e], w_.window_step[e])),
                                        Const(win[e], w_.offset[e] + std::min<int64_t>(0, span)));
      llvm::Value* last = b_.CreateAdd(first, Const(first, std::abs(span)));
      llvm::Value* ok = b_.CreateAnd(b_.CreateICmpSGE(first, Const(first, 0)),
                                     b_.CreateICmpSLT(last, Const(last, w_.extent[e])));
      inside = b_.CreateAnd(inside, ok);
    }
    // Dead lanes (past the panel's rows) do not count.
    return b_.CreateAndReduce(b_.CreateOr(inside, b_.CreateNot(live)));
  }
  // The offset of a depth's cell relative to its window's (rows = windows,
  // no divisors).
  llvm::Value* DepthOffset(llvm::Value* depth) {
    llvm::Value* unused = nullptr;
    const Dims t = Split(b_.CreateSDiv(depth, ir_.I64(w_.channels)), w_.taps, &unused);
    llvm::Value* at = b_.CreateSRem(depth, ir_.I64(w_.channels));
    for (int e = 0; e < 3; ++e) {
      at = b_.CreateAdd(at, b_.CreateMul(t[e], ir_.I64(w_.tap_step[e] * w_.row_stride[e])));
    }
    return at;
  }
  // Masked gather of mr floats at a_ + offsets.
  llvm::Value* Gather(llvm::Value* offsets, llvm::Value* mask) {
    return b_.CreateMaskedGather(ir_.F32s(mr_), b_.CreateGEP(ir_.f32(), a_, offsets),
                                 llvm::Align(4), mask,
                                 llvm::Constant::getNullValue(ir_.F32s(mr_)));
  }
  void StoreColumn(llvm::Value* dst, llvm::Value* p, llvm::Value* column) {
    b_.CreateAlignedStore(column, ir_.At(dst, b_.CreateMul(p, ir_.I64(mr_))), llvm::Align(4));
  }
  // A splat of `v` (a scalar) to mr lanes, unless it is a vector already.
  llvm::Value* Lanes(llvm::Value* v) {
    return v->getType()->isVectorTy() ? v : b_.CreateVectorSplat(mr_, v);
  }

  GemmIr& ir_;
  llvm::IRBuilder<>& b_;
  llvm::Function* fn_;
  const GemmSchedule& s_;
  const GemmWindows& w_;
  llvm::Value* a_;
  const int mr_;
};

std::pair<llvm::Value*, llvm::Value*> WindowPacker::Cell(llvm::Value* n, const Dims& win,
                                                         const Dims& t, llvm::Value* live) {
  // Scalars join vectors as splats.
  const bool vector = n->getType()->isVectorTy() || live->getType()->isVectorTy() ||
                      win[0]->getType()->isVectorTy() || t[0]->getType()->isVectorTy();
  auto same = [&](llvm::Value* v) { return vector ? Lanes(v) : v; };
  llvm::Value* offset = b_.CreateMul(same(n), same(Const(n, w_.image_stride)));
  llvm::Value* valid = same(live);
  for (int e = 0; e < 3; ++e) {
    if (w_.windows[e] == 1 && w_.taps[e] == 1 && w_.offset[e] == 0 && w_.extent[e] == 1) continue;
    llvm::Value* w = same(win[e]);
    llvm::Value* q = b_.CreateAdd(
        b_.CreateAdd(b_.CreateMul(w, Const(w, w_.window_step[e])),
                     same(b_.CreateMul(t[e], Const(t[e], w_.tap_step[e])))),
        Const(w, w_.offset[e]));
    if (w_.divisor[e] > 1) {
      valid = b_.CreateAnd(valid, b_.CreateICmpEQ(b_.CreateSRem(q, Const(q, w_.divisor[e])),
                                                  Const(q, 0)));
      q = b_.CreateSDiv(q, Const(q, w_.divisor[e]));
    }
    valid = b_.CreateAnd(valid, b_.CreateICmpSGE(q, Const(q, 0)));
    valid = b_.CreateAnd(valid, b_.CreateICmpSLT(q, Const(q, w_.extent[e])));
    offset = b_.CreateAdd(offset, b_.CreateMul(q, Const(q, w_.row_stride[e])));
  }
  return {offset, valid};
}

absl::Status WindowPacker::PackWindowRows(llvm::Value* row0, llvm::Value* rows, llvm::Value* p0,
                                          llvm::Value* kc, llvm::Value* dst) {
  // The panel's rows (windows) as vectors of mr lanes.
  std::vector<llvm::Constant*> lane_ids;
  for (int r = 0; r < mr_; ++r) lane_ids.push_back(llvm::ConstantInt::get(b_.getInt64Ty(), r));
  llvm::Value* row = b_.CreateAdd(b_.CreateVectorSplat(mr_, row0),
                                  llvm::ConstantVector::get(lane_ids));
  llvm::Value* live = ir_.FirstN(mr_, rows);
  llvm::Value* n = nullptr;
  const Dims win = Split(ir_.Min(row, Const(row, s_.m - 1)), w_.windows, &n);
  const int64_t channels = w_.channels;
  // The cells of tap `tap` in every row: offsets of channel 0, valid lanes.
  auto tap_cells = [&](llvm::Value* tap) {
    llvm::Value* unused = nullptr;
    const Dims t = Split(tap, w_.taps, &unused);
    return Cell(n, win, t, live);
  };
  const bool transpose = channels >= kMinTransposeChannels && (mr_ & (mr_ - 1)) == 0 &&
                         s_.lanes % mr_ == 0;
  if (!transpose) {
    auto checked = [&](llvm::Value* p) {
      llvm::Value* depth = b_.CreateAdd(p0, p);
      auto [offset, valid] = tap_cells(b_.CreateSDiv(depth, ir_.I64(channels)));
      offset = b_.CreateAdd(offset, Lanes(b_.CreateSRem(depth, ir_.I64(channels))));
      StoreColumn(dst, p, Gather(offset, valid));
      return absl::OkStatus();
    };
    llvm::Value* inside = PanelInside(win, live);
    if (inside == nullptr) return ir_.Loop(fn_, ir_.I64(0), kc, 1, checked);
    // A panel whose windows lie inside the image (most of them): a cell's
    // offset is its row's plus its tap's, with no checks.
    llvm::LLVMContext& ctx = b_.getContext();
    llvm::BasicBlock* fast = llvm::BasicBlock::Create(ctx, "panel_inside", fn_);
    llvm::BasicBlock* slow = llvm::BasicBlock::Create(ctx, "panel_border", fn_);
    llvm::BasicBlock* done = llvm::BasicBlock::Create(ctx, "panel_done", fn_);
    b_.CreateCondBr(inside, fast, slow);
    b_.SetInsertPoint(fast);
    const Dims no_tap = {ir_.I64(0), ir_.I64(0), ir_.I64(0)};
    llvm::Value* base = Cell(n, win, no_tap, live).first;
    auto tap_offset = [&](llvm::Value* p) { return DepthOffset(b_.CreateAdd(p0, p)); };
    // Rows on one line of the innermost window dim sit a constant stride
    // apart: one (strided) vector load per depth instead of a gather.
    llvm::Value* one_line = b_.CreateICmpSLE(
        b_.CreateAdd(b_.CreateSRem(row0, ir_.I64(w_.windows[2])), rows), ir_.I64(w_.windows[2]));
    llvm::BasicBlock* line = llvm::BasicBlock::Create(ctx, "panel_line", fn_);
    llvm::BasicBlock* scattered = llvm::BasicBlock::Create(ctx, "panel_scattered", fn_);
    b_.CreateCondBr(one_line, line, scattered);
    b_.SetInsertPoint(line);
    llvm::Value* first = b_.CreateExtractElement(base, ir_.I64(0));
    KILN_RETURN_IF_ERROR(ir_.Loop(fn_, ir_.I64(0), kc, 1, [&](llvm::Value* p) {
      StoreColumn(dst, p, ir_.Load(mr_, a_, b_.CreateAdd(first, tap_offset(p)),
                                   w_.window_step[2] * w_.row_stride[2], live));
      return absl::OkStatus();
    }));
    b_.CreateBr(done);
    b_.SetInsertPoint(scattered);
    KILN_RETURN_IF_ERROR(ir_.Loop(fn_, ir_.I64(0), kc, 1, [&](llvm::Value* p) {
      StoreColumn(dst, p, Gather(b_.CreateAdd(base, Lanes(tap_offset(p))), live));
      return absl::OkStatus();
    }));
    b_.CreateBr(done);
    b_.SetInsertPoint(slow);
    KILN_RETURN_IF_ERROR(ir_.Loop(fn_, ir_.I64(0), kc, 1, checked));
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
    return absl::OkStatus();
  }
  // Runs of depths within one tap: mr row vectors of `lanes` channels, an
  // in-register transpose, mr stores (the last vector of a run may spill
  // into the next run, which overwrites it, or past kc).
  const int lanes = s_.lanes;
  llvm::LLVMContext& ctx = b_.getContext();
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx, "run", fn_);
  llvm::BasicBlock* body = llvm::BasicBlock::Create(ctx, "run_body", fn_);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx, "run_exit", fn_);
  b_.CreateBr(header);
  b_.SetInsertPoint(header);
  llvm::PHINode* p = b_.CreatePHI(b_.getInt64Ty(), 2);
  p->addIncoming(ir_.I64(0), pre);
  b_.CreateCondBr(b_.CreateICmpSLT(p, kc), body, exit);
  b_.SetInsertPoint(body);
  llvm::Value* depth = b_.CreateAdd(p0, p);
  llvm::Value* c0 = b_.CreateSRem(depth, ir_.I64(channels));
  llvm::Value* run = ir_.Min(b_.CreateSub(ir_.I64(channels), c0), b_.CreateSub(kc, p));
  auto [offset, valid] = tap_cells(b_.CreateSDiv(depth, ir_.I64(channels)));
  offset = b_.CreateAdd(offset, Lanes(c0));
  std::vector<llvm::Value*> row_at(mr_), row_valid(mr_);
  for (int r = 0; r < mr_; ++r) {
    row_at[r] = b_.CreateExtractElement(offset, ir_.I64(r));
    row_valid[r] = b_.CreateVectorSplat(lanes, b_.CreateExtractElement(valid, ir_.I64(r)));
  }
  KILN_RETURN_IF_ERROR(ir_.Loop(fn_, ir_.I64(0), run, lanes, [&](llvm::Value* ch) {
    llvm::Value* in_run = ir_.FirstN(lanes, b_.CreateSub(run, ch));
    std::vector<llvm::Value*> loaded;
    for (int r = 0; r < mr_; ++r) {
      loaded.push_back(ir_.Load(lanes, a_, b_.CreateAdd(row_at[r], ch), 1,
                                b_.CreateAnd(in_run, row_valid[r])));
    }
    std::vector<llvm::Value*> packed = ir_.Transpose(loaded);
    llvm::Value* out = ir_.At(dst, b_.CreateMul(b_.CreateAdd(p, ch), ir_.I64(mr_)));
    for (int q = 0; q < mr_; ++q) {
      b_.CreateAlignedStore(packed[q], ir_.At(out, ir_.I64(q * lanes)), llvm::Align(4));
    }
    return absl::OkStatus();
  }));
  p->addIncoming(b_.CreateAdd(p, run), b_.GetInsertBlock());
  b_.CreateBr(header);
  b_.SetInsertPoint(exit);
  return absl::OkStatus();
}

absl::Status WindowPacker::PackCellRows(llvm::Value* row0, llvm::Value* rows, llvm::Value* p0,
                                        llvm::Value* kc, llvm::Value* dst) {
  // The panel's rows (cells: tap, channel) as vectors of mr lanes.
  std::vector<llvm::Constant*> lane_ids;
  for (int r = 0; r < mr_; ++r) lane_ids.push_back(llvm::ConstantInt::get(b_.getInt64Ty(), r));
  llvm::Value* row = b_.CreateAdd(b_.CreateVectorSplat(mr_, row0),
                                  llvm::ConstantVector::get(lane_ids));
  row = ir_.Min(row, Const(row, s_.m - 1));
  llvm::Value* live = ir_.FirstN(mr_, rows);
  const int64_t channels = w_.channels;
  llvm::Value* channel = b_.CreateSRem(row, Const(row, channels));
  llvm::Value* unused = nullptr;
  const Dims taps = Split(b_.CreateSDiv(row, Const(row, channels)), w_.taps, &unused);
  // A panel whose cells share one tap reads mr consecutive channels.
  llvm::Value* first_tap = b_.CreateSDiv(row0, ir_.I64(channels));
  llvm::Value* last_tap =
      b_.CreateSDiv(b_.CreateSub(b_.CreateAdd(row0, rows), ir_.I64(1)), ir_.I64(channels));
  llvm::Value* one_tap = b_.CreateICmpEQ(first_tap, last_tap);
  llvm::Value* c0 = b_.CreateSRem(row0, ir_.I64(channels));
  Dims tap0;
  const Dims scalar_taps = Split(first_tap, w_.taps, &unused);
  for (int e = 0; e < 3; ++e) tap0[e] = scalar_taps[e];

  llvm::LLVMContext& ctx = b_.getContext();
  llvm::BasicBlock* contiguous = llvm::BasicBlock::Create(ctx, "cells_contiguous", fn_);
  llvm::BasicBlock* gathered = llvm::BasicBlock::Create(ctx, "cells_gathered", fn_);
  llvm::BasicBlock* done = llvm::BasicBlock::Create(ctx, "cells_done", fn_);
  b_.CreateCondBr(one_tap, contiguous, gathered);
  b_.SetInsertPoint(contiguous);
  KILN_RETURN_IF_ERROR(WindowLoop(p0, kc, [&](llvm::Value* p, llvm::Value* n, const Dims& win) {
    auto [offset, valid] = Cell(n, win, tap0, b_.getTrue());
    llvm::Value* mask = b_.CreateAnd(live, b_.CreateVectorSplat(mr_, valid));
    StoreColumn(dst, p, ir_.Load(mr_, a_, b_.CreateAdd(offset, c0), 1, mask));
  }));
  b_.CreateBr(done);
  b_.SetInsertPoint(gathered);
  KILN_RETURN_IF_ERROR(WindowLoop(p0, kc, [&](llvm::Value* p, llvm::Value* n, const Dims& win) {
    Dims win_lanes;
    for (int e = 0; e < 3; ++e) win_lanes[e] = Lanes(win[e]);
    auto [offset, valid] = Cell(Lanes(n), win_lanes, taps, live);
    StoreColumn(dst, p, Gather(b_.CreateAdd(offset, channel), valid));
  }));
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  return absl::OkStatus();
}

absl::Status WindowPacker::DirectTables(llvm::Value* p0, llvm::Value* kc, llvm::Value* row_begin,
                                        llvm::Value* row_end, llvm::Value* tables,
                                        llvm::Value* zeros) {
  llvm::Type* ptr = b_.getPtrTy();
  // Per tap t of the rows [row_begin, row_end), table t * kc_max + p:
  // channel 0 of the cell of tap t in the window of depth p0 + p, or the
  // zeros when that cell is padding. Depths go mr at a time, split over the
  // windows once in 32-bit lanes (which vectorize; the schedule keeps K
  // below 2^31), then one vector of pointers per tap.
  llvm::Value* tap_begin = b_.CreateSDiv(row_begin, ir_.I64(w_.channels));
  llvm::Value* tap_end =
      b_.CreateAdd(b_.CreateSDiv(b_.CreateSub(row_end, ir_.I64(1)), ir_.I64(w_.channels)),
                   ir_.I64(1));
  std::vector<llvm::Constant*> lane_ids;
  for (int l = 0; l < mr_; ++l) lane_ids.push_back(b_.getInt32(l));
  llvm::Value* iota = llvm::ConstantVector::get(lane_ids);
  llvm::Type* i64s = llvm::FixedVectorType::get(b_.getInt64Ty(), mr_);
  return ir_.Loop(fn_, ir_.I64(0), kc, mr_, [&](llvm::Value* p) {
    llvm::Value* live = ir_.FirstN(mr_, b_.CreateSub(kc, p));
    llvm::Value* depth =
        b_.CreateAdd(Lanes(b_.CreateTrunc(b_.CreateAdd(p0, p), b_.getInt32Ty())), iota);
    llvm::Value* n = nullptr;
    Dims win = Split(depth, w_.windows, &n);
    n = b_.CreateSExt(n, i64s);
    for (llvm::Value*& e : win) e = b_.CreateSExt(e, i64s);
    return ir_.Loop(fn_, tap_begin, tap_end, 1, [&](llvm::Value* tap) {
      llvm::Value* unused = nullptr;
      const Dims t = Split(tap, w_.taps, &unused);
      auto [offset, valid] = Cell(n, win, t, live);
      llvm::Value* cells = b_.CreateGEP(ir_.f32(), a_, offset);
      llvm::Value* at = b_.CreateAdd(b_.CreateMul(tap, ir_.I64(s_.kc)), p);
      b_.CreateMaskedStore(b_.CreateSelect(valid, cells, Lanes(zeros)),
                           b_.CreateGEP(ptr, tables, at), llvm::Align(8), live);
      return absl::OkStatus();
    });
  });
}

absl::Status WindowPacker::RowTable(llvm::Value* row0, llvm::Value* rows, llvm::Value* p0,
                                    llvm::Value* kc, llvm::Value* table, llvm::Value* zeros) {
  // The panel's rows (windows) as mr lanes; rows past the panel read zeros.
  std::vector<llvm::Constant*> lane_ids;
  for (int r = 0; r < mr_; ++r) lane_ids.push_back(b_.getInt64(r));
  llvm::Value* row =
      b_.CreateAdd(b_.CreateVectorSplat(mr_, row0), llvm::ConstantVector::get(lane_ids));
  llvm::Value* live = ir_.FirstN(mr_, rows);
  llvm::Value* n = nullptr;
  const Dims win = Split(ir_.Min(row, Const(row, s_.m - 1)), w_.windows, &n);
  // kc and p0 are whole taps (GemmSchedule::row_tables).
  llvm::Value* tap0 = b_.CreateSDiv(p0, ir_.I64(w_.channels));
  llvm::Value* taps = b_.CreateSDiv(kc, ir_.I64(w_.channels));
  return ir_.Loop(fn_, ir_.I64(0), taps, 1, [&](llvm::Value* t) {
    llvm::Value* unused = nullptr;
    const Dims tap = Split(b_.CreateAdd(tap0, t), w_.taps, &unused);
    auto [offset, valid] = Cell(n, win, tap, live);
    llvm::Value* cells = b_.CreateGEP(ir_.f32(), a_, offset);
    b_.CreateAlignedStore(b_.CreateSelect(valid, cells, Lanes(zeros)),
                          b_.CreateGEP(b_.getPtrTy(), table, b_.CreateMul(t, ir_.I64(mr_))),
                          llvm::Align(8));
    return absl::OkStatus();
  });
}

DirectPanel WindowPacker::Panel(llvm::Value* row0, llvm::Value* rows, llvm::Value* tables) {
  // Full panels are cells of one tap (channels % mr == 0), or one tap per
  // row from row0 on (one channel, GemmSchedule::tap_rows).
  llvm::Value* tap = b_.CreateSDiv(row0, ir_.I64(w_.channels));
  return {b_.CreateICmpEQ(rows, ir_.I64(mr_)),
          b_.CreateGEP(b_.getPtrTy(), tables, b_.CreateMul(tap, ir_.I64(s_.kc))),
          b_.CreateSRem(row0, ir_.I64(w_.channels))};
}

}  // namespace

absl::Status EmitDirectTables(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s,
                              llvm::Value* a, llvm::Value* p0, llvm::Value* kc,
                              llvm::Value* row_begin, llvm::Value* row_end, llvm::Value* tables,
                              llvm::Value* zeros) {
  return WindowPacker(ir, fn, s, a).DirectTables(p0, kc, row_begin, row_end, tables, zeros);
}

absl::Status EmitRowTable(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s, llvm::Value* a,
                          llvm::Value* row0, llvm::Value* rows, llvm::Value* p0, llvm::Value* kc,
                          llvm::Value* table, llvm::Value* zeros) {
  return WindowPacker(ir, fn, s, a).RowTable(row0, rows, p0, kc, table, zeros);
}

DirectPanel EmitDirectPanel(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s,
                            llvm::Value* row0, llvm::Value* rows, llvm::Value* tables) {
  return WindowPacker(ir, fn, s, nullptr).Panel(row0, rows, tables);
}

absl::Status EmitPackWindowsA(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s,
                              llvm::Value* a, llvm::Value* row0, llvm::Value* rows,
                              llvm::Value* p0, llvm::Value* kc, llvm::Value* dst) {
  WindowPacker packer(ir, fn, s, a);
  if (s.windows->windows_along_depth) return packer.PackCellRows(row0, rows, p0, kc, dst);
  return packer.PackWindowRows(row0, rows, p0, kc, dst);
}

}  // namespace kiln
