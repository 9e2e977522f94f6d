// The window kernel of a sum over windows (WindowReduction::kSumOverWindows,
// the depthwise filter gradient): work item = (cell t, block of channel
// vectors); it walks every window (n, w0, w1, w2) in a fixed order and
// accumulates image(n, w, t, c) * input1[n][w][c] in registers (allocas
// SROA promotes), so the sum does not depend on how items are split. A
// cell in the padding is a masked-off load. With a depth multiplier,
// channel c's image cell is input channel c / multiplier (a gather).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen/gemm_emitter_internal.h"
#include "codegen/window_emitter_internal.h"
#include "graph/status_macros.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Verifier.h"

namespace kiln {

absl::Status EmitWindowSumKernel(const WindowSchedule& s, llvm::Module& m) {
  const GemmWindows& w = s.problem.windows;
  GemmIr ir(m);
  llvm::IRBuilder<>& b = ir.b();
  llvm::LLVMContext& ctx = m.getContext();
  llvm::Type* i64 = b.getInt64Ty();
  llvm::PointerType* ptr = llvm::PointerType::get(ctx, 0);
  auto* type = llvm::FunctionType::get(b.getVoidTy(), {ptr, i64, i64}, false);
  llvm::Function* fn = llvm::Function::Create(type, llvm::Function::ExternalLinkage, s.name, m);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
  const int lanes = s.lanes, vectors = s.block;
  llvm::Type* vec = ir.F32s(lanes);
  std::vector<llvm::AllocaInst*> acc;
  for (int v = 0; v < vectors; ++v) acc.push_back(b.CreateAlloca(vec));
  auto buffer = [&](int k) { return b.CreateLoad(ptr, b.CreateGEP(ptr, fn->getArg(0), ir.I64(k))); };
  llvm::Value *image = buffer(0), *other = buffer(1), *out = buffer(2);
  llvm::Function* fma = llvm::Intrinsic::getDeclaration(&m, llvm::Intrinsic::fma, {vec});
  const int64_t blocks = s.channel_blocks();
  // Row of window index `win` at cell `t` in dim e, and whether it is real.
  auto row = [&](int e, llvm::Value* win, llvm::Value* t, llvm::Value* valid) {
    llvm::Value* q = b.CreateAdd(b.CreateAdd(b.CreateMul(win, ir.I64(w.window_step[e])),
                                             b.CreateMul(t, ir.I64(w.tap_step[e]))),
                                 ir.I64(w.offset[e]));
    valid = b.CreateAnd(valid, b.CreateICmpSGE(q, ir.I64(0)));
    valid = b.CreateAnd(valid, b.CreateICmpSLT(q, ir.I64(w.extent[e])));
    return std::make_pair(q, valid);
  };
  if (s.problem.fan != 1) return absl::InternalError("a sum over windows takes no fan");
  if (w.divisor[0] > 1 || w.divisor[1] > 1 || w.divisor[2] > 1) {
    return absl::InternalError("a sum over windows takes no divisors");
  }
  KILN_RETURN_IF_ERROR(ir.Loop(fn, fn->getArg(1), fn->getArg(2), 1, [&](llvm::Value* item) {
    llvm::Value* tap = b.CreateSDiv(item, ir.I64(blocks));
    llvm::Value* c0 = b.CreateMul(b.CreateSRem(item, ir.I64(blocks)), ir.I64(vectors * lanes));
    llvm::Value* t2 = b.CreateSRem(tap, ir.I64(w.taps[2]));
    llvm::Value* t1 = b.CreateSRem(b.CreateSDiv(tap, ir.I64(w.taps[2])), ir.I64(w.taps[1]));
    llvm::Value* t0 = b.CreateSDiv(tap, ir.I64(w.taps[1] * w.taps[2]));
    std::vector<llvm::Value*> masks;
    for (int v = 0; v < vectors; ++v) {
      masks.push_back(ir.FirstN(lanes, b.CreateSub(ir.I64(w.channels),
                                                   b.CreateAdd(c0, ir.I64(v * lanes)))));
      b.CreateStore(llvm::ConstantFP::get(vec, 0.0), acc[v]);
    }
    KILN_RETURN_IF_ERROR(ir.Loop(fn, ir.I64(0), ir.I64(w.images), 1, [&](llvm::Value* n) {
      return ir.Loop(fn, ir.I64(0), ir.I64(w.windows[0]), 1, [&](llvm::Value* w0) {
        auto [q0, v0] = row(0, w0, t0, b.getTrue());
        return ir.Loop(fn, ir.I64(0), ir.I64(w.windows[1]), 1, [&](llvm::Value* w1) {
          auto [q1, v1] = row(1, w1, t1, v0);
          llvm::Value* line = b.CreateAdd(b.CreateMul(n, ir.I64(w.windows[0])), w0);
          line = b.CreateAdd(b.CreateMul(line, ir.I64(w.windows[1])), w1);
          llvm::Value* base = b.CreateAdd(
              b.CreateAdd(b.CreateMul(n, ir.I64(w.image_stride)),
                          b.CreateAdd(b.CreateMul(q0, ir.I64(w.row_stride[0])),
                                      b.CreateMul(q1, ir.I64(w.row_stride[1])))),
              c0);
          return ir.Loop(fn, ir.I64(0), ir.I64(w.windows[2]), 1, [&](llvm::Value* w2) {
            auto [q2, valid] = row(2, w2, t2, v1);
            llvm::Value* at = b.CreateAdd(base, b.CreateMul(q2, ir.I64(w.row_stride[2])));
            llvm::Value* g_at = b.CreateAdd(
                b.CreateMul(b.CreateAdd(b.CreateMul(line, ir.I64(w.windows[2])), w2),
                            ir.I64(w.channels)),
                c0);
            llvm::Value* live = b.CreateVectorSplat(lanes, valid);
            for (int v = 0; v < vectors; ++v) {
              llvm::Value* cv = b.CreateAdd(c0, ir.I64(v * lanes));
              llvm::Value* x = SpreadLoad(ir, lanes, image, b.CreateAdd(at, ir.I64(v * lanes)),
                                          cv, s.problem.multiplier, b.CreateAnd(masks[v], live));
              llvm::Value* g = ir.Load(lanes, other, b.CreateAdd(g_at, ir.I64(v * lanes)), 1,
                                       masks[v]);
              b.CreateStore(b.CreateCall(fma, {x, g, b.CreateLoad(vec, acc[v])}), acc[v]);
            }
            return absl::OkStatus();
          });
        });
      });
    }));
    for (int v = 0; v < vectors; ++v) {
      llvm::Value* at =
          b.CreateAdd(b.CreateMul(tap, ir.I64(w.channels)), b.CreateAdd(c0, ir.I64(v * lanes)));
      b.CreateMaskedStore(b.CreateLoad(vec, acc[v]), ir.At(out, at), llvm::Align(4), masks[v]);
    }
    return absl::OkStatus();
  }));
  b.CreateRetVoid();
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(m, &os)) {
    return absl::InternalError(absl::StrCat("window kernel ", s.name, " is malformed: ", problems));
  }
  return absl::OkStatus();
}

llvm::Value* SpreadLoad(GemmIr& ir, int lanes, llvm::Value* base, llvm::Value* at,
                        llvm::Value* cv, int64_t multiplier, llvm::Value* mask) {
  if (multiplier == 1) return ir.Load(lanes, base, at, 1, mask);
  llvm::IRBuilder<>& b = ir.b();
  std::vector<llvm::Constant*> iota;
  for (int l = 0; l < lanes; ++l) iota.push_back(b.getInt64(l));
  llvm::Value* channel = b.CreateAdd(b.CreateVectorSplat(lanes, cv), llvm::ConstantVector::get(iota));
  llvm::Value* offsets =
      b.CreateAdd(b.CreateVectorSplat(lanes, b.CreateSub(at, cv)),
                  b.CreateUDiv(channel, b.CreateVectorSplat(lanes, b.getInt64(multiplier))));
  llvm::Value* ptrs = b.CreateGEP(ir.f32(), base, offsets);
  return b.CreateMaskedGather(ir.F32s(lanes), ptrs, llvm::Align(4), mask,
                              llvm::ConstantFP::get(ir.F32s(lanes), 0.0));
}

}  // namespace kiln
