#include "codegen/kernel_emitter_internal.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "codegen/vector_math_internal.h"
#include "graph/status_macros.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Verifier.h"
#include "ops/lowering_internal.h"

namespace kiln {
namespace {

class InlineVectorMath final : public VectorMath {
 public:
  explicit InlineVectorMath(llvm::IRBuilderBase& b) : b_(b) {}
  llvm::Value* Exp(llvm::Value* x) override { return EmitExp(b_, x); }
  llvm::Value* Expm1(llvm::Value* x) override { return EmitExpm1(b_, x); }
  llvm::Value* Log(llvm::Value* x) override { return EmitLog(b_, x); }
  llvm::Value* Log1p(llvm::Value* x) override { return EmitLog1p(b_, x); }
  llvm::Value* Tanh(llvm::Value* x) override { return EmitTanh(b_, x); }
  llvm::Value* Erf(llvm::Value* x) override { return EmitErf(b_, x); }
  llvm::Value* Pow(llvm::Value* a, llvm::Value* x) override { return EmitPow(b_, a, x); }

 private:
  llvm::IRBuilderBase& b_;
};

class Emitter {
 public:
  Emitter(const Graph& g, const KernelSchedule& s, llvm::Module& m, llvm::IRBuilder<>& b)
      : g_(g), s_(s), m_(m), ctx_(m.getContext()), b_(b), math_(b_),
        w_(s.vector_width), i64_(llvm::Type::getInt64Ty(ctx_)) {}

  absl::Status Emit();
  // Every value at the current indices; values standing for `given_node`
  // are `given` instead of a load.
  absl::StatusOr<std::vector<llvm::Value*>> Values(const std::vector<llvm::Value*>& idx,
                                                   llvm::Value* j, llvm::Value* mask,
                                                   NodeId given_node = kNoNode,
                                                   llvm::Value* given = nullptr);
  void SetBuffers(absl::Span<llvm::Value* const> buffers) {
    buffers_.assign(buffers.begin(), buffers.end());
  }

 private:
  using Body = std::function<absl::Status(llvm::Value* j, llvm::Value* mask)>;

  // Registers hold bool as i1; memory holds one byte.
  llvm::Type* Scalar(DType t, bool memory) {
    switch (t) {
      case DType::kF32: return llvm::Type::getFloatTy(ctx_);
      case DType::kI32: return llvm::Type::getInt32Ty(ctx_);
      case DType::kI64: return i64_;
      case DType::kBool: return memory ? llvm::Type::getInt8Ty(ctx_) : llvm::Type::getInt1Ty(ctx_);
    }
    return nullptr;
  }
  llvm::VectorType* Vector(DType t, bool memory = false) {
    return llvm::FixedVectorType::get(Scalar(t, memory), w_);
  }
  llvm::Value* I64(int64_t v) { return llvm::ConstantInt::get(i64_, v); }

  // for (i = begin; i < end; ++i) body(i)
  absl::Status Loop(llvm::Value* begin, llvm::Value* end,
                    const std::function<absl::Status(llvm::Value*)>& body);
  // Vectors of W lanes over [lo, hi): full vectors, then one masked tail.
  absl::Status VectorLoop(llvm::Value* lo, llvm::Value* hi, const Body& body);
  // Splits `flat` into indices of dims [first, last) (row-major).
  void Decompose(llvm::Value* flat, int first, int last, std::vector<llvm::Value*>& idx);
  // offset + sum over dims other than the innermost of idx[d] * coeff[d].
  llvm::Value* Base(const LinearForm& f, const std::vector<llvm::Value*>& idx);
  llvm::Value* Address(DType t, int buffer, llvm::Value* offset);
  llvm::Value* Lanes(llvm::Value* j, int64_t stride);  // j*stride + lane*stride
  llvm::Value* LoadValue(const KernelValue& v, llvm::Value* base, llvm::Value* j,
                         llvm::Value* mask);
  // Stores output k.
  void StoreValue(int k, llvm::Value* value, llvm::Value* base, llvm::Value* j,
                  llvm::Value* mask);
  absl::StatusOr<llvm::Value*> Combine(llvm::Value* acc, llvm::Value* v);
  absl::StatusOr<llvm::Value*> Identity(llvm::Type* type);
  absl::StatusOr<llvm::Value*> FoldLanes(llvm::Value* acc);
  // A vector accumulator in the entry block (promoted to a register by the
  // optimizer), set to the reduction's identity here.
  absl::StatusOr<llvm::AllocaInst*> Accumulator(llvm::Type* type);

  absl::Status EmitElementwise(llvm::Value* w);
  absl::Status EmitRowReduce(llvm::Value* w);
  absl::Status EmitColumnReduce(llvm::Value* w);

  const Graph& g_;
  const KernelSchedule& s_;
  llvm::Module& m_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<>& b_;
  InlineVectorMath math_;
  const int w_;
  llvm::Type* i64_;
  llvm::Function* fn_ = nullptr;
  std::vector<llvm::Value*> buffers_;
};

absl::Status Emitter::Loop(llvm::Value* begin, llvm::Value* end,
                           const std::function<absl::Status(llvm::Value*)>& body) {
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx_, "loop", fn_);
  llvm::BasicBlock* inside = llvm::BasicBlock::Create(ctx_, "body", fn_);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx_, "exit", fn_);
  b_.CreateBr(header);
  b_.SetInsertPoint(header);
  llvm::PHINode* i = b_.CreatePHI(i64_, 2);
  i->addIncoming(begin, pre);
  b_.CreateCondBr(b_.CreateICmpSLT(i, end), inside, exit);
  b_.SetInsertPoint(inside);
  KILN_RETURN_IF_ERROR(body(i));
  llvm::Value* next = b_.CreateAdd(i, I64(1));
  i->addIncoming(next, b_.GetInsertBlock());
  b_.CreateBr(header);
  b_.SetInsertPoint(exit);
  return absl::OkStatus();
}

absl::Status Emitter::VectorLoop(llvm::Value* lo, llvm::Value* hi, const Body& body) {
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx_, "vloop", fn_);
  llvm::BasicBlock* inside = llvm::BasicBlock::Create(ctx_, "vbody", fn_);
  llvm::BasicBlock* after = llvm::BasicBlock::Create(ctx_, "vafter", fn_);
  llvm::BasicBlock* tail = llvm::BasicBlock::Create(ctx_, "vtail", fn_);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx_, "vexit", fn_);
  b_.CreateBr(header);
  b_.SetInsertPoint(header);
  llvm::PHINode* j = b_.CreatePHI(i64_, 2);
  j->addIncoming(lo, pre);
  b_.CreateCondBr(b_.CreateICmpSLE(b_.CreateAdd(j, I64(w_)), hi), inside, after);
  b_.SetInsertPoint(inside);
  KILN_RETURN_IF_ERROR(body(j, nullptr));
  j->addIncoming(b_.CreateAdd(j, I64(w_)), b_.GetInsertBlock());
  b_.CreateBr(header);
  b_.SetInsertPoint(after);
  b_.CreateCondBr(b_.CreateICmpSLT(j, hi), tail, exit);
  b_.SetInsertPoint(tail);
  llvm::Value* lanes = b_.CreateAdd(b_.CreateVectorSplat(w_, j), Lanes(I64(0), 1));
  llvm::Value* mask = b_.CreateICmpSLT(lanes, b_.CreateVectorSplat(w_, hi));
  KILN_RETURN_IF_ERROR(body(j, mask));
  b_.CreateBr(exit);
  b_.SetInsertPoint(exit);
  return absl::OkStatus();
}

void Emitter::Decompose(llvm::Value* flat, int first, int last,
                        std::vector<llvm::Value*>& idx) {
  for (int d = last - 1; d >= first; --d) {
    if (d == first) {
      idx[d] = flat;
    } else {
      idx[d] = b_.CreateSRem(flat, I64(s_.dims[d]));
      flat = b_.CreateSDiv(flat, I64(s_.dims[d]));
    }
  }
}

llvm::Value* Emitter::Base(const LinearForm& f, const std::vector<llvm::Value*>& idx) {
  llvm::Value* base = I64(f.offset);
  for (size_t d = 0; d + 1 < f.coeff.size(); ++d) {
    if (f.coeff[d] == 0 || idx[d] == nullptr) continue;
    base = b_.CreateAdd(base, b_.CreateMul(idx[d], I64(f.coeff[d])));
  }
  return base;
}

llvm::Value* Emitter::Address(DType t, int buffer, llvm::Value* offset) {
  return b_.CreateGEP(Scalar(t, true), buffers_[buffer], offset);
}

llvm::Value* Emitter::Lanes(llvm::Value* j, int64_t stride) {
  std::vector<llvm::Constant*> lanes;
  for (int l = 0; l < w_; ++l) lanes.push_back(llvm::ConstantInt::get(i64_, l * stride));
  llvm::Value* v = llvm::ConstantVector::get(lanes);
  return b_.CreateAdd(b_.CreateVectorSplat(w_, b_.CreateMul(j, I64(stride))), v);
}

llvm::Value* Emitter::LoadValue(const KernelValue& v, llvm::Value* base, llvm::Value* j,
                                llvm::Value* mask) {
  const int64_t c = v.at.coeff.back();
  llvm::Type* mem = Scalar(v.dtype, true);
  const llvm::Align align(DTypeSize(v.dtype));
  llvm::Value* loaded;
  if (c == 0) {
    loaded = b_.CreateVectorSplat(w_, b_.CreateLoad(mem, Address(v.dtype, v.buffer, base)));
  } else if (c == 1) {
    llvm::Value* ptr = Address(v.dtype, v.buffer, b_.CreateAdd(base, j));
    if (mask == nullptr) {
      loaded = b_.CreateAlignedLoad(Vector(v.dtype, true), ptr, align);
    } else {
      loaded = b_.CreateMaskedLoad(Vector(v.dtype, true), ptr, align, mask,
                                   llvm::Constant::getNullValue(Vector(v.dtype, true)));
    }
  } else {
    llvm::Value* offsets = b_.CreateAdd(b_.CreateVectorSplat(w_, base), Lanes(j, c));
    llvm::Value* ptrs = b_.CreateGEP(mem, buffers_[v.buffer], offsets);
    loaded = b_.CreateMaskedGather(Vector(v.dtype, true), ptrs, align, mask);
  }
  if (v.dtype == DType::kBool) {
    loaded = b_.CreateICmpNE(loaded, llvm::Constant::getNullValue(loaded->getType()));
  }
  return loaded;
}

void Emitter::StoreValue(int k, llvm::Value* value, llvm::Value* base, llvm::Value* j,
                         llvm::Value* mask) {
  const DType t = s_.result_dtypes[k];
  if (t == DType::kBool) value = b_.CreateZExt(value, Vector(t, true));
  const int64_t c = s_.stores[k].coeff.back();
  const llvm::Align align(DTypeSize(t));
  const int buffer = s_.num_inputs + k;
  if (c == 1) {
    llvm::Value* ptr = Address(t, buffer, b_.CreateAdd(base, j));
    if (mask == nullptr) {
      b_.CreateAlignedStore(value, ptr, align);
    } else {
      b_.CreateMaskedStore(value, ptr, align, mask);
    }
    return;
  }
  llvm::Value* offsets = b_.CreateAdd(b_.CreateVectorSplat(w_, base), Lanes(j, c));
  b_.CreateMaskedScatter(value, b_.CreateGEP(Scalar(t, true), buffers_[buffer], offsets), align,
                         mask);
}

absl::StatusOr<std::vector<llvm::Value*>> Emitter::Values(
    const std::vector<llvm::Value*>& idx, llvm::Value* j, llvm::Value* mask,
    NodeId given_node, llvm::Value* given) {
  std::vector<llvm::Value*> v(s_.values.size());
  for (size_t i = 0; i < s_.values.size(); ++i) {
    const KernelValue& kv = s_.values[i];
    if (kv.buffer >= 0 && kv.node == given_node) {
      v[i] = given;
      continue;
    }
    if (kv.buffer >= 0) {
      v[i] = LoadValue(kv, Base(kv.at, idx), j, mask);
      continue;
    }
    if (kv.is_constant) {
      llvm::Type* t = Scalar(kv.dtype, false);
      llvm::Constant* c = t->isFloatingPointTy()
                              ? llvm::ConstantFP::get(t, kv.constant)
                              : llvm::ConstantInt::get(t, static_cast<int64_t>(kv.constant), true);
      v[i] = llvm::ConstantVector::getSplat(llvm::ElementCount::getFixed(w_), c);
      continue;
    }
    const Node& n = g_.node(kv.node);
    LoweringContext lc{.builder = b_, .math = math_, .attrs = n.attrs,
                       .output_dtype = n.type.dtype, .result_type = Vector(n.type.dtype)};
    for (size_t k = 0; k < kv.operands.size(); ++k) {
      lc.input_dtypes.push_back(g_.node(n.inputs[k]).type.dtype);
      lc.operands.push_back(v[kv.operands[k]]);
    }
    KILN_RETURN_IF_ERROR(n.op->lower(lc));
    if (lc.result == nullptr || lc.result->getType() != lc.result_type) {
      return absl::InternalError(absl::StrCat("[", n.op->name, "] lowering gave no ",
                                              DTypeName(n.type.dtype), " vector"));
    }
    v[i] = lc.result;
  }
  return v;
}

absl::StatusOr<llvm::Value*> Emitter::Combine(llvm::Value* acc, llvm::Value* value) {
  const Node& n = g_.node(s_.reduction);
  LoweringContext lc{.builder = b_, .math = math_, .attrs = n.attrs,
                     .request = LoweringRequest::kReduceCombine,
                     .output_dtype = n.type.dtype, .operands = {acc, value},
                     .result_type = acc->getType()};
  KILN_RETURN_IF_ERROR(n.op->lower(lc));
  return lc.result;
}

absl::StatusOr<llvm::Value*> Emitter::Identity(llvm::Type* type) {
  const Node& n = g_.node(s_.reduction);
  LoweringContext lc{.builder = b_, .math = math_, .attrs = n.attrs,
                     .request = LoweringRequest::kReduceIdentity,
                     .output_dtype = n.type.dtype, .result_type = type};
  KILN_RETURN_IF_ERROR(n.op->lower(lc));
  return lc.result;
}

absl::StatusOr<llvm::Value*> Emitter::FoldLanes(llvm::Value* acc) {
  for (int width = w_; width > 1; width /= 2) {
    std::vector<int> lo, hi;
    for (int l = 0; l < width / 2; ++l) {
      lo.push_back(l);
      hi.push_back(l + width / 2);
    }
    KILN_ASSIGN_OR_RETURN(acc, Combine(b_.CreateShuffleVector(acc, lo),
                                       b_.CreateShuffleVector(acc, hi)));
  }
  return acc;
}

absl::StatusOr<llvm::AllocaInst*> Emitter::Accumulator(llvm::Type* type) {
  llvm::AllocaInst* acc = nullptr;
  {
    llvm::IRBuilderBase::InsertPointGuard guard(b_);
    b_.SetInsertPoint(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
    acc = b_.CreateAlloca(type);
  }
  KILN_ASSIGN_OR_RETURN(llvm::Value* identity, Identity(type));
  b_.CreateStore(identity, acc);
  return acc;
}

absl::Status Emitter::EmitElementwise(llvm::Value* w) {
  const int n = static_cast<int>(s_.dims.size());
  const int64_t inner = s_.dims[n - 1];
  const int64_t chunks = (inner + s_.inner_chunk - 1) / s_.inner_chunk;
  std::vector<llvm::Value*> idx(n, nullptr);
  Decompose(b_.CreateSDiv(w, I64(chunks)), 0, n - 1, idx);
  llvm::Value* lo = b_.CreateMul(b_.CreateSRem(w, I64(chunks)), I64(s_.inner_chunk));
  llvm::Value* hi = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin,
                                             b_.CreateAdd(lo, I64(s_.inner_chunk)), I64(inner));
  std::vector<llvm::Value*> store_bases;
  for (const LinearForm& f : s_.stores) store_bases.push_back(Base(f, idx));
  return VectorLoop(lo, hi, [&](llvm::Value* j, llvm::Value* mask) -> absl::Status {
    KILN_ASSIGN_OR_RETURN(std::vector<llvm::Value*> v, Values(idx, j, mask));
    for (size_t k = 0; k < s_.results.size(); ++k) {
      StoreValue(static_cast<int>(k), v[s_.results[k]], store_bases[k], j, mask);
    }
    return absl::OkStatus();
  });
}

absl::Status Emitter::EmitRowReduce(llvm::Value* w) {
  const int n = static_cast<int>(s_.dims.size());
  std::vector<llvm::Value*> idx(n, nullptr);
  if (s_.parallel_dims > 0) Decompose(w, 0, s_.parallel_dims, idx);
  llvm::Type* type = Vector(s_.result_dtypes[0]);
  KILN_ASSIGN_OR_RETURN(llvm::AllocaInst* acc, Accumulator(type));
  // Nested loops over the reduced dimensions; lanes run over the last one.
  std::function<absl::Status(int)> nest = [&](int d) -> absl::Status {
    if (d == n - 1) {
      return VectorLoop(I64(0), I64(s_.dims[d]), [&](llvm::Value* j, llvm::Value* mask)
                                                     -> absl::Status {
        KILN_ASSIGN_OR_RETURN(std::vector<llvm::Value*> v, Values(idx, j, mask));
        llvm::Value* old = b_.CreateLoad(type, acc);
        KILN_ASSIGN_OR_RETURN(llvm::Value* combined, Combine(old, v[s_.results[0]]));
        b_.CreateStore(mask == nullptr ? combined : b_.CreateSelect(mask, combined, old), acc);
        return absl::OkStatus();
      });
    }
    return Loop(I64(0), I64(s_.dims[d]), [&](llvm::Value* i) {
      idx[d] = i;
      return nest(d + 1);
    });
  };
  KILN_RETURN_IF_ERROR(nest(s_.parallel_dims));
  KILN_ASSIGN_OR_RETURN(llvm::Value* folded, FoldLanes(b_.CreateLoad(type, acc)));
  llvm::Value* scalar = b_.CreateExtractElement(folded, uint64_t{0});
  const DType t = s_.result_dtypes[0];
  if (t == DType::kBool) scalar = b_.CreateZExt(scalar, Scalar(DType::kBool, true));
  b_.CreateStore(scalar, Address(t, s_.num_inputs, Base(s_.stores[0], idx)));
  return absl::OkStatus();
}

absl::Status Emitter::EmitColumnReduce(llvm::Value* w) {
  const int n = static_cast<int>(s_.dims.size());
  const int64_t inner = s_.dims[n - 1];
  const int64_t vectors = (inner + w_ - 1) / w_;
  std::vector<llvm::Value*> idx(n, nullptr);
  if (s_.parallel_dims > 0) Decompose(b_.CreateSDiv(w, I64(vectors)), 0, s_.parallel_dims, idx);
  llvm::Value* j = b_.CreateMul(b_.CreateSRem(w, I64(vectors)), I64(w_));
  llvm::Value* lanes = b_.CreateAdd(b_.CreateVectorSplat(w_, j), Lanes(I64(0), 1));
  llvm::Value* mask = b_.CreateICmpSLT(lanes, b_.CreateVectorSplat(w_, I64(inner)));
  llvm::Type* type = Vector(s_.result_dtypes[0]);
  KILN_ASSIGN_OR_RETURN(llvm::AllocaInst* acc, Accumulator(type));
  std::function<absl::Status(int)> nest = [&](int d) -> absl::Status {
    if (d == n - 1) {
      KILN_ASSIGN_OR_RETURN(std::vector<llvm::Value*> v, Values(idx, j, mask));
      KILN_ASSIGN_OR_RETURN(llvm::Value* combined,
                            Combine(b_.CreateLoad(type, acc), v[s_.results[0]]));
      b_.CreateStore(combined, acc);
      return absl::OkStatus();
    }
    return Loop(I64(0), I64(s_.dims[d]), [&](llvm::Value* i) {
      idx[d] = i;
      return nest(d + 1);
    });
  };
  KILN_RETURN_IF_ERROR(nest(s_.parallel_dims));
  StoreValue(0, b_.CreateLoad(type, acc), Base(s_.stores[0], idx), j, mask);
  return absl::OkStatus();
}

absl::Status Emitter::Emit() {
  llvm::Type* ptr = llvm::PointerType::get(ctx_, 0);
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx_), {ptr, i64_, i64_}, false);
  fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, s_.name, m_);
  fn_->addFnAttr(llvm::Attribute::NoUnwind);
  b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", fn_));
  for (size_t k = 0; k < s_.buffers.size(); ++k) {
    buffers_.push_back(b_.CreateLoad(ptr, b_.CreateGEP(ptr, fn_->getArg(0), I64(k))));
  }
  KILN_RETURN_IF_ERROR(Loop(fn_->getArg(1), fn_->getArg(2), [&](llvm::Value* w) {
    switch (s_.mode) {
      case LoopMode::kElementwise: return EmitElementwise(w);
      case LoopMode::kRowReduce: return EmitRowReduce(w);
      case LoopMode::kColumnReduce: return EmitColumnReduce(w);
    }
    return absl::InternalError("unknown loop mode");
  }));
  b_.CreateRetVoid();
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyFunction(*fn_, &os)) {
    return absl::InternalError(absl::StrCat("kernel ", s_.name, " is malformed: ", problems));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EmitKernel(const Graph& graph, const KernelSchedule& schedule,
                        llvm::Module& module) {
  llvm::IRBuilder<> builder(module.getContext());
  return Emitter(graph, schedule, module, builder).Emit();
}

absl::StatusOr<std::vector<llvm::Value*>> EmitScheduleValues(
    const Graph& graph, const KernelSchedule& schedule, llvm::IRBuilder<>& builder,
    absl::Span<llvm::Value* const> buffers, const std::vector<llvm::Value*>& idx,
    llvm::Value* j, llvm::Value* mask, NodeId given_node, llvm::Value* given) {
  Emitter emitter(graph, schedule, *builder.GetInsertBlock()->getModule(), builder);
  emitter.SetBuffers(buffers);
  return emitter.Values(idx, j, mask, given_node, given);
}

}  // namespace kiln
