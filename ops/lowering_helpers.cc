#include "ops/lowering_helpers_internal.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/Support/raw_ostream.h"

namespace kiln {
namespace {

std::string TypeName(const llvm::Type* type) {
  if (type == nullptr) return "null";
  std::string text;
  llvm::raw_string_ostream os(text);
  type->print(os);
  return os.str();
}

absl::string_view RequestName(LoweringRequest r) {
  switch (r) {
    case LoweringRequest::kElement: return "an element";
    case LoweringRequest::kReduceIdentity: return "a reduction identity";
    case LoweringRequest::kReduceCombine: return "a reduction combiner";
  }
  return "?";
}

}  // namespace

llvm::FastMathFlags LoweringFlags(bool contract) {
  llvm::FastMathFlags flags;
  flags.setAllowContract(contract);
  return flags;
}

absl::Status CheckRequest(const LoweringContext& ctx, LoweringRequest request) {
  if (ctx.request == request) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("asked to lower ", RequestName(ctx.request),
                                          ", the op lowers ", RequestName(request)));
}

absl::Status CheckResult(const LoweringContext& ctx) {
  const llvm::Type* got = ctx.result == nullptr ? nullptr : ctx.result->getType();
  if (got != nullptr && got == ctx.result_type) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("lowering made a ", TypeName(got),
                                          ", expected ", TypeName(ctx.result_type)));
}

absl::Status LowerReduction(LoweringContext& ctx, double identity, CombineFn combine,
                            bool contract) {
  switch (ctx.request) {
    case LoweringRequest::kReduceIdentity:
      ctx.result = SplatLike(ctx, ctx.result_type, identity);
      break;
    case LoweringRequest::kReduceCombine: {
      if (ctx.operands.size() != 2) {
        return absl::InternalError(absl::StrCat("a combiner takes 2 operands, got ",
                                                ctx.operands.size()));
      }
      llvm::IRBuilderBase::FastMathFlagGuard guard(ctx.builder);
      ctx.builder.setFastMathFlags(LoweringFlags(contract));
      ctx.result = combine(ctx.builder, ctx.operands[0], ctx.operands[1]);
      break;
    }
    default:
      return CheckRequest(ctx, LoweringRequest::kReduceCombine);
  }
  return CheckResult(ctx);
}

llvm::Value* BinaryArith(LoweringContext& ctx, llvm::Instruction::BinaryOps float_op,
                         llvm::Instruction::BinaryOps int_op) {
  llvm::Value* a = ctx.operands[0];
  llvm::Value* b = ctx.operands[1];
  return ctx.builder.CreateBinOp(IsFloatVector(a) ? float_op : int_op, a, b);
}

llvm::Value* Compare(LoweringContext& ctx, llvm::CmpInst::Predicate float_pred,
                     llvm::CmpInst::Predicate int_pred) {
  llvm::Value* a = ctx.operands[0];
  llvm::Value* b = ctx.operands[1];
  return IsFloatVector(a) ? ctx.builder.CreateFCmp(float_pred, a, b)
                          : ctx.builder.CreateICmp(int_pred, a, b);
}

llvm::Value* MaxOrMin(llvm::IRBuilderBase& b, bool max, llvm::Value* x, llvm::Value* y) {
  if (!IsFloatVector(x)) {
    return b.CreateBinaryIntrinsic(max ? llvm::Intrinsic::smax : llvm::Intrinsic::smin, x, y);
  }
  llvm::Value* wins = max ? b.CreateFCmpOGT(x, y) : b.CreateFCmpOLT(x, y);
  llvm::Value* m = b.CreateSelect(wins, x, y);  // y when y is NaN
  return b.CreateSelect(b.CreateFCmpUNO(x, x), x, m);
}

}  // namespace kiln
