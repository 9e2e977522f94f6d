// GEMM packing: A panels and B blocks copied into the contiguous layouts
// the micro-kernel streams (see gemm_emitter_internal.h), plus the IR
// helpers the GEMM emitter shares. Rows that are contiguous in the source
// are read as vectors and transposed in registers; other layouts gather.
#include <map>
#include <utility>

#include "codegen/gemm_emitter_internal.h"
#include "graph/status_macros.h"
#include "llvm/IR/Constants.h"

namespace kiln {
namespace {

// Rows of B a packing loop prefetches ahead.
constexpr int64_t kPrefetchDepth = 8;

// Lane l's element offset, offset + l * stride, as a vector of n lanes.
llvm::Value* LaneOffsets(llvm::IRBuilder<>& b, int n, llvm::Value* offset, int64_t stride) {
  std::vector<llvm::Constant*> lanes;
  for (int l = 0; l < n; ++l) lanes.push_back(b.getInt64(l * stride));
  return b.CreateAdd(b.CreateVectorSplat(n, offset), llvm::ConstantVector::get(lanes));
}

}  // namespace

llvm::Value* GemmIr::FirstN(int n, llvm::Value* count) {
  std::vector<llvm::Constant*> lanes;
  for (int l = 0; l < n; ++l) lanes.push_back(llvm::ConstantInt::get(i64_, l));
  return b_.CreateICmpSLT(llvm::ConstantVector::get(lanes), b_.CreateVectorSplat(n, count));
}

llvm::Value* GemmIr::Load(int n, llvm::Value* base, llvm::Value* offset, int64_t stride,
                          llvm::Value* mask) {
  llvm::Value* zero = llvm::Constant::getNullValue(F32s(n));
  const llvm::Align align(4);
  if (stride == 1) {
    llvm::Value* ptr = At(base, offset);
    if (mask == nullptr) return b_.CreateAlignedLoad(F32s(n), ptr, align);
    return b_.CreateMaskedLoad(F32s(n), ptr, align, mask, zero);
  }
  return b_.CreateMaskedGather(F32s(n), At(base, LaneOffsets(b_, n, offset, stride)), align, mask,
                               zero);
}

void GemmIr::Store(llvm::Value* value, llvm::Value* base, llvm::Value* offset, int64_t stride,
                   llvm::Value* mask) {
  const int n =
      static_cast<int>(llvm::cast<llvm::FixedVectorType>(value->getType())->getNumElements());
  const llvm::Align align(4);
  if (stride == 1 && mask == nullptr) {
    b_.CreateAlignedStore(value, At(base, offset), align);
  } else if (stride == 1) {
    b_.CreateMaskedStore(value, At(base, offset), align, mask);
  } else {
    b_.CreateMaskedScatter(value, At(base, LaneOffsets(b_, n, offset, stride)), align, mask);
  }
}

void GemmIr::Prefetch(llvm::Value* address) {
  llvm::Function* prefetch = llvm::Intrinsic::getDeclaration(
      b_.GetInsertBlock()->getModule(), llvm::Intrinsic::prefetch, {address->getType()});
  // Read, high locality, data cache.
  b_.CreateCall(prefetch, {address, b_.getInt32(0), b_.getInt32(3), b_.getInt32(1)});
}

absl::Status GemmIr::Loop(llvm::Function* fn, llvm::Value* begin, llvm::Value* end, int64_t step,
                          const Body& body) {
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx_, "loop", fn);
  llvm::BasicBlock* inside = llvm::BasicBlock::Create(ctx_, "body", fn);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx_, "exit", fn);
  b_.CreateBr(header);
  b_.SetInsertPoint(header);
  llvm::PHINode* i = b_.CreatePHI(i64_, 2);
  i->addIncoming(begin, pre);
  b_.CreateCondBr(b_.CreateICmpSLT(i, end), inside, exit);
  b_.SetInsertPoint(inside);
  KILN_RETURN_IF_ERROR(body(i));
  i->addIncoming(b_.CreateAdd(i, I64(step)), b_.GetInsertBlock());
  b_.CreateBr(header);
  b_.SetInsertPoint(exit);
  return absl::OkStatus();
}

std::vector<llvm::Value*> GemmIr::Transpose(const std::vector<llvm::Value*>& rows) {
  // Each vector holds a block of rows [r0, r0 + nr) for columns [p0, p0 + np),
  // column-major inside (lane (p - p0) * nr + (r - r0)). Every stage merges
  // two neighbouring row blocks over the same columns into two vectors of
  // twice the rows and half the columns: one two-source shuffle each.
  struct Block {
    int r0, nr, p0, np;
    llvm::Value* v;
  };
  const int num_rows = static_cast<int>(rows.size());
  const int lanes =
      static_cast<int>(llvm::cast<llvm::FixedVectorType>(rows[0]->getType())->getNumElements());
  std::vector<Block> blocks;
  for (int r = 0; r < num_rows; ++r) blocks.push_back({r, 1, 0, lanes, rows[r]});
  for (int width = 1; width < num_rows; width *= 2) {
    std::map<std::pair<int, int>, Block> by_start;
    for (const Block& blk : blocks) by_start[{blk.r0, blk.p0}] = blk;
    std::vector<Block> next;
    for (const Block& x : blocks) {
      if (x.r0 % (2 * width) != 0) continue;
      const Block& y = by_start.at({x.r0 + width, x.p0});
      for (int half = 0; half < 2; ++half) {
        Block out{x.r0, 2 * width, x.p0 + half * x.np / 2, x.np / 2, nullptr};
        std::vector<int> mask;
        for (int l = 0; l < lanes; ++l) {
          const int p = out.p0 + l / out.nr, r = out.r0 + l % out.nr;
          const Block& src = r < x.r0 + width ? x : y;
          mask.push_back((&src == &y ? lanes : 0) + (p - src.p0) * src.nr + (r - src.r0));
        }
        out.v = b_.CreateShuffleVector(x.v, y.v, mask);
        next.push_back(out);
      }
    }
    blocks = std::move(next);
  }
  std::vector<llvm::Value*> out(num_rows);
  for (const Block& blk : blocks) out[blk.p0 * num_rows / lanes] = blk.v;
  return out;
}

absl::Status EmitPackA(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s, llvm::Value* a,
                       llvm::Value* row0, llvm::Value* rows, llvm::Value* p0, llvm::Value* kc,
                       llvm::Value* dst) {
  llvm::IRBuilder<>& b = ir.b();
  const int mr = s.mr, lanes = s.lanes;
  llvm::Value* row_mask = ir.FirstN(mr, rows);
  // One packed column (mr rows at depth p) by a vector load or a gather.
  auto column = [&](llvm::Value* p) -> absl::Status {
    llvm::Value* at = b.CreateAdd(b.CreateMul(row0, ir.I64(s.a_row)),
                                  b.CreateMul(b.CreateAdd(p0, p), ir.I64(s.a_col)));
    b.CreateAlignedStore(ir.Load(mr, a, at, s.a_row, row_mask),
                         ir.At(dst, b.CreateMul(p, ir.I64(mr))), llvm::Align(4));
    return absl::OkStatus();
  };
  const bool transpose = s.a_col == 1 && s.a_row != 1 && (mr & (mr - 1)) == 0 && lanes % mr == 0;
  if (!transpose) return ir.Loop(fn, ir.I64(0), kc, 1, column);
  // Rows contiguous in depth: mr vector loads of `lanes` columns each, an
  // in-register transpose and mr contiguous stores.
  llvm::Value* full = b.CreateMul(b.CreateSDiv(kc, ir.I64(lanes)), ir.I64(lanes));
  KILN_RETURN_IF_ERROR(ir.Loop(fn, ir.I64(0), full, lanes, [&](llvm::Value* p) {
    std::vector<llvm::Value*> loaded;
    for (int r = 0; r < mr; ++r) {
      llvm::Value* row = b.CreateAdd(row0, ir.I64(r));
      llvm::Value* at = b.CreateAdd(b.CreateMul(row, ir.I64(s.a_row)), b.CreateAdd(p0, p));
      llvm::Value* live = b.CreateVectorSplat(lanes, b.CreateICmpSLT(ir.I64(r), rows));
      loaded.push_back(ir.Load(lanes, a, at, 1, live));
      // The next panel's rows, while this one's micro-kernels run.
      ir.Prefetch(ir.At(a, b.CreateAdd(at, ir.I64(mr * s.a_row))));
    }
    std::vector<llvm::Value*> packed = ir.Transpose(loaded);
    llvm::Value* out = ir.At(dst, b.CreateMul(p, ir.I64(mr)));
    for (int q = 0; q < mr; ++q) {
      b.CreateAlignedStore(packed[q], ir.At(out, ir.I64(q * lanes)), llvm::Align(4));
    }
    return absl::OkStatus();
  }));
  return ir.Loop(fn, full, kc, 1, column);
}

absl::Status EmitPackB(GemmIr& ir, llvm::Function* fn, const GemmSchedule& s, llvm::Value* bm,
                       llvm::Value* col0, llvm::Value* cols, llvm::Value* p0, llvm::Value* kc,
                       llvm::Value* dst) {
  llvm::IRBuilder<>& b = ir.b();
  const int lanes = s.lanes, vectors = s.nr / s.lanes;
  llvm::Value* panels = b.CreateSDiv(b.CreateAdd(cols, ir.I64(s.nr - 1)), ir.I64(s.nr));
  const bool transpose =
      s.b_row == 1 && s.b_col != 1 && (lanes & (lanes - 1)) == 0 && s.b_run == 0;
  // Element offset of B's depth p (runs of b_run depths b_run_stride apart).
  auto depth_at = [&](llvm::Value* p) -> llvm::Value* {
    if (s.b_run == 0) return b.CreateMul(p, ir.I64(s.b_row));
    return b.CreateAdd(b.CreateMul(b.CreateSDiv(p, ir.I64(s.b_run)), ir.I64(s.b_run_stride)),
                       b.CreateMul(b.CreateSRem(p, ir.I64(s.b_run)), ir.I64(s.b_row)));
  };
  return ir.Loop(fn, ir.I64(0), panels, 1, [&](llvm::Value* jp) -> absl::Status {
    llvm::Value* first = b.CreateAdd(col0, b.CreateMul(jp, ir.I64(s.nr)));
    llvm::Value* width = b.CreateSub(cols, b.CreateMul(jp, ir.I64(s.nr)));
    llvm::Value* panel = ir.At(dst, b.CreateMul(b.CreateMul(jp, kc), ir.I64(s.nr)));
    // One packed row (depth p) of vector v by a vector load or a gather.
    auto row = [&](llvm::Value* p, int v) {
      llvm::Value* c = b.CreateAdd(first, ir.I64(v * lanes));
      llvm::Value* at = b.CreateAdd(depth_at(b.CreateAdd(p0, p)), b.CreateMul(c, ir.I64(s.b_col)));
      llvm::Value* mask = ir.FirstN(lanes, b.CreateSub(width, ir.I64(v * lanes)));
      if (s.b_col == 1 && s.b_run == 0) {  // rows a few depths ahead, for the hardware's sake
        ir.Prefetch(ir.At(bm, b.CreateAdd(at, ir.I64(kPrefetchDepth * s.b_row))));
      }
      b.CreateAlignedStore(
          ir.Load(lanes, bm, at, s.b_col, mask),
          ir.At(panel, b.CreateAdd(b.CreateMul(p, ir.I64(s.nr)), ir.I64(v * lanes))),
          llvm::Align(4 * lanes));
    };
    auto rows = [&](llvm::Value* p) {
      for (int v = 0; v < vectors; ++v) row(p, v);
      return absl::OkStatus();
    };
    if (!transpose) return ir.Loop(fn, ir.I64(0), kc, 1, rows);
    // Columns contiguous in depth (B stored [n, k]): per vector of columns,
    // `lanes` loads along depth and an in-register transpose.
    llvm::Value* full = b.CreateMul(b.CreateSDiv(kc, ir.I64(lanes)), ir.I64(lanes));
    KILN_RETURN_IF_ERROR(ir.Loop(fn, ir.I64(0), full, lanes, [&](llvm::Value* p) {
      for (int v = 0; v < vectors; ++v) {
        std::vector<llvm::Value*> loaded;
        for (int c = 0; c < lanes; ++c) {
          const int64_t offset = v * lanes + c;
          llvm::Value* col = b.CreateAdd(first, ir.I64(offset));
          llvm::Value* at = b.CreateAdd(b.CreateMul(col, ir.I64(s.b_col)), b.CreateAdd(p0, p));
          llvm::Value* live = b.CreateVectorSplat(lanes, b.CreateICmpSLT(ir.I64(offset), width));
          loaded.push_back(ir.Load(lanes, bm, at, 1, live));
        }
        std::vector<llvm::Value*> packed = ir.Transpose(loaded);
        for (int q = 0; q < lanes; ++q) {
          llvm::Value* at =
              b.CreateAdd(b.CreateMul(b.CreateAdd(p, ir.I64(q)), ir.I64(s.nr)), ir.I64(v * lanes));
          b.CreateAlignedStore(packed[q], ir.At(panel, at), llvm::Align(4 * lanes));
        }
      }
      return absl::OkStatus();
    }));
    return ir.Loop(fn, full, kc, 1, rows);
  });
}

}  // namespace kiln
