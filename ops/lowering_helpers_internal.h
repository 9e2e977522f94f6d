// Helpers shared by the ops' JIT lowerings (the `.lower` field of the
// elementwise ops and reductions): a wrapper that fixes the fast-math flags
// of an element body, and the few bodies several ops share (f32-or-integer
// arithmetic, comparisons, max/min with NaN propagation).
//
//   .lower = LowerElement<+[](LoweringContext& c) {
//     return BinaryArith(c, llvm::Instruction::FAdd, llvm::Instruction::Add);
//   }, kContract>,
//
// This header includes LLVM; only ops/ and codegen/ .cc files (and tests)
// may include it.
#ifndef KILN_OPS_LOWERING_HELPERS_INTERNAL_H_
#define KILN_OPS_LOWERING_HELPERS_INTERNAL_H_

#include "absl/status/status.h"
#include "llvm/IR/Intrinsics.h"
#include "ops/lowering_internal.h"

namespace kiln {

// The fast-math flags a lowering puts on its instructions, whatever the
// emitter set on the builder: none, or only `contract` on f32 add, sub and
// mul (a mul feeding an add may become an FMA: one rounding instead of two,
// as the issue allows; no other flag, since nnan/ninf/nsz/arcp/afn would
// change results the interpreter gives exactly).
inline constexpr bool kContract = true;
llvm::FastMathFlags LoweringFlags(bool contract);

// Internal errors unless ctx.request is `request`, or unless ctx.result
// has ctx.result_type.
absl::Status CheckRequest(const LoweringContext& ctx, LoweringRequest request);
absl::Status CheckResult(const LoweringContext& ctx);

// The `.lower` of an elementwise op from a body (a function pointer, e.g.
// `+[](LoweringContext& c) {...}`) that returns one vector of results. The
// body runs with exactly LoweringFlags(kAllowContract) on the builder (the
// emitter's flags are restored after); the result's type is checked.
template <auto Body, bool kAllowContract = false>
absl::Status LowerElement(LoweringContext& ctx) {
  if (absl::Status s = CheckRequest(ctx, LoweringRequest::kElement); !s.ok()) return s;
  llvm::IRBuilderBase::FastMathFlagGuard guard(ctx.builder);
  ctx.builder.setFastMathFlags(LoweringFlags(kAllowContract));
  ctx.result = Body(ctx);
  return CheckResult(ctx);
}

// The `.lower` of a reduction: a splat of `identity` for kReduceIdentity,
// combine(accumulator, value) for kReduceCombine (flags as above).
using CombineFn = llvm::Value* (*)(llvm::IRBuilderBase& b, llvm::Value* acc,
                                   llvm::Value* value);
absl::Status LowerReduction(LoweringContext& ctx, double identity,
                            CombineFn combine, bool contract = false);

inline bool IsFloatVector(const llvm::Value* v) {
  return v->getType()->isFPOrFPVectorTy();
}

// operands[0] op operands[1] with `float_op` on f32 vectors, `int_op` on
// integer ones (wrapping, as the interpreter's integer lanes).
llvm::Value* BinaryArith(LoweringContext& ctx, llvm::Instruction::BinaryOps float_op,
                         llvm::Instruction::BinaryOps int_op);

// operands[0] pred operands[1] as <W x i1>: `float_pred` on f32 (ordered
// predicates are false for NaN, FCMP_UNE is true), `int_pred` (signed) on
// integers.
llvm::Value* Compare(LoweringContext& ctx, llvm::CmpInst::Predicate float_pred,
                     llvm::CmpInst::Predicate int_pred);

// The larger (`max`) or smaller of x and y. f32: NaN if either is NaN (x's
// NaN first), else x if strictly larger (smaller), else y, the interpreter's
// bits on x86 (maxps/minps return y on a tie, so max(+0, -0) = -0);
// integers: llvm.smax / llvm.smin.
llvm::Value* MaxOrMin(llvm::IRBuilderBase& b, bool max, llvm::Value* x, llvm::Value* y);

}  // namespace kiln

#endif  // KILN_OPS_LOWERING_HELPERS_INTERNAL_H_
