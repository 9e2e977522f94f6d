// The GEMM kernel: work-item loop, cache blocking and the register-tiled
// micro-kernel with its fused epilogue (packing is in gemm_packing.cc).
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen/gemm_emitter_internal.h"
#include "codegen/kernel_emitter_internal.h"
#include "graph/status_macros.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Verifier.h"

namespace kiln {
namespace {

// Depth steps per iteration of the micro-kernel's main loop.
constexpr int kUnroll = 4;
// Independent FMA chains that hide the FMA latency (2 pipes x 4 cycles).
constexpr int kMinFmasInFlight = 8;

class GemmEmitter {
 public:
  GemmEmitter(const Graph& g, const GemmSchedule& s, llvm::Module& m)
      : g_(g),
        s_(s),
        m_(m),
        ir_(m),
        b_(ir_.b()),
        ptr_(llvm::PointerType::get(m.getContext(), 0)),
        i64_(llvm::Type::getInt64Ty(m.getContext())) {}

  absl::Status Emit();

 private:
  // void micro(ptr pa, ptr pb, i64 kc, ptr c, i64 cols, i1 first, i1 last,
  //            ptr buffers, i64 batch, i64 row, i64 col, i64 shift):
  // C[0..rows)[0..cols) (+)= A panel x B panel, `rows` x `vectors` of
  // accumulators; `first`: C is not read; `last`: the epilogue runs.
  // kDepthTable: pa is a direct-A pointer table and A[r][p] is
  // pa[p][shift + r] (tap_rows: pa[r][p][shift]); kRowTable: pa holds per tap t of the
  // block mr row pointers and A[r][t * channels + c] is pa[t][r][c].
  // Where the micro-kernel reads A: a packed panel, a direct-A table per
  // depth (GemmSchedule::direct_a), or row tables per tap (row_tables).
  enum class AFrom { kPanel, kDepthTable, kRowTable };
  absl::StatusOr<llvm::Function*> MicroKernel(int rows, int vectors, AFrom from);
  // The rows-in-lanes micro-kernel (GemmSchedule::rows_in_lanes), same
  // signature: C[r][j] (+)= sum_p A[p][r] * B[p][j] for r < rows, j < n.
  absl::StatusOr<llvm::Function*> RowsInLanesKernel(int rows);
  // A micro-kernel's declaration, named <kernel><suffix>, its entry block
  // the insertion point.
  llvm::Function* NewMicro(const std::string& suffix);
  // for (p = begin; p + steps <= end; p += steps) step(p + u, u) for each
  // u < steps, in `fn`, with `acc` carried in phis; returns where p stopped.
  using Step = std::function<void(llvm::Value* depth, int u)>;
  llvm::Value* KLoop(llvm::Function* fn, llvm::Value* begin, llvm::Value* end, int steps,
                     std::vector<llvm::Value*>& acc, const Step& step);
  // The epilogue's values for accumulator `acc` at (batch indices, row, col).
  absl::StatusOr<llvm::Value*> Epilogue(llvm::Value* buffers, const std::vector<llvm::Value*>& idx,
                                        llvm::Value* col, llvm::Value* mask, llvm::Value* acc);
  // A's rows [row0, row0 + rows) at depths [p0, p0 + kc) from the prologue
  // (GemmSchedule::has_prologue), to dst[r * round_up(kc_max, lanes) + p];
  // `a_off`: the batch matrix's element offset in A.
  absl::Status PrologueRows(llvm::Value* a_off, llvm::Value* row0, llvm::Value* rows,
                            llvm::Value* p0, llvm::Value* kc, llvm::Value* dst);
  // The kernel's body for the items [w, group_end) of one column tile.
  absl::Status ColumnTile(llvm::Value* w, llvm::Value* group_end, llvm::Value* scratch);

  const Graph& g_;
  const GemmSchedule& s_;
  llvm::Module& m_;
  GemmIr ir_;
  llvm::IRBuilder<>& b_;
  llvm::PointerType* ptr_;
  llvm::Type* i64_;
  llvm::Function* fn_ = nullptr;
  std::vector<llvm::Value*> buffers_;
  // Micro-kernels by [rows == mr][vectors - 1] (those that can occur), and
  // the direct-A ones of full panels by [vectors - 1].
  std::vector<llvm::Function*> micro_[2];
  std::vector<llvm::Function*> direct_;
};

absl::StatusOr<llvm::Value*> GemmEmitter::Epilogue(llvm::Value* buffers,
                                                   const std::vector<llvm::Value*>& idx,
                                                   llvm::Value* col, llvm::Value* mask,
                                                   llvm::Value* acc) {
  const KernelSchedule& e = s_.epilogue;
  // The epilogue's buffers are the kernel's plus the contraction's own
  // after the inputs, a placeholder never loaded (`acc` stands for it).
  std::vector<llvm::Value*> pointers;
  const int inputs = e.num_inputs - 1;
  for (int k = 0; k < static_cast<int>(e.buffers.size()); ++k) {
    const int kernel_index = k < inputs ? k : k == inputs ? s_.num_inputs : k - 1;
    pointers.push_back(b_.CreateLoad(ptr_, b_.CreateGEP(ptr_, buffers, ir_.I64(kernel_index))));
  }
  KILN_ASSIGN_OR_RETURN(
      std::vector<llvm::Value*> values,
      EmitScheduleValues(g_, e, b_, pointers, idx, col, mask, s_.contraction, acc));
  return values[e.results[0]];
}

llvm::Function* GemmEmitter::NewMicro(const std::string& suffix) {
  llvm::LLVMContext& ctx = m_.getContext();
  auto* type = llvm::FunctionType::get(
      llvm::Type::getVoidTy(ctx),
      {ptr_, ptr_, i64_, ptr_, i64_, b_.getInt1Ty(), b_.getInt1Ty(), ptr_, i64_, i64_, i64_, i64_},
      false);
  llvm::Function* fn = llvm::Function::Create(type, llvm::Function::InternalLinkage,
                                              s_.name + suffix, m_);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->addFnAttr(llvm::Attribute::NoInline);
  b_.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
  return fn;
}

llvm::Value* GemmEmitter::KLoop(llvm::Function* fn, llvm::Value* begin, llvm::Value* end,
                                int steps, std::vector<llvm::Value*>& acc, const Step& step) {
  llvm::LLVMContext& ctx = m_.getContext();
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx, "kloop", fn);
  llvm::BasicBlock* body = llvm::BasicBlock::Create(ctx, "kbody", fn);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx, "kexit", fn);
  b_.CreateBr(header);
  b_.SetInsertPoint(header);
  llvm::PHINode* p = b_.CreatePHI(i64_, 2);
  p->addIncoming(begin, pre);
  std::vector<llvm::PHINode*> phis;
  for (llvm::Value*& a : acc) {
    phis.push_back(b_.CreatePHI(a->getType(), 2));
    phis.back()->addIncoming(a, pre);
    a = phis.back();
  }
  b_.CreateCondBr(b_.CreateICmpSLE(b_.CreateAdd(p, ir_.I64(steps)), end), body, exit);
  b_.SetInsertPoint(body);
  for (int u = 0; u < steps; ++u) step(b_.CreateAdd(p, ir_.I64(u)), u);
  for (size_t i = 0; i < acc.size(); ++i) phis[i]->addIncoming(acc[i], b_.GetInsertBlock());
  p->addIncoming(b_.CreateAdd(p, ir_.I64(steps)), b_.GetInsertBlock());
  b_.CreateBr(header);
  b_.SetInsertPoint(exit);
  for (size_t i = 0; i < acc.size(); ++i) acc[i] = phis[i];
  return p;
}

absl::StatusOr<llvm::Function*> GemmEmitter::RowsInLanesKernel(int rows) {
  llvm::IRBuilderBase::InsertPointGuard guard(b_);
  const int n = static_cast<int>(s_.n), lanes = s_.lanes;
  llvm::Function* fn = NewMicro(absl::StrCat("_lanes_", rows, "x", n));
  llvm::Value *pa = fn->getArg(0), *pb = fn->getArg(1), *kc = fn->getArg(2), *c = fn->getArg(3);
  llvm::Type* vec = ir_.F32s(lanes);
  llvm::Function* fma = llvm::Intrinsic::getDeclaration(&m_, llvm::Intrinsic::fma, {vec});
  // Independent sums per unrolled depth keep enough FMAs in flight.
  const int phases = std::max(2, kMinFmasInFlight / n);
  std::vector<llvm::Value*> acc(phases * n, llvm::Constant::getNullValue(vec));
  const Step step = [&](llvm::Value* depth, int u) {
    llvm::Value* a = b_.CreateAlignedLoad(vec, ir_.At(pa, b_.CreateMul(depth, ir_.I64(s_.mr))),
                                          llvm::Align(4 * lanes));
    llvm::Value* b_row = ir_.At(pb, b_.CreateMul(depth, ir_.I64(s_.nr)));
    for (int j = 0; j < n; ++j) {
      llvm::Value* bj = b_.CreateVectorSplat(
          lanes, b_.CreateAlignedLoad(ir_.f32(), ir_.At(b_row, ir_.I64(j)), llvm::Align(4)));
      llvm::Value*& x = acc[u * n + j];
      x = b_.CreateCall(fma, {a, bj, x});
    }
  };
  llvm::Value* p = KLoop(fn, ir_.I64(0), kc, phases, acc, step);
  KLoop(fn, p, kc, 1, acc, step);
  // C's column j, rows in lanes (ldc apart), plus C's old values unless
  // this is the first depth block.
  llvm::Value* mask = rows < lanes ? ir_.FirstN(lanes, ir_.I64(rows)) : nullptr;
  for (int j = 0; j < n; ++j) {
    llvm::Value* sum = acc[j];
    for (int ph = 1; ph < phases; ++ph) sum = b_.CreateFAdd(sum, acc[ph * n + j]);
    llvm::Value* old = ir_.Load(lanes, c, ir_.I64(j), s_.ldc, mask);
    sum = b_.CreateSelect(fn->getArg(5), sum, b_.CreateFAdd(old, sum));
    ir_.Store(sum, c, ir_.I64(j), s_.ldc, mask);
  }
  b_.CreateRetVoid();
  return fn;
}

absl::StatusOr<llvm::Function*> GemmEmitter::MicroKernel(int rows, int vectors, AFrom from) {
  llvm::IRBuilderBase::InsertPointGuard guard(b_);
  static constexpr const char* kNames[] = {"_micro_", "_direct_", "_rows_"};
  llvm::Function* fn =
      NewMicro(absl::StrCat(kNames[static_cast<int>(from)], rows, "x", vectors));
  llvm::LLVMContext& ctx = m_.getContext();
  llvm::Value *pa = fn->getArg(0), *pb = fn->getArg(1), *kc = fn->getArg(2), *c = fn->getArg(3);
  llvm::Value *cols = fn->getArg(4), *first = fn->getArg(5), *last = fn->getArg(6);
  const int lanes = s_.lanes, mr = s_.mr, nr = s_.nr;
  llvm::Type* vec = ir_.F32s(lanes);
  llvm::Function* fma = llvm::Intrinsic::getDeclaration(&m_, llvm::Intrinsic::fma, {vec});

  // acc[r][v] += A[r][depth] * B[depth][v], A[r][depth] at a_at(r).
  std::vector<llvm::Value*> acc(rows * vectors, llvm::Constant::getNullValue(vec));
  auto multiply_add = [&](llvm::Value* depth, const std::function<llvm::Value*(int)>& a_at) {
    llvm::Value* b_row = ir_.At(pb, b_.CreateMul(depth, ir_.I64(nr)));
    std::vector<llvm::Value*> bv;
    for (int v = 0; v < vectors; ++v) {
      bv.push_back(
          b_.CreateAlignedLoad(vec, ir_.At(b_row, ir_.I64(v * lanes)), llvm::Align(4 * lanes)));
    }
    for (int r = 0; r < rows; ++r) {
      llvm::Value* a =
          b_.CreateVectorSplat(lanes, b_.CreateAlignedLoad(ir_.f32(), a_at(r), llvm::Align(4)));
      for (int v = 0; v < vectors; ++v) {
        llvm::Value*& x = acc[r * vectors + v];
        x = b_.CreateCall(fma, {a, bv[v], x});
      }
    }
  };
  if (from == AFrom::kRowTable) {
    // Per tap: the rows' pointers, then the tap's channels.
    const int64_t channels = s_.windows->channels;
    llvm::Value* taps = b_.CreateSDiv(kc, ir_.I64(channels));
    KLoop(fn, ir_.I64(0), taps, 1, acc, [&](llvm::Value* t, int) {
      std::vector<llvm::Value*> row_at(rows);
      llvm::Value* table = b_.CreateGEP(ptr_, pa, b_.CreateMul(t, ir_.I64(mr)));
      for (int r = 0; r < rows; ++r) {
        row_at[r] = b_.CreateAlignedLoad(ptr_, b_.CreateGEP(ptr_, table, ir_.I64(r)),
                                         llvm::Align(8));
      }
      llvm::Value* depth0 = b_.CreateMul(t, ir_.I64(channels));
      const Step channel = [&](llvm::Value* ch, int) {
        multiply_add(b_.CreateAdd(depth0, ch), [&](int r) { return ir_.At(row_at[r], ch); });
      };
      llvm::Value* ch = KLoop(fn, ir_.I64(0), ir_.I64(channels), kUnroll, acc, channel);
      KLoop(fn, ch, ir_.I64(channels), 1, acc, channel);
    });
  } else {
    const Step step = [&](llvm::Value* depth, int) {
      if (from == AFrom::kDepthTable && s_.tap_rows) {
        // Row r is tap row0 + r: its own table, kc pointers further on.
        multiply_add(depth, [&](int r) {
          llvm::Value* at = b_.CreateAdd(depth, ir_.I64(r * s_.kc));
          return ir_.At(b_.CreateLoad(ptr_, b_.CreateGEP(ptr_, pa, at)), fn->getArg(11));
        });
      } else if (from == AFrom::kDepthTable) {
        llvm::Value* a_row =
            ir_.At(b_.CreateLoad(ptr_, b_.CreateGEP(ptr_, pa, depth)), fn->getArg(11));
        multiply_add(depth, [&](int r) { return ir_.At(a_row, ir_.I64(r)); });
      } else {
        llvm::Value* a_row = ir_.At(pa, b_.CreateMul(depth, ir_.I64(mr)));
        multiply_add(depth, [&](int r) { return ir_.At(a_row, ir_.I64(r)); });
      }
    };
    llvm::Value* p = KLoop(fn, ir_.I64(0), kc, kUnroll, acc, step);
    KLoop(fn, p, kc, 1, acc, step);
  }

  // C (+)= acc, with the last vector masked to `cols`: C is read unless
  // this is the first depth block.
  std::vector<llvm::Value*> masks(vectors, nullptr);
  masks[vectors - 1] = ir_.FirstN(lanes, b_.CreateSub(cols, ir_.I64((vectors - 1) * lanes)));
  auto where = [&](int r, int v) { return ir_.At(c, ir_.I64(r * s_.ldc + v * lanes)); };
  llvm::BasicBlock* before = b_.GetInsertBlock();
  llvm::BasicBlock* add = llvm::BasicBlock::Create(ctx, "add", fn);
  llvm::BasicBlock* added = llvm::BasicBlock::Create(ctx, "added", fn);
  b_.CreateCondBr(first, added, add);
  b_.SetInsertPoint(add);
  std::vector<llvm::Value*> sums(acc.size());
  for (int r = 0; r < rows; ++r) {
    for (int v = 0; v < vectors; ++v) {
      llvm::Value* old = nullptr;
      if (masks[v] == nullptr) {
        old = b_.CreateAlignedLoad(vec, where(r, v), llvm::Align(4));
      } else {
        old = b_.CreateMaskedLoad(vec, where(r, v), llvm::Align(4), masks[v],
                                  llvm::Constant::getNullValue(vec));
      }
      sums[r * vectors + v] = b_.CreateFAdd(old, acc[r * vectors + v]);
    }
  }
  b_.CreateBr(added);
  b_.SetInsertPoint(added);
  std::vector<llvm::Value*> out(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    llvm::PHINode* phi = b_.CreatePHI(vec, 2);
    phi->addIncoming(acc[i], before);
    phi->addIncoming(sums[i], add);
    out[i] = phi;
  }
  auto store = [&](const std::vector<llvm::Value*>& values) {
    for (int r = 0; r < rows; ++r) {
      for (int v = 0; v < vectors; ++v) {
        if (masks[v] == nullptr) {
          b_.CreateAlignedStore(values[r * vectors + v], where(r, v), llvm::Align(4));
        } else {
          b_.CreateMaskedStore(values[r * vectors + v], where(r, v), llvm::Align(4), masks[v]);
        }
      }
    }
  };
  if (!s_.has_epilogue) {
    store(out);
    b_.CreateRetVoid();
    return fn;
  }
  llvm::BasicBlock* plain = llvm::BasicBlock::Create(ctx, "plain", fn);
  llvm::BasicBlock* fused = llvm::BasicBlock::Create(ctx, "epilogue", fn);
  b_.CreateCondBr(last, fused, plain);
  b_.SetInsertPoint(plain);
  store(out);
  b_.CreateRetVoid();
  b_.SetInsertPoint(fused);
  // Loop indices of the epilogue: batch dims, then the row.
  const int nb = static_cast<int>(s_.batch.size());
  const int row_dims = std::max<int>(1, static_cast<int>(s_.m_dims.size()));
  std::vector<llvm::Value*> idx(nb + row_dims + 1, nullptr);
  llvm::Value* batch = fn->getArg(8);
  for (int d = nb - 1; d >= 0; --d) {
    idx[d] = d == 0 ? batch : b_.CreateSRem(batch, ir_.I64(s_.batch[d]));
    if (d > 0) batch = b_.CreateSDiv(batch, ir_.I64(s_.batch[d]));
  }
  for (int r = 0; r < rows; ++r) {
    llvm::Value* row = b_.CreateAdd(fn->getArg(9), ir_.I64(r));
    // The row as indices over m_dims (row-major), or itself.
    for (int d = row_dims - 1; d >= 0; --d) {
      idx[nb + d] = d == 0 ? row : b_.CreateSRem(row, ir_.I64(s_.m_dims[d]));
      if (d > 0) row = b_.CreateSDiv(row, ir_.I64(s_.m_dims[d]));
    }
    for (int v = 0; v < vectors; ++v) {
      llvm::Value* col = b_.CreateAdd(fn->getArg(10), ir_.I64(v * lanes));
      KILN_ASSIGN_OR_RETURN(out[r * vectors + v],
                            Epilogue(fn->getArg(7), idx, col, masks[v], out[r * vectors + v]));
    }
  }
  store(out);
  b_.CreateRetVoid();
  return fn;
}

absl::Status GemmEmitter::PrologueRows(llvm::Value* a_off, llvm::Value* row0, llvm::Value* rows,
                                       llvm::Value* p0, llvm::Value* kc, llvm::Value* dst) {
  const KernelSchedule& pro = s_.prologue;
  const int rank = static_cast<int>(pro.dims.size());
  const int64_t stride = (s_.kc + s_.lanes - 1) / s_.lanes * s_.lanes;
  std::vector<llvm::Value*> pointers(buffers_.begin(), buffers_.begin() + s_.num_inputs);
  // A is row-major with rows of k elements: row `row0 + r` of this batch
  // matrix is A's row a_off / k + row0 + r over its leading dims.
  llvm::Value* first_row = b_.CreateAdd(b_.CreateSDiv(a_off, ir_.I64(s_.k)), row0);
  return ir_.Loop(fn_, ir_.I64(0), rows, 1, [&](llvm::Value* r) {
    std::vector<llvm::Value*> idx(rank, nullptr);
    llvm::Value* rest = b_.CreateAdd(first_row, r);
    for (int d = rank - 2; d >= 0; --d) {
      idx[d] = d == 0 ? rest : b_.CreateSRem(rest, ir_.I64(pro.dims[d]));
      if (d > 0) rest = b_.CreateSDiv(rest, ir_.I64(pro.dims[d]));
    }
    llvm::Value* row_dst = ir_.At(dst, b_.CreateMul(r, ir_.I64(stride)));
    return ir_.Loop(fn_, ir_.I64(0), kc, s_.lanes, [&](llvm::Value* p) -> absl::Status {
      llvm::Value* mask = ir_.FirstN(s_.lanes, b_.CreateSub(kc, p));
      KILN_ASSIGN_OR_RETURN(std::vector<llvm::Value*> values,
                            EmitScheduleValues(g_, pro, b_, pointers, idx, b_.CreateAdd(p0, p),
                                               mask, kNoNode, nullptr));
      b_.CreateMaskedStore(values[pro.results[0]], ir_.At(row_dst, p), llvm::Align(4), mask);
      return absl::OkStatus();
    });
  });
}

absl::Status GemmEmitter::ColumnTile(llvm::Value* w, llvm::Value* group_end, llvm::Value* scratch) {
  const int64_t mt = s_.m_tiles, nt = s_.n_tiles;
  llvm::Value* group = b_.CreateSDiv(w, ir_.I64(mt));
  llvm::Value* batch = b_.CreateSDiv(group, ir_.I64(nt));
  llvm::Value* jt = b_.CreateSRem(group, ir_.I64(nt));
  llvm::Value* first_it = b_.CreateSRem(w, ir_.I64(mt));
  llvm::Value* last_it = b_.CreateAdd(first_it, b_.CreateSub(group_end, w));
  // Element offsets of this batch matrix in A, B and C.
  llvm::Value *a_off = ir_.I64(0), *b_off = ir_.I64(0), *c_off = ir_.I64(0);
  llvm::Value* rest = batch;
  for (int d = static_cast<int>(s_.batch.size()) - 1; d >= 0; --d) {
    llvm::Value* i = b_.CreateSRem(rest, ir_.I64(s_.batch[d]));
    rest = b_.CreateSDiv(rest, ir_.I64(s_.batch[d]));
    a_off = b_.CreateAdd(a_off, b_.CreateMul(i, ir_.I64(s_.a_batch[d])));
    b_off = b_.CreateAdd(b_off, b_.CreateMul(i, ir_.I64(s_.b_batch[d])));
    c_off = b_.CreateAdd(c_off, b_.CreateMul(i, ir_.I64(s_.c_batch[d])));
  }
  llvm::Value* a = s_.has_prologue ? nullptr : ir_.At(buffers_[s_.a_buffer], a_off);
  llvm::Value* bm = ir_.At(buffers_[s_.b_buffer], b_off);
  llvm::Value* c = ir_.At(buffers_[s_.num_inputs], c_off);
  llvm::Value* pa = scratch;
  llvm::Value* pb_base = b_.CreateGEP(b_.getInt8Ty(), scratch, ir_.I64(s_.a_panel_bytes));
  llvm::Value* tables = b_.CreateGEP(b_.getInt8Ty(), pb_base, ir_.I64(s_.b_bytes));
  llvm::Value* zeros = b_.CreateGEP(b_.getInt8Ty(), tables, ir_.I64(s_.table_bytes));
  llvm::Value* prologue_rows = b_.CreateGEP(b_.getInt8Ty(), zeros, ir_.I64(s_.zero_bytes));
  llvm::Value* j0 = b_.CreateMul(jt, ir_.I64(s_.nc));
  llvm::Value* cols = ir_.Min(ir_.I64(s_.nc), b_.CreateSub(ir_.I64(s_.n), j0));
  llvm::Value* panels = b_.CreateSDiv(b_.CreateAdd(cols, ir_.I64(s_.nr - 1)), ir_.I64(s_.nr));

  llvm::LLVMContext& ctx = m_.getContext();
  // The depth block [p0, p0 + kc) with its B block packed at `pb`, over
  // the items [item_begin, item_end).
  auto block_items = [&](llvm::Value* p0, llvm::Value* pb, llvm::Value* item_begin,
                         llvm::Value* item_end) -> absl::Status {
    llvm::Value* kc = ir_.Min(ir_.I64(s_.kc), b_.CreateSub(ir_.I64(s_.k), p0));
    llvm::Value* is_first = b_.CreateICmpEQ(p0, ir_.I64(0));
    llvm::Value* is_last = b_.CreateICmpSGE(b_.CreateAdd(p0, kc), ir_.I64(s_.k));
    if (s_.direct_a) {
      // Tables for the rows of these items only.
      llvm::Value* row_begin = b_.CreateMul(item_begin, ir_.I64(s_.mc));
      llvm::Value* row_end = ir_.Min(ir_.I64(s_.m), b_.CreateMul(item_end, ir_.I64(s_.mc)));
      KILN_RETURN_IF_ERROR(
          EmitDirectTables(ir_, fn_, s_, a, p0, kc, row_begin, row_end, tables, zeros));
    }
    // Calls the micro-kernels of one row panel over the column panels;
    // `micros` by [rows == mr][vectors - 1]; `a` is the packed panel or the
    // direct table.
    using Micros = std::vector<llvm::Function*>[2];
    auto row_panel = [&](const Micros& micros, llvm::Value* a_arg, llvm::Value* shift,
                         llvm::Value* row0, llvm::Value* full_rows) {
      return ir_.Loop(fn_, ir_.I64(0), panels, 1, [&](llvm::Value* jp) {
        llvm::Value* col = b_.CreateAdd(j0, b_.CreateMul(jp, ir_.I64(s_.nr)));
        llvm::Value* width =
            ir_.Min(ir_.I64(s_.nr), b_.CreateSub(cols, b_.CreateMul(jp, ir_.I64(s_.nr))));
        llvm::Value* vectors =
            b_.CreateSDiv(b_.CreateAdd(width, ir_.I64(s_.lanes - 1)), ir_.I64(s_.lanes));
        llvm::Value* args[] = {
            a_arg,   ir_.At(pb, b_.CreateMul(b_.CreateMul(jp, kc), ir_.I64(s_.nr))),
            kc,      ir_.At(c, b_.CreateAdd(b_.CreateMul(row0, ir_.I64(s_.ldc)), col)),
            width,   is_first,
            is_last, fn_->getArg(0),
            batch,   row0,
            col,     shift};
        // One call site per tile shape that can occur.
        llvm::Value* which =
            b_.CreateAdd(b_.CreateMul(b_.CreateZExt(full_rows, i64_), ir_.I64(s_.nr / s_.lanes)),
                         b_.CreateSub(vectors, ir_.I64(1)));
        llvm::BasicBlock* after = llvm::BasicBlock::Create(ctx, "micro_done", fn_);
        llvm::SwitchInst* sw = b_.CreateSwitch(which, after, 4);
        for (int fr = 0; fr < 2; ++fr) {
          for (size_t v = 0; v < micros[fr].size(); ++v) {
            if (micros[fr][v] == nullptr) continue;
            llvm::BasicBlock* call = llvm::BasicBlock::Create(ctx, "micro", fn_);
            sw->addCase(b_.getInt64(fr * (s_.nr / s_.lanes) + static_cast<int64_t>(v)), call);
            b_.SetInsertPoint(call);
            b_.CreateCall(micros[fr][v], args);
            b_.CreateBr(after);
          }
        }
        b_.SetInsertPoint(after);
        return absl::OkStatus();
      });
    };
    return ir_.Loop(fn_, item_begin, item_end, 1, [&](llvm::Value* it) {
      llvm::Value* i0 = b_.CreateMul(it, ir_.I64(s_.mc));
      llvm::Value* tile_rows = ir_.Min(ir_.I64(s_.mc), b_.CreateSub(ir_.I64(s_.m), i0));
      llvm::Value* row_panels =
          b_.CreateSDiv(b_.CreateAdd(tile_rows, ir_.I64(s_.mr - 1)), ir_.I64(s_.mr));
      return ir_.Loop(fn_, ir_.I64(0), row_panels, 1, [&](llvm::Value* ip) -> absl::Status {
        llvm::Value* row0 = b_.CreateAdd(i0, b_.CreateMul(ip, ir_.I64(s_.mr)));
        llvm::Value* rows = ir_.Min(ir_.I64(s_.mr), b_.CreateSub(ir_.I64(s_.m), row0));
        if (s_.row_tables) {
          KILN_RETURN_IF_ERROR(EmitRowTable(ir_, fn_, s_, a, row0, rows, p0, kc, tables, zeros));
          return row_panel(micro_, tables, ir_.I64(0), row0, b_.CreateICmpEQ(rows, ir_.I64(s_.mr)));
        }
        auto pack_and_call = [&]() -> absl::Status {
          if (s_.windows.has_value()) {
            KILN_RETURN_IF_ERROR(EmitPackWindowsA(ir_, fn_, s_, a, row0, rows, p0, kc, pa));
          } else {
            if (s_.has_prologue) {
              // A's rows computed first, then packed from there.
              KILN_RETURN_IF_ERROR(PrologueRows(a_off, row0, rows, p0, kc, prologue_rows));
              GemmSchedule from_rows = s_;
              from_rows.a_row = (s_.kc + s_.lanes - 1) / s_.lanes * s_.lanes;
              from_rows.a_col = 1;
              KILN_RETURN_IF_ERROR(EmitPackA(ir_, fn_, from_rows, prologue_rows, ir_.I64(0), rows,
                                             ir_.I64(0), kc, pa));
            } else {
              KILN_RETURN_IF_ERROR(EmitPackA(ir_, fn_, s_, a, row0, rows, p0, kc, pa));
            }
          }
          return row_panel(micro_, pa, ir_.I64(0), row0, b_.CreateICmpEQ(rows, ir_.I64(s_.mr)));
        };
        if (!s_.direct_a) return pack_and_call();
        // Full panels that need no padding checks read A in place.
        const DirectPanel direct = EmitDirectPanel(ir_, fn_, s_, row0, rows, tables);
        llvm::BasicBlock* in_place = llvm::BasicBlock::Create(ctx, "direct_a", fn_);
        llvm::BasicBlock* packed = llvm::BasicBlock::Create(ctx, "packed_a", fn_);
        llvm::BasicBlock* joined = llvm::BasicBlock::Create(ctx, "panel_done", fn_);
        b_.CreateCondBr(direct.ok, in_place, packed);
        b_.SetInsertPoint(in_place);
        const Micros direct_micros = {{}, direct_};
        KILN_RETURN_IF_ERROR(
            row_panel(direct_micros, direct.table, direct.shift, row0, b_.getTrue()));
        b_.CreateBr(joined);
        b_.SetInsertPoint(packed);
        KILN_RETURN_IF_ERROR(pack_and_call());
        b_.CreateBr(joined);
        b_.SetInsertPoint(joined);
        return absl::OkStatus();
      });
    });
  };
  auto block_start = [&](llvm::Value* block) { return b_.CreateMul(block, ir_.I64(s_.kc)); };
  auto pack_b = [&](llvm::Value* p0, llvm::Value* pb) {
    llvm::Value* kc = ir_.Min(ir_.I64(s_.kc), b_.CreateSub(ir_.I64(s_.k), p0));
    return EmitPackB(ir_, fn_, s_, bm, j0, cols, p0, kc, pb);
  };
  // At least one block: K = 0 still stores zeros.
  llvm::Value* blocks = ir_.I64(std::max<int64_t>(1, (s_.k + s_.kc - 1) / s_.kc));
  if (!s_.b_resident) {
    // Per depth block: its B block, then every item.
    return ir_.Loop(fn_, ir_.I64(0), blocks, 1, [&](llvm::Value* block) -> absl::Status {
      llvm::Value* p0 = block_start(block);
      KILN_RETURN_IF_ERROR(pack_b(p0, pb_base));
      return block_items(p0, pb_base, first_it, last_it);
    });
  }
  // All of B packed once; then per item every depth block, so the item's
  // C tile stays in cache between blocks.
  auto block_b = [&](llvm::Value* block) {
    return b_.CreateGEP(b_.getInt8Ty(), pb_base, b_.CreateMul(block, ir_.I64(s_.b_block_bytes)));
  };
  KILN_RETURN_IF_ERROR(ir_.Loop(fn_, ir_.I64(0), blocks, 1, [&](llvm::Value* block) {
    return pack_b(block_start(block), block_b(block));
  }));
  return ir_.Loop(fn_, first_it, last_it, 1, [&](llvm::Value* it) {
    return ir_.Loop(fn_, ir_.I64(0), blocks, 1, [&](llvm::Value* block) {
      return block_items(block_start(block), block_b(block), it, b_.CreateAdd(it, ir_.I64(1)));
    });
  });
}

absl::Status GemmEmitter::Emit() {
  llvm::LLVMContext& ctx = m_.getContext();
  // The tile shapes that occur: full panels; a last row panel of m % mr
  // rows; the last column panel of each column tile, with fewer vectors.
  const int vectors = s_.nr / s_.lanes;
  std::vector<bool> used(vectors, false);
  for (int64_t tile_cols : {std::min(s_.nc, s_.n), s_.n - (s_.n_tiles - 1) * s_.nc}) {
    if (tile_cols >= s_.nr) used[vectors - 1] = true;
    if (tile_cols % s_.nr != 0) used[(tile_cols % s_.nr + s_.lanes - 1) / s_.lanes - 1] = true;
  }
  const int row_options[2] = {static_cast<int>(s_.m % s_.mr), s_.mr};
  for (int fr = 0; fr < 2; ++fr) {
    micro_[fr].assign(vectors, nullptr);
    for (int v = 0; v < vectors; ++v) {
      if (row_options[fr] == 0 || !used[v] || s_.n == 0) continue;
      const AFrom from = s_.row_tables ? AFrom::kRowTable : AFrom::kPanel;
      KILN_ASSIGN_OR_RETURN(micro_[fr][v], s_.rows_in_lanes
                                               ? RowsInLanesKernel(row_options[fr])
                                               : MicroKernel(row_options[fr], v + 1, from));
    }
  }
  if (s_.direct_a) {
    direct_.assign(vectors, nullptr);
    for (int v = 0; v < vectors; ++v) {
      if (micro_[1][v] == nullptr) continue;
      KILN_ASSIGN_OR_RETURN(direct_[v], MicroKernel(s_.mr, v + 1, AFrom::kDepthTable));
    }
  }

  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr_, i64_, i64_, ptr_}, false);
  fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, s_.name, m_);
  fn_->addFnAttr(llvm::Attribute::NoUnwind);
  b_.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn_));
  for (size_t k = 0; k < s_.buffers.size(); ++k) {
    buffers_.push_back(b_.CreateLoad(ptr_, b_.CreateGEP(ptr_, fn_->getArg(0), ir_.I64(k))));
  }
  // The zero cells direct A points padding at.
  if (s_.zero_bytes > 0) {
    llvm::Value* zeros = b_.CreateGEP(
        b_.getInt8Ty(), fn_->getArg(3), ir_.I64(s_.a_panel_bytes + s_.b_bytes + s_.table_bytes));
    b_.CreateMemSet(zeros, b_.getInt8(0), s_.zero_bytes, llvm::MaybeAlign(64));
  }
  // while (w < end): the items of one column tile from w on.
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx, "items", fn_);
  llvm::BasicBlock* body = llvm::BasicBlock::Create(ctx, "tile", fn_);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx, "exit", fn_);
  b_.CreateBr(header);
  b_.SetInsertPoint(header);
  llvm::PHINode* w = b_.CreatePHI(i64_, 2);
  w->addIncoming(fn_->getArg(1), pre);
  b_.CreateCondBr(b_.CreateICmpSLT(w, fn_->getArg(2)), body, exit);
  b_.SetInsertPoint(body);
  llvm::Value* group_end = ir_.Min(
      fn_->getArg(2), b_.CreateMul(b_.CreateAdd(b_.CreateSDiv(w, ir_.I64(s_.m_tiles)), ir_.I64(1)),
                                   ir_.I64(s_.m_tiles)));
  KILN_RETURN_IF_ERROR(ColumnTile(w, group_end, fn_->getArg(3)));
  w->addIncoming(group_end, b_.GetInsertBlock());
  b_.CreateBr(header);
  b_.SetInsertPoint(exit);
  b_.CreateRetVoid();

  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(m_, &os)) {
    return absl::InternalError(absl::StrCat("GEMM kernel ", s_.name, " is malformed: ", problems));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EmitGemmKernel(const Graph& graph, const GemmSchedule& schedule,
                            llvm::Module& module) {
  return GemmEmitter(graph, schedule, module).Emit();
}

}  // namespace kiln
