// Packing of an implicit-GEMM A operand read through sliding windows
// (GemmWindows: convolutions and their gradients). The panel layout is
// EmitPackA's, dst[p * mr + r]; cells in the padding, or that a strided
// gradient skips, pack as zeros, so no im2col matrix is ever stored.
//
//   rows = windows (conv forward, input gradient): per run of depths that
//     share a tap, mr row offsets are computed once; with enough channels
//     the run is read as mr contiguous vectors and transposed in registers,
//     with few channels (the first layer) each depth is one masked gather.
//   rows = cells (filter gradient): per depth (a window), the mr cells of a
//     panel that share a tap are one contiguous masked load, else a gather.
#include <array>

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
  llvm::Value* Const(llvm::Value* like, int64_t v) {
    if (auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(like->getType())) {
      return b_.CreateVectorSplat(vt->getNumElements(), ir_.I64(v));
    }
    return ir_.I64(v);
  }
  // The image element of window (n, win) at tap t (each scalar or a vector
  // of mr lanes), and whether it is a real cell: offset, valid.
  std::pair<llvm::Value*, llvm::Value*> Cell(llvm::Value* n, const Dims& win, const Dims& t,
                                             llvm::Value* live);
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
    return ir_.Loop(fn_, ir_.I64(0), kc, 1, [&](llvm::Value* p) {
      llvm::Value* depth = b_.CreateAdd(p0, p);
      auto [offset, valid] = tap_cells(b_.CreateSDiv(depth, ir_.I64(channels)));
      offset = b_.CreateAdd(offset, Lanes(b_.CreateSRem(depth, ir_.I64(channels))));
      StoreColumn(dst, p, Gather(offset, valid));
      return absl::OkStatus();
    });
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
  auto window = [&](llvm::Value* p, Dims* win) {
    llvm::Value* n = nullptr;
    *win = Split(b_.CreateAdd(p0, p), w_.windows, &n);
    return n;
  };
  b_.SetInsertPoint(contiguous);
  KILN_RETURN_IF_ERROR(ir_.Loop(fn_, ir_.I64(0), kc, 1, [&](llvm::Value* p) {
    Dims win;
    llvm::Value* n = window(p, &win);
    auto [offset, valid] = Cell(n, win, tap0, b_.getTrue());
    llvm::Value* mask = b_.CreateAnd(live, b_.CreateVectorSplat(mr_, valid));
    StoreColumn(dst, p, ir_.Load(mr_, a_, b_.CreateAdd(offset, c0), 1, mask));
    return absl::OkStatus();
  }));
  b_.CreateBr(done);
  b_.SetInsertPoint(gathered);
  KILN_RETURN_IF_ERROR(ir_.Loop(fn_, ir_.I64(0), kc, 1, [&](llvm::Value* p) {
    Dims win;
    llvm::Value* n = window(p, &win);
    Dims win_lanes;
    for (int e = 0; e < 3; ++e) win_lanes[e] = Lanes(win[e]);
    auto [offset, valid] = Cell(Lanes(n), win_lanes, taps, live);
    StoreColumn(dst, p, Gather(b_.CreateAdd(offset, channel), valid));
    return absl::OkStatus();
  }));
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  return absl::OkStatus();
}

}  // namespace

absl::Status EmitPackWindowsA(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s,
                              llvm::Value* a, llvm::Value* row0, llvm::Value* rows,
                              llvm::Value* p0, llvm::Value* kc, llvm::Value* dst) {
  WindowPacker packer(ir, fn, s, a);
  if (s.windows->windows_along_depth) return packer.PackCellRows(row0, rows, p0, kc, dst);
  return packer.PackWindowRows(row0, rows, p0, kc, dst);
}

}  // namespace kiln
