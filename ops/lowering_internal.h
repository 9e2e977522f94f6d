// What an op's JIT lowering sees (issue 3): the IR builder, the vector math
// the JIT provides, the op's attributes and its operands as LLVM vectors.
//
// The JIT's kernel emitter (codegen/) walks a fused group of nodes and, for
// each one, fills a LoweringContext and calls the op's `lower`. Values are
// always vectors of the kernel's width W: f32 -> <W x float>, i32 -> <W x i32>,
// i64 -> <W x i64>, bool -> <W x i1>. The emitter does the loads, stores,
// broadcasts and tails; an op only says how one vector of results is made:
//
//   absl::Status LowerExp(LoweringContext& ctx) {
//     ctx.result = ctx.math.Exp(ctx.operands[0]);
//     return absl::OkStatus();
//   }
//
// Reductions lower their combiner: asked for kReduceIdentity they return the
// identity vector (of ctx.result_type), asked for kReduceCombine they
// combine operands {accumulator, value}; the emitter folds lanes with the
// same combiner.
#ifndef KILN_OPS_LOWERING_INTERNAL_H_
#define KILN_OPS_LOWERING_INTERNAL_H_

#include <vector>

#include "graph/op_def.h"
#include "llvm/IR/IRBuilder.h"

namespace kiln {

// Inline polynomial math on float vectors, provided by codegen/.
class VectorMath {
 public:
  virtual ~VectorMath() = default;
  virtual llvm::Value* Exp(llvm::Value* x) = 0;
  virtual llvm::Value* Expm1(llvm::Value* x) = 0;
  virtual llvm::Value* Log(llvm::Value* x) = 0;
  virtual llvm::Value* Log1p(llvm::Value* x) = 0;
  virtual llvm::Value* Tanh(llvm::Value* x) = 0;
  virtual llvm::Value* Erf(llvm::Value* x) = 0;
  virtual llvm::Value* Pow(llvm::Value* base, llvm::Value* exponent) = 0;
};

enum class LoweringRequest { kElement, kReduceIdentity, kReduceCombine };

struct LoweringContext {
  llvm::IRBuilderBase& builder;
  VectorMath& math;
  const Attrs& attrs;
  LoweringRequest request = LoweringRequest::kElement;
  std::vector<DType> input_dtypes;     // the op's inputs
  DType output_dtype = DType::kF32;
  std::vector<llvm::Value*> operands;  // see the request
  llvm::Type* result_type = nullptr;   // the vector type `result` must have
  llvm::Value* result = nullptr;       // set by the lowering
};

// A vector of `value` with the result's element type.
inline llvm::Value* SplatLike(LoweringContext& ctx, llvm::Type* vector_type,
                              double value) {
  llvm::Type* element = vector_type->getScalarType();
  llvm::Constant* c = element->isFloatingPointTy()
                          ? llvm::ConstantFP::get(element, value)
                          : llvm::ConstantInt::get(element, static_cast<int64_t>(value),
                                                   /*isSigned=*/true);
  return llvm::ConstantVector::getSplat(
      llvm::cast<llvm::VectorType>(vector_type)->getElementCount(), c);
}

}  // namespace kiln

#endif  // KILN_OPS_LOWERING_INTERNAL_H_
