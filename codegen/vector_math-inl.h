// Small IR-building helpers shared by the vector math emitters
// (vector_math_exp_log.cc, vector_math_special.cc); not for other users.
//
// A MathEmitter wraps an IRBuilder for one floating-point type (`float`,
// `double` or vectors of them): constants splat to that type, integer
// helpers work on the integer type of the same shape, and no fast-math flags
// are set while it lives.
//
//   MathEmitter e(b, x->getType());
//   llvm::Value* y = e.Fma(x, e.F(2.0), e.F(1.0));  // 2x + 1
#ifndef KILN_CODEGEN_VECTOR_MATH_INL_H_
#define KILN_CODEGEN_VECTOR_MATH_INL_H_

#include <cstdint>
#include <initializer_list>

#include "graph/status_macros.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"

namespace kiln {
namespace vector_math_internal {

class MathEmitter {
 public:
  MathEmitter(llvm::IRBuilderBase& b, llvm::Type* type) : b_(b), guard_(b), type_(type) {
    KILN_CHECK_MSG(type->isFPOrFPVectorTy(), "vector math needs FP values");
    b_.clearFastMathFlags();
    const unsigned bits = type->getScalarSizeInBits();
    itype_ = type->getWithNewType(b.getIntNTy(bits));
  }
  MathEmitter(const MathEmitter&) = delete;
  MathEmitter& operator=(const MathEmitter&) = delete;

  llvm::IRBuilderBase& b() { return b_; }
  llvm::Type* type() const { return type_; }
  llvm::Type* itype() const { return itype_; }
  // Exponent bias, mantissa bits of the scalar type (f32 or f64).
  int Bias() const { return IsDouble() ? 1023 : 127; }
  int MantissaBits() const { return IsDouble() ? 52 : 23; }
  bool IsDouble() const { return type_->getScalarType()->isDoubleTy(); }

  llvm::Value* F(double v) { return llvm::ConstantFP::get(type_, v); }
  llvm::Value* I(int64_t v) {
    return llvm::ConstantInt::get(itype_, static_cast<uint64_t>(v), true);
  }
  llvm::Value* Inf(bool negative = false) { return llvm::ConstantFP::getInfinity(type_, negative); }
  llvm::Value* NaN() { return llvm::ConstantFP::getNaN(type_); }

  llvm::Value* Add(llvm::Value* x, llvm::Value* y) { return b_.CreateFAdd(x, y); }
  llvm::Value* Sub(llvm::Value* x, llvm::Value* y) { return b_.CreateFSub(x, y); }
  llvm::Value* Mul(llvm::Value* x, llvm::Value* y) { return b_.CreateFMul(x, y); }
  llvm::Value* Div(llvm::Value* x, llvm::Value* y) { return b_.CreateFDiv(x, y); }
  // x * y + z with one rounding.
  llvm::Value* Fma(llvm::Value* x, llvm::Value* y, llvm::Value* z) {
    return b_.CreateIntrinsic(llvm::Intrinsic::fma, {type_}, {x, y, z});
  }
  llvm::Value* Abs(llvm::Value* x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x); }
  llvm::Value* Floor(llvm::Value* x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::floor, x); }
  llvm::Value* CopySign(llvm::Value* mag, llvm::Value* sign) {
    return b_.CreateCopySign(mag, sign);
  }
  llvm::Value* Select(llvm::Value* c, llvm::Value* x, llvm::Value* y) {
    return b_.CreateSelect(c, x, y);
  }
  // Ordered comparisons: false when either side is NaN.
  llvm::Value* Lt(llvm::Value* x, llvm::Value* y) { return b_.CreateFCmpOLT(x, y); }
  llvm::Value* Gt(llvm::Value* x, llvm::Value* y) { return b_.CreateFCmpOGT(x, y); }
  llvm::Value* Eq(llvm::Value* x, llvm::Value* y) { return b_.CreateFCmpOEQ(x, y); }
  llvm::Value* IsNaN(llvm::Value* x) { return b_.CreateFCmpUNO(x, x); }
  // min(x, hi) and max(x, lo) that keep NaN (llvm.minnum would not).
  llvm::Value* Min(llvm::Value* x, double hi) { return Select(Gt(x, F(hi)), F(hi), x); }
  llvm::Value* Max(llvm::Value* x, double lo) { return Select(Lt(x, F(lo)), F(lo), x); }

  llvm::Value* Bits(llvm::Value* x) { return b_.CreateBitCast(x, itype_); }
  llvm::Value* FromBits(llvm::Value* i) { return b_.CreateBitCast(i, type_); }
  llvm::Value* ToFloat(llvm::Value* i) { return b_.CreateSIToFP(i, type_); }

  // c[0] + c[1] x + c[2] x^2 + ... by Horner's rule with FMAs.
  llvm::Value* Poly(llvm::Value* x, std::initializer_list<double> c) {
    const double* p = c.end() - 1;
    llvm::Value* acc = F(*p);
    while (p != c.begin()) acc = Fma(acc, x, F(*--p));
    return acc;
  }

  // 2^n for an integer vector n within the normal exponent range.
  llvm::Value* Pow2(llvm::Value* n) {
    return FromBits(b_.CreateShl(b_.CreateAdd(n, I(Bias())), MantissaBits()));
  }

  // rint(x) as a float and as an integer, for |x| < 2^(mantissa bits - 1),
  // without fptosi (poison for NaN): adding 1.5 * 2^mantissa bits rounds to
  // an integer in the low bits. NaN gives NaN and an arbitrary integer.
  void RoundToInt(llvm::Value* x, llvm::Value* scale, llvm::Value** n_float, llvm::Value** n_int) {
    const double shifter = 1.5 * static_cast<double>(1LL << MantissaBits());
    llvm::Value* t = Fma(x, scale, F(shifter));
    *n_float = Sub(t, F(shifter));
    *n_int = b_.CreateSub(Bits(t), Bits(F(shifter)));
  }

 private:
  llvm::IRBuilderBase& b_;
  llvm::IRBuilderBase::FastMathFlagGuard guard_;
  llvm::Type* type_;
  llvm::Type* itype_;
};

// e^r - 1 on the reduced range |r| <= ln2/2 (+ a little): r + r^2 Q(r),
// Q of degree 4, relative error of e^r below 0.1 ulp (exp, tanh, erf).
llvm::Value* ExpReducedM1(MathEmitter& e, llvm::Value* r);

// e^x for x whose result is a normal float (|x| < 87): the exp reduction
// without clamps and with a single scaling; for tanh and erf.
llvm::Value* ExpNormalRange(MathEmitter& e, llvm::Value* x);

}  // namespace vector_math_internal
}  // namespace kiln

#endif  // KILN_CODEGEN_VECTOR_MATH_INL_H_
