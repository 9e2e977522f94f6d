// Lowers a WindowSchedule to an LLVM function
//
//   void <name>(ptr buffers, i64 begin, i64 end)
//
// computing output rows [begin, end) (see codegen/window_schedule.h). Per
// block of outputs along the innermost window dim and vector of channels,
// the accumulators live in registers (allocas that SROA promotes) while
// loops run over the window's cells; a cell in the padding, or one that a
// strided gradient skips, is a masked-off load, so the loop body has no
// branches.
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"

#include "codegen/gemm_emitter_internal.h"
#include "codegen/window_emitter_internal.h"
#include "graph/status_macros.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Verifier.h"

namespace kiln {
namespace {

// Multiply-adds (or comparisons) per thread-pool task, at least.
constexpr int64_t kWindowWorkPerTask = 1 << 16;

class WindowEmitter {
 public:
  WindowEmitter(const WindowSchedule& s, llvm::Module& m)
      : s_(s), w_(s.problem.windows), m_(m), ir_(m), b_(ir_.b()),
        ptr_(llvm::PointerType::get(m.getContext(), 0)) {}

  absl::Status Emit();

 private:
  // Outputs [w2, w2 + rows) of the current row, every channel.
  absl::Status Block(llvm::Value* w2, int rows);
  // The block's body; unchecked: every cell is known to be real.
  absl::Status BlockBody(llvm::Value* w2, int rows, bool checked);
  // Whether every cell of windows [w, w + count) in dim e is real (no
  // padding, no skipped strided cell): then no cell needs a check.
  llvm::Value* Inside(int e, llvm::Value* w, int64_t count) {
    if (w_.divisor[e] > 1) return b_.getFalse();
    const int64_t span = (w_.taps[e] - 1) * w_.tap_step[e];
    llvm::Value* first = b_.CreateAdd(b_.CreateMul(w, ir_.I64(w_.window_step[e])),
                                      ir_.I64(w_.offset[e] + std::min<int64_t>(0, span)));
    llvm::Value* last = b_.CreateAdd(
        first, ir_.I64((count - 1) * w_.window_step[e] + std::abs(span)));
    return b_.CreateAnd(b_.CreateICmpSGE(first, ir_.I64(0)),
                        b_.CreateICmpSLT(last, ir_.I64(w_.extent[e])));
  }
  // Position of cell (window index, tap index) in dim e: its row and whether
  // it is a real cell (and (valid) the incoming validity).
  std::pair<llvm::Value*, llvm::Value*> Row(int e, llvm::Value* window, llvm::Value* tap,
                                            llvm::Value* valid, bool checked) {
    return RowOf(w_, e, window, tap, valid, checked);
  }
  std::pair<llvm::Value*, llvm::Value*> RowOf(const GemmWindows& w, int e, llvm::Value* window,
                                              llvm::Value* tap, llvm::Value* valid,
                                              bool checked) {
    llvm::Value* q = b_.CreateAdd(
        b_.CreateAdd(b_.CreateMul(window, ir_.I64(w.window_step[e])),
                     b_.CreateMul(tap, ir_.I64(w.tap_step[e]))),
        ir_.I64(w.offset[e]));
    if (!checked) return {q, valid};
    if (w.divisor[e] > 1) {
      valid = b_.CreateAnd(valid, b_.CreateICmpEQ(b_.CreateSRem(q, ir_.I64(w.divisor[e])),
                                                  ir_.I64(0)));
      q = b_.CreateSDiv(q, ir_.I64(w.divisor[e]));
    }
    valid = b_.CreateAnd(valid, b_.CreateICmpSGE(q, ir_.I64(0)));
    valid = b_.CreateAnd(valid, b_.CreateICmpSLT(q, ir_.I64(w.extent[e])));
    return {q, valid};
  }
  // Lanes where cell `tap` (flat) is the first maximum of pooled window
  // (q0, q1, q2) over the pooled image, channels [cv, cv + lanes).
  absl::StatusOr<llvm::Value*> FirstMaxIs(llvm::Value* q0, llvm::Value* q1, llvm::Value* q2,
                                          llvm::Value* tap, llvm::Value* cv, llvm::Value* cmask);

  const WindowSchedule& s_;
  const GemmWindows& w_;
  llvm::Module& m_;
  GemmIr ir_;
  llvm::IRBuilder<>& b_;
  llvm::PointerType* ptr_;
  llvm::Function* fn_ = nullptr;
  llvm::Value *image_ = nullptr, *weights_ = nullptr, *out_ = nullptr;
  llvm::Value *w0_ = nullptr, *w1_ = nullptr;
  std::vector<llvm::AllocaInst*> acc_;
  // Routing: the pooled image and the running maximum and its cell.
  llvm::Value* pooled_ = nullptr;
  llvm::AllocaInst *best_ = nullptr, *best_cell_ = nullptr;
};

absl::StatusOr<llvm::Value*> WindowEmitter::FirstMaxIs(llvm::Value* q0, llvm::Value* q1,
                                                       llvm::Value* q2, llvm::Value* tap,
                                                       llvm::Value* cv, llvm::Value* cmask) {
  const GemmWindows& p = s_.problem.pooled;
  const int lanes = s_.lanes;
  llvm::Type* vec = ir_.F32s(lanes);
  llvm::Type* cells = llvm::FixedVectorType::get(b_.getInt64Ty(), lanes);
  b_.CreateStore(llvm::ConstantFP::get(vec, -std::numeric_limits<double>::infinity()), best_);
  b_.CreateStore(llvm::Constant::getAllOnesValue(cells), best_cell_);
  KILN_RETURN_IF_ERROR(ir_.Loop(fn_, ir_.I64(0), ir_.I64(p.taps[0]), 1, [&](llvm::Value* u0) {
    auto [r0, v0] = RowOf(p, 0, q0, u0, b_.getTrue(), true);
    return ir_.Loop(fn_, ir_.I64(0), ir_.I64(p.taps[1]), 1, [&](llvm::Value* u1) {
      auto [r1, v1] = RowOf(p, 1, q1, u1, v0, true);
      return ir_.Loop(fn_, ir_.I64(0), ir_.I64(p.taps[2]), 1, [&](llvm::Value* u2) {
        auto [r2, valid] = RowOf(p, 2, q2, u2, v1, true);
        llvm::Value* at = b_.CreateAdd(
            b_.CreateAdd(b_.CreateMul(r0, ir_.I64(p.row_stride[0])),
                         b_.CreateMul(r1, ir_.I64(p.row_stride[1]))),
            b_.CreateAdd(b_.CreateMul(r2, ir_.I64(p.row_stride[2])), cv));
        llvm::Value* live = b_.CreateVectorSplat(lanes, valid);
        llvm::Value* x = ir_.Load(lanes, pooled_, at, 1, b_.CreateAnd(cmask, live));
        llvm::Value* best = b_.CreateLoad(vec, best_);
        // Window order; only a strictly greater real cell takes over.
        llvm::Value* greater = b_.CreateAnd(live, b_.CreateFCmpOGT(x, best));
        llvm::Value* cell = b_.CreateAdd(
            b_.CreateMul(b_.CreateAdd(b_.CreateMul(u0, ir_.I64(p.taps[1])), u1),
                         ir_.I64(p.taps[2])),
            u2);
        b_.CreateStore(b_.CreateSelect(greater, x, best), best_);
        b_.CreateStore(b_.CreateSelect(greater, b_.CreateVectorSplat(lanes, cell),
                                       b_.CreateLoad(cells, best_cell_)),
                       best_cell_);
        return absl::OkStatus();
      });
    });
  }));
  return b_.CreateICmpEQ(b_.CreateLoad(cells, best_cell_), b_.CreateVectorSplat(lanes, tap));
}

absl::Status WindowEmitter::Block(llvm::Value* w2, int rows) {
  llvm::LLVMContext& ctx = b_.getContext();
  llvm::Value* inside =
      b_.CreateAnd(b_.CreateAnd(Inside(0, w0_, 1), Inside(1, w1_, 1)), Inside(2, w2, rows));
  llvm::BasicBlock* fast = llvm::BasicBlock::Create(ctx, "inside", fn_);
  llvm::BasicBlock* slow = llvm::BasicBlock::Create(ctx, "border", fn_);
  llvm::BasicBlock* done = llvm::BasicBlock::Create(ctx, "block_done", fn_);
  b_.CreateCondBr(inside, fast, slow);
  b_.SetInsertPoint(fast);
  KILN_RETURN_IF_ERROR(BlockBody(w2, rows, /*checked=*/false));
  b_.CreateBr(done);
  b_.SetInsertPoint(slow);
  KILN_RETURN_IF_ERROR(BlockBody(w2, rows, /*checked=*/true));
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  return absl::OkStatus();
}

absl::Status WindowEmitter::BlockBody(llvm::Value* w2, int rows, bool checked) {
  const int lanes = s_.lanes;
  llvm::Type* vec = ir_.F32s(lanes);
  const bool sum = s_.has_weights();
  const int64_t fan = s_.problem.fan;
  llvm::Value* identity =
      sum || s_.routes() ? llvm::ConstantFP::get(vec, 0.0)
          : llvm::ConstantFP::get(vec, -std::numeric_limits<double>::infinity());
  return ir_.Loop(fn_, ir_.I64(0), ir_.I64(w_.channels), lanes, [&](llvm::Value* cv) {
    llvm::Value* cmask = ir_.FirstN(lanes, b_.CreateSub(ir_.I64(w_.channels), cv));
    for (int r = 0; r < rows; ++r) b_.CreateStore(identity, acc_[r]);
    // Cells: t0, t1 (one validity each), then t2 per output of the block.
    KILN_RETURN_IF_ERROR(ir_.Loop(fn_, ir_.I64(0), ir_.I64(w_.taps[0]), 1, [&](llvm::Value* t0) {
      auto [q0, v0] = Row(0, w0_, t0, b_.getTrue(), checked);
      return ir_.Loop(fn_, ir_.I64(0), ir_.I64(w_.taps[1]), 1, [&](llvm::Value* t1) {
        auto [q1, v1] = Row(1, w1_, t1, v0, checked);
        llvm::Value* base = b_.CreateAdd(b_.CreateAdd(b_.CreateMul(q0, ir_.I64(w_.row_stride[0])),
                                                      b_.CreateMul(q1, ir_.I64(w_.row_stride[1]))),
                                         cv);
        return ir_.Loop(fn_, ir_.I64(0), ir_.I64(w_.taps[2]), 1, [&](llvm::Value* t2) {
          llvm::Value* weight = nullptr;
          llvm::Value* tap = b_.CreateAdd(
              b_.CreateMul(b_.CreateAdd(b_.CreateMul(t0, ir_.I64(w_.taps[1])), t1),
                           ir_.I64(w_.taps[2])),
              t2);
          if (sum && fan == 1) {
            weight = ir_.Load(lanes, weights_,
                              b_.CreateAdd(b_.CreateMul(tap, ir_.I64(w_.channels)), cv), 1, cmask);
          }
          for (int r = 0; r < rows; ++r) {
            auto [q2, valid] = Row(2, b_.CreateAdd(w2, ir_.I64(r)), t2, v1, checked);
            llvm::Value* at = b_.CreateAdd(base, b_.CreateMul(q2, ir_.I64(w_.row_stride[2])));
            llvm::Value* live = b_.CreateVectorSplat(lanes, valid);
            llvm::Value* acc = b_.CreateLoad(vec, acc_[r]);
            if (fan > 1) {
              // Image channels c * fan + f, weights likewise.
              llvm::Value* mask = b_.CreateAnd(cmask, live);
              llvm::Value* first = b_.CreateAdd(b_.CreateSub(at, cv), b_.CreateMul(cv, ir_.I64(fan)));
              llvm::Value* wfirst =
                  b_.CreateMul(b_.CreateAdd(b_.CreateMul(tap, ir_.I64(w_.channels)), cv),
                               ir_.I64(fan));
              llvm::Function* fma =
                  llvm::Intrinsic::getDeclaration(&m_, llvm::Intrinsic::fma, {vec});
              for (int64_t f = 0; f < fan; ++f) {
                llvm::Value* x =
                    ir_.Load(lanes, image_, b_.CreateAdd(first, ir_.I64(f)), fan, mask);
                llvm::Value* wf =
                    ir_.Load(lanes, weights_, b_.CreateAdd(wfirst, ir_.I64(f)), fan, cmask);
                acc = b_.CreateCall(fma, {x, wf, acc});
              }
              b_.CreateStore(acc, acc_[r]);
              continue;
            }
            llvm::Value* x =
                SpreadLoad(ir_, lanes, image_, at, cv, s_.problem.multiplier, b_.CreateAnd(cmask, live));
            if (s_.routes()) {
              // Only a real cell searches its pooled window.
              llvm::LLVMContext& ctx = b_.getContext();
              llvm::BasicBlock* search = llvm::BasicBlock::Create(ctx, "search", fn_);
              llvm::BasicBlock* searched = llvm::BasicBlock::Create(ctx, "searched", fn_);
              b_.CreateCondBr(valid, search, searched);
              b_.SetInsertPoint(search);
              KILN_ASSIGN_OR_RETURN(llvm::Value* hit, FirstMaxIs(q0, q1, q2, tap, cv, cmask));
              b_.CreateStore(
                  b_.CreateFAdd(acc, b_.CreateSelect(hit, x, llvm::ConstantFP::get(vec, 0.0))),
                  acc_[r]);
              b_.CreateBr(searched);
              b_.SetInsertPoint(searched);
              continue;
            }
            if (sum) {
              llvm::Function* fma =
                  llvm::Intrinsic::getDeclaration(&m_, llvm::Intrinsic::fma, {vec});
              acc = b_.CreateCall(fma, {x, weight, acc});
            } else {
              // The first maximum stays: only a strictly greater real cell wins.
              llvm::Value* greater = b_.CreateAnd(live, b_.CreateFCmpOGT(x, acc));
              acc = b_.CreateSelect(greater, x, acc);
            }
            b_.CreateStore(acc, acc_[r]);
          }
          return absl::OkStatus();
        });
      });
    }));
    for (int r = 0; r < rows; ++r) {
      llvm::Value* at =
          b_.CreateAdd(b_.CreateMul(b_.CreateAdd(w2, ir_.I64(r)), ir_.I64(w_.channels)), cv);
      b_.CreateMaskedStore(b_.CreateLoad(vec, acc_[r]), ir_.At(out_, at), llvm::Align(4), cmask);
    }
    return absl::OkStatus();
  });
}

absl::Status WindowEmitter::Emit() {
  llvm::LLVMContext& ctx = m_.getContext();
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr_, i64, i64}, false);
  fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, s_.name, m_);
  fn_->addFnAttr(llvm::Attribute::NoUnwind);
  b_.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn_));
  for (int r = 0; r < s_.block; ++r) acc_.push_back(b_.CreateAlloca(ir_.F32s(s_.lanes)));
  auto buffer = [&](int k) {
    return b_.CreateLoad(ptr_, b_.CreateGEP(ptr_, fn_->getArg(0), ir_.I64(k)));
  };
  if (s_.routes()) {
    pooled_ = buffer(0);
    image_ = buffer(1);
    best_ = b_.CreateAlloca(ir_.F32s(s_.lanes));
    best_cell_ = b_.CreateAlloca(llvm::FixedVectorType::get(b_.getInt64Ty(), s_.lanes));
  } else {
    image_ = buffer(0);
  }
  if (s_.has_weights()) weights_ = buffer(1);
  out_ = buffer(static_cast<int>(s_.buffers.size()) - 1);
  const int64_t row_outputs = w_.windows[2] * w_.channels;
  KILN_RETURN_IF_ERROR(ir_.Loop(fn_, fn_->getArg(1), fn_->getArg(2), 1, [&](llvm::Value* item) {
    llvm::Value* n = b_.CreateSDiv(item, ir_.I64(w_.windows[0] * w_.windows[1]));
    w0_ = b_.CreateSRem(b_.CreateSDiv(item, ir_.I64(w_.windows[1])), ir_.I64(w_.windows[0]));
    w1_ = b_.CreateSRem(item, ir_.I64(w_.windows[1]));
    llvm::Value* image = image_;
    image_ = ir_.At(image, b_.CreateMul(n, ir_.I64(w_.image_stride)));
    llvm::Value* out = out_;
    out_ = ir_.At(out, b_.CreateMul(item, ir_.I64(row_outputs)));
    llvm::Value* pooled = pooled_;
    if (pooled != nullptr) {
      pooled_ = ir_.At(pooled, b_.CreateMul(n, ir_.I64(s_.problem.pooled.image_stride)));
    }
    const int64_t full = w_.windows[2] / s_.block * s_.block;
    absl::Status status = ir_.Loop(fn_, ir_.I64(0), ir_.I64(full), s_.block,
                                   [&](llvm::Value* w2) { return Block(w2, s_.block); });
    if (status.ok() && full < w_.windows[2]) {
      status = ir_.Loop(fn_, ir_.I64(full), ir_.I64(w_.windows[2]), 1,
                        [&](llvm::Value* w2) { return Block(w2, 1); });
    }
    image_ = image;
    out_ = out;
    pooled_ = pooled;
    return status;
  }));
  b_.CreateRetVoid();
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(m_, &os)) {
    return absl::InternalError(absl::StrCat("window kernel ", s_.name, " is malformed: ", problems));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EmitWindowKernel(const WindowSchedule& schedule, llvm::Module& module) {
  if (schedule.sums_windows()) return EmitWindowSumKernel(schedule, module);
  if (schedule.scatters()) return EmitWindowScatterKernel(schedule, module);
  return WindowEmitter(schedule, module).Emit();
}

absl::StatusOr<CompiledWindowKernel> CompileWindowKernel(const Graph& graph,
                                                         const KernelGroup& group,
                                                         KernelJit& jit) {
  KILN_ASSIGN_OR_RETURN(WindowSchedule s, ScheduleWindow(graph, group, jit.vector_bits()));
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = std::make_unique<llvm::Module>(s.name, *context);
  KILN_RETURN_IF_ERROR(EmitWindowKernel(s, *module));
  KILN_ASSIGN_OR_RETURN(
      std::vector<void*> fns,
      jit.Compile(llvm::orc::ThreadSafeModule(std::move(module), std::move(context)), {s.name}));
  CompiledWindowKernel out;
  out.fn = reinterpret_cast<void (*)(char**, int64_t, int64_t)>(fns[0]);
  out.work_items = s.work_items;
  const GemmWindows& w = s.problem.windows;
  const GemmWindows& p = s.problem.pooled;
  const int64_t per_item =
      s.scatters() ? std::max<int64_t>(1, p.windows[2] * w.channels * p.taps[0] * p.taps[1] *
                                              p.taps[2])
      : s.sums_windows()
          ? w.images * w.windows[0] * w.windows[1] * w.windows[2] * s.block * s.lanes
          : std::max<int64_t>(1, w.windows[2] * w.channels * w.taps[0] * w.taps[1] * w.taps[2]);
  out.grain = std::max<int64_t>(1, kWindowWorkPerTask / per_item);
  return out;
}

}  // namespace kiln
