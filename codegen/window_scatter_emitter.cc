// The window kernel of a first-max routing whose pooled windows do not
// overlap (WindowSchedule::scatters(): max-pool gradients with stride >=
// window, the common 2x2 stride 2). Gathering per input cell would search a
// window once per cell of it; instead a work item is one row of pooled
// windows (image n, pooled dims 0 and 1). It owns the output rows from its
// windows' first row up to the next item's (the last item of a dim also the
// tail past the last window), zeroes them, then per pooled window and
// vector of channels finds the first maximum once (window order, a later
// cell wins only when strictly greater, padding never) and writes the
// window's gradient there and 0 at the window's other real cells. Items own
// disjoint rows, so results do not depend on how items are split.
#include <functional>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "codegen/gemm_emitter_internal.h"
#include "codegen/window_emitter_internal.h"
#include "graph/status_macros.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Verifier.h"

namespace kiln {

absl::Status EmitWindowScatterKernel(const WindowSchedule& s, llvm::Module& m) {
  const GemmWindows& g = s.problem.windows;  // output rows, and the gradient's addressing
  const GemmWindows& p = s.problem.pooled;   // the pooled windows over input 0
  GemmIr ir(m);
  llvm::IRBuilder<>& b = ir.b();
  llvm::LLVMContext& ctx = m.getContext();
  llvm::Type* i64 = b.getInt64Ty();
  llvm::PointerType* ptr = llvm::PointerType::get(ctx, 0);
  auto* type = llvm::FunctionType::get(b.getVoidTy(), {ptr, i64, i64}, false);
  llvm::Function* fn = llvm::Function::Create(type, llvm::Function::ExternalLinkage, s.name, m);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
  const int lanes = s.lanes;
  llvm::Type* vec = ir.F32s(lanes);
  llvm::Type* cells = llvm::FixedVectorType::get(i64, lanes);
  llvm::AllocaInst* best = b.CreateAlloca(vec);
  llvm::AllocaInst* best_cell = b.CreateAlloca(cells);
  auto buffer = [&](int k) { return b.CreateLoad(ptr, b.CreateGEP(ptr, fn->getArg(0), ir.I64(k))); };
  llvm::Value *pooled = buffer(0), *grad = buffer(1), *out = buffer(2);
  const int64_t C = g.channels, row_len = g.windows[2] * C;
  auto clamp = [&](llvm::Value* v, int64_t hi) {
    return ir.Min(b.CreateBinaryIntrinsic(llvm::Intrinsic::smax, v, ir.I64(0)), ir.I64(hi));
  };
  // The output rows [lo, hi) pooled window index `pw` owns in dim e.
  auto owned = [&](int e, llvm::Value* pw) {
    auto start = [&](llvm::Value* q) {
      return clamp(b.CreateAdd(b.CreateMul(q, ir.I64(p.window_step[e])), ir.I64(p.offset[e])),
                   g.windows[e]);
    };
    llvm::Value* lo = b.CreateSelect(b.CreateICmpEQ(pw, ir.I64(0)), ir.I64(0), start(pw));
    llvm::Value* hi = b.CreateSelect(b.CreateICmpEQ(pw, ir.I64(p.windows[e] - 1)),
                                     ir.I64(g.windows[e]), start(b.CreateAdd(pw, ir.I64(1))));
    return std::make_pair(lo, hi);
  };
  // Row of pooled window `pw` at cell `u` in dim e, and whether it is real.
  auto row = [&](int e, llvm::Value* pw, llvm::Value* u, llvm::Value* valid) {
    llvm::Value* q = b.CreateAdd(b.CreateAdd(b.CreateMul(pw, ir.I64(p.window_step[e])),
                                             b.CreateMul(u, ir.I64(p.tap_step[e]))),
                                 ir.I64(p.offset[e]));
    valid = b.CreateAnd(valid, b.CreateICmpSGE(q, ir.I64(0)));
    valid = b.CreateAnd(valid, b.CreateICmpSLT(q, ir.I64(p.extent[e])));
    return std::make_pair(q, valid);
  };
  // Calls visit(flat cell, pooled-image offset, output offset, real) for
  // every cell of pooled window (p0, p1, p2), in window order.
  using Visit = std::function<absl::Status(llvm::Value*, llvm::Value*, llvm::Value*, llvm::Value*)>;
  auto each_cell = [&](llvm::Value* n, llvm::Value* p0, llvm::Value* p1, llvm::Value* p2,
                       const Visit& visit) {
    return ir.Loop(fn, ir.I64(0), ir.I64(p.taps[0]), 1, [&](llvm::Value* u0) {
      auto [r0, v0] = row(0, p0, u0, b.getTrue());
      return ir.Loop(fn, ir.I64(0), ir.I64(p.taps[1]), 1, [&](llvm::Value* u1) {
        auto [r1, v1] = row(1, p1, u1, v0);
        return ir.Loop(fn, ir.I64(0), ir.I64(p.taps[2]), 1, [&](llvm::Value* u2) {
          auto [r2, valid] = row(2, p2, u2, v1);
          llvm::Value* cell = b.CreateAdd(
              b.CreateMul(b.CreateAdd(b.CreateMul(u0, ir.I64(p.taps[1])), u1), ir.I64(p.taps[2])),
              u2);
          llvm::Value* in_at = b.CreateAdd(
              b.CreateAdd(b.CreateMul(r0, ir.I64(p.row_stride[0])),
                          b.CreateMul(r1, ir.I64(p.row_stride[1]))),
              b.CreateMul(r2, ir.I64(p.row_stride[2])));
          llvm::Value* line = b.CreateAdd(b.CreateMul(n, ir.I64(g.windows[0])), r0);
          line = b.CreateAdd(b.CreateMul(line, ir.I64(g.windows[1])), r1);
          llvm::Value* out_at =
              b.CreateAdd(b.CreateMul(line, ir.I64(row_len)), b.CreateMul(r2, ir.I64(C)));
          return visit(cell, in_at, out_at, valid);
        });
      });
    });
  };
  for (int e = 0; e < 3; ++e) {
    if (p.divisor[e] != 1 || p.windows[e] < 1 || p.extent[e] != g.windows[e]) {
      return absl::InternalError("a first-max scatter needs plain pooled windows over the output");
    }
  }
  KILN_RETURN_IF_ERROR(ir.Loop(fn, fn->getArg(1), fn->getArg(2), 1, [&](llvm::Value* item) {
    llvm::Value* n = b.CreateSDiv(item, ir.I64(p.windows[0] * p.windows[1]));
    llvm::Value* p0 = b.CreateSRem(b.CreateSDiv(item, ir.I64(p.windows[1])), ir.I64(p.windows[0]));
    llvm::Value* p1 = b.CreateSRem(item, ir.I64(p.windows[1]));
    auto [lo0, hi0] = owned(0, p0);
    auto [lo1, hi1] = owned(1, p1);
    KILN_RETURN_IF_ERROR(ir.Loop(fn, lo0, hi0, 1, [&](llvm::Value* x0) {
      llvm::Value* line = b.CreateAdd(b.CreateMul(n, ir.I64(g.windows[0])), x0);
      line = b.CreateAdd(b.CreateMul(line, ir.I64(g.windows[1])), lo1);
      llvm::Value* bytes = b.CreateMul(b.CreateSub(hi1, lo1), ir.I64(row_len * 4));
      b.CreateMemSet(ir.At(out, b.CreateMul(line, ir.I64(row_len))), b.getInt8(0), bytes,
                     llvm::MaybeAlign(4));
      return absl::OkStatus();
    }));
    llvm::Value* image = ir.At(pooled, b.CreateMul(n, ir.I64(p.image_stride)));
    llvm::Value* grad_row =
        ir.At(grad, b.CreateAdd(b.CreateMul(n, ir.I64(g.image_stride)),
                                b.CreateAdd(b.CreateMul(p0, ir.I64(g.row_stride[0])),
                                            b.CreateMul(p1, ir.I64(g.row_stride[1])))));
    return ir.Loop(fn, ir.I64(0), ir.I64(p.windows[2]), 1, [&](llvm::Value* p2) {
      return ir.Loop(fn, ir.I64(0), ir.I64(C), lanes, [&](llvm::Value* cv) {
        llvm::Value* cmask = ir.FirstN(lanes, b.CreateSub(ir.I64(C), cv));
        b.CreateStore(llvm::ConstantFP::get(vec, -std::numeric_limits<double>::infinity()), best);
        b.CreateStore(llvm::Constant::getAllOnesValue(cells), best_cell);
        KILN_RETURN_IF_ERROR(each_cell(n, p0, p1, p2, [&](llvm::Value* cell, llvm::Value* in_at,
                                                          llvm::Value*, llvm::Value* valid) {
          llvm::Value* live = b.CreateVectorSplat(lanes, valid);
          llvm::Value* x =
              ir.Load(lanes, image, b.CreateAdd(in_at, cv), 1, b.CreateAnd(cmask, live));
          llvm::Value* top = b.CreateLoad(vec, best);
          llvm::Value* greater = b.CreateAnd(live, b.CreateFCmpOGT(x, top));
          b.CreateStore(b.CreateSelect(greater, x, top), best);
          b.CreateStore(b.CreateSelect(greater, b.CreateVectorSplat(lanes, cell),
                                       b.CreateLoad(cells, best_cell)),
                        best_cell);
          return absl::OkStatus();
        }));
        llvm::Value* gv = ir.Load(
            lanes, grad_row, b.CreateAdd(b.CreateMul(p2, ir.I64(g.row_stride[2])), cv), 1, cmask);
        llvm::Value* winner = b.CreateLoad(cells, best_cell);
        llvm::Value* zero = llvm::ConstantFP::get(vec, 0.0);
        return each_cell(n, p0, p1, p2, [&](llvm::Value* cell, llvm::Value*, llvm::Value* out_at,
                                            llvm::Value* valid) {
          llvm::Value* hit = b.CreateICmpEQ(winner, b.CreateVectorSplat(lanes, cell));
          b.CreateMaskedStore(b.CreateSelect(hit, gv, zero), ir.At(out, b.CreateAdd(out_at, cv)),
                              llvm::Align(4),
                              b.CreateAnd(cmask, b.CreateVectorSplat(lanes, valid)));
          return absl::OkStatus();
        });
      });
    });
  }));
  b.CreateRetVoid();
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(m, &os)) {
    return absl::InternalError(absl::StrCat("window kernel ", s.name, " is malformed: ", problems));
  }
  return absl::OkStatus();
}

}  // namespace kiln
