// Vector math, part 1: exp, expm1, log and log1p emitted as LLVM IR (see
// vector_math_internal.h for methods and measured errors).
//
//   llvm::Value* y = EmitLog1p(b, x);  // x: float or <N x float>
//
// Coefficients are our own fits of the reduced functions (minimax relative
// error, f32 coefficients); the error of each fit alone is noted beside it.
#include "codegen/vector_math_internal.h"

#include <cstdint>

#include "codegen/vector_math-inl.h"

namespace kiln {

using vector_math_internal::MathEmitter;

namespace {

constexpr double kLn2 = 0.69314718055994530942;
constexpr double kLog2e = 1.44269504088896340736;
// ln2 = kLn2Hi + kLn2Lo with kLn2Hi the nearest f32 (FMAs make n * kLn2Hi
// exact, so no trailing zeros are needed).
constexpr double kLn2Hi = static_cast<float>(kLn2);
constexpr double kLn2Lo = kLn2 - kLn2Hi;

// x = n ln2 + r with n = rint(x / ln2), |r| <= ln2/2 (slightly more where
// x / ln2 rounds). *n is an integer vector.
void ReduceExp(MathEmitter& e, llvm::Value* x, llvm::Value** r, llvm::Value** n) {
  llvm::Value* n_float;
  e.RoundToInt(x, e.F(kLog2e), &n_float, n);
  *r = e.Fma(n_float, e.F(-kLn2Hi), x);
  *r = e.Fma(n_float, e.F(-kLn2Lo), *r);
}

// e^r - 1 = r + r^2 Q(r) with Q of degree 6 for |r| <= ln2, for expm1
// (relative error of the fit 0.025 ulp of e^r - 1).
llvm::Value* ExpReducedM1Wide(MathEmitter& e, llvm::Value* r) {
  llvm::Value* q = e.Poly(r, {5.000000000e-01, 1.666667163e-01, 4.166664556e-02, 8.332661353e-03,
                              1.388975186e-03, 2.009121235e-04, 2.483964272e-05});
  return e.Fma(e.Mul(r, r), q, r);
}

// 2^n as two factors 2^h, 2^(n-h) (h = n >> 1), each a normal float for n in
// [-252, 254]; x * 2^h * 2^(n-h) rounds once when x * 2^h stays normal.
llvm::Value* ScaleByPow2(MathEmitter& e, llvm::Value* x, llvm::Value* n) {
  llvm::Value* h = e.b().CreateAShr(n, 1);
  llvm::Value* rest = e.b().CreateSub(n, h);
  return e.Mul(e.Mul(x, e.Pow2(h)), e.Pow2(rest));
}

// log(2^k (1 + f)) + corr for f in [sqrt(1/2) - 1, sqrt(2) - 1]:
// k ln2 + f - f^2/2 + f^3 P(f), P of degree 7 (fit error 0.1 ulp). `corr`
// is a small term added before the two large ones, or null.
llvm::Value* LogReduced(MathEmitter& e, llvm::Value* k, llvm::Value* f, llvm::Value* corr) {
  llvm::Value* p =
      e.Poly(f, {3.333333135e-01, -2.500081956e-01, 2.000124156e-01, -1.662340909e-01,
                 1.420158148e-01, -1.315961331e-01, 1.276219785e-01, -7.636395842e-02});
  llvm::Value* g = e.Mul(e.Mul(f, f), e.Fma(f, p, e.F(-0.5)));
  if (corr != nullptr) g = e.Add(g, corr);
  llvm::Value* small = e.Fma(k, e.F(kLn2Lo), g);
  return e.Fma(k, e.F(kLn2Hi), e.Add(f, small));
}

// Splits positive normal x into 2^k m with m in [sqrt(1/2), sqrt(2)):
// adding 1 - sqrt(1/2) to the bits carries into the exponent exactly when
// the mantissa is at least sqrt(2) / 2^(exponent). *k is an integer vector.
void SplitMantissa(MathEmitter& e, llvm::Value* x, llvm::Value** k, llvm::Value** m) {
  constexpr int64_t kSqrtHalfBits = 0x3f3504f3;  // f32 sqrt(1/2)
  llvm::IRBuilderBase& b = e.b();
  llvm::Value* ix = b.CreateAdd(e.Bits(x), e.I(0x3f800000 - kSqrtHalfBits));
  *k = b.CreateSub(b.CreateLShr(ix, 23), e.I(127));
  *m = e.FromBits(b.CreateAdd(b.CreateAnd(ix, e.I(0x7fffff)), e.I(kSqrtHalfBits)));
}

}  // namespace

namespace vector_math_internal {

llvm::Value* ExpReducedM1(MathEmitter& e, llvm::Value* r) {
  llvm::Value* q = e.Poly(
      r, {4.999999702e-01, 1.666654646e-01, 4.166743532e-02, 8.366271853e-03, 1.387069351e-03});
  return e.Fma(e.Mul(r, r), q, r);
}

llvm::Value* ExpNormalRange(MathEmitter& e, llvm::Value* x) {
  llvm::Value *r, *n;
  ReduceExp(e, x, &r, &n);
  return e.Mul(e.Add(e.F(1.0), ExpReducedM1(e, r)), e.Pow2(n));
}

}  // namespace vector_math_internal

llvm::Value* EmitExp(llvm::IRBuilderBase& b, llvm::Value* x) {
  MathEmitter e(b, x->getType());
  // e^89 overflows and e^-104 rounds to 0; clamping keeps n in [-150, 129].
  llvm::Value* xc = e.Max(e.Min(x, 89.0), -104.0);
  llvm::Value *r, *n;
  ReduceExp(e, xc, &r, &n);
  llvm::Value* p = e.Add(e.F(1.0), vector_math_internal::ExpReducedM1(e, r));
  return ScaleByPow2(e, p, n);
}

llvm::Value* EmitExpm1(llvm::IRBuilderBase& b, llvm::Value* x) {
  MathEmitter e(b, x->getType());
  // expm1 is -1 in f32 below -17.33; -30 keeps 2^n normal.
  llvm::Value* xc = e.Max(e.Min(x, 89.0), -30.0);
  // |x| < ln2: no reduction (n = 0, r = x), so that e^r - 1 is not
  // rounded before 2^n scales it up.
  llvm::Value* n_float;
  llvm::Value* n;
  e.RoundToInt(xc, e.F(kLog2e), &n_float, &n);
  llvm::Value* unreduced = e.Lt(e.Abs(xc), e.F(kLn2));
  n_float = e.Select(unreduced, e.F(0.0), n_float);
  n = e.Select(unreduced, e.I(0), n);
  llvm::Value* r = e.Fma(n_float, e.F(-kLn2Hi), xc);
  r = e.Fma(n_float, e.F(-kLn2Lo), r);
  llvm::Value* em = ExpReducedM1Wide(e, r);
  // n <= 24: 2^n - 1 is exact and 2^n em + (2^n - 1) rounds once.
  llvm::Value* s = e.Pow2(n);
  llvm::Value* near = e.Fma(s, em, e.Sub(s, e.F(1.0)));
  // Larger n: 2^n (1 + em - 2^-n), rounded once in the FMA (2^h (...) is
  // then scaled exactly, or overflows to inf).
  llvm::Value* n_capped = e.Select(b.CreateICmpSGT(n, e.I(64)), e.I(64), n);
  llvm::Value* em_adj = e.Sub(em, e.Pow2(b.CreateNeg(n_capped)));
  llvm::Value* h = b.CreateAShr(n, 1);
  llvm::Value* s_h = e.Pow2(h);
  llvm::Value* far = e.Mul(e.Fma(em_adj, s_h, s_h), e.Pow2(b.CreateSub(n, h)));
  llvm::Value* y = e.Select(e.Gt(xc, e.F(16.0)), far, near);
  // The reduction turns -0 into +0.
  return e.Select(e.Eq(x, e.F(0.0)), x, y);
}

llvm::Value* EmitLog(llvm::IRBuilderBase& b, llvm::Value* x) {
  MathEmitter e(b, x->getType());
  // Subnormals: scale by 2^23 into the normal range first.
  llvm::Value* subnormal = e.Lt(x, e.F(0x1p-126));
  llvm::Value* xs = e.Select(subnormal, e.Mul(x, e.F(0x1p23)), x);
  llvm::Value *k, *m;
  SplitMantissa(e, xs, &k, &m);
  k = b.CreateSub(k, e.Select(subnormal, e.I(23), e.I(0)));
  llvm::Value* y = LogReduced(e, e.ToFloat(k), e.Sub(m, e.F(1.0)), nullptr);
  // 0 -> -inf, negative -> NaN, +inf and NaN -> themselves.
  llvm::Value* special =
      e.Select(e.Eq(x, e.F(0.0)), e.Inf(true), e.Select(e.Lt(x, e.F(0.0)), e.NaN(), x));
  llvm::Value* finite_positive = b.CreateAnd(e.Gt(x, e.F(0.0)), e.Lt(x, e.Inf()));
  return e.Select(finite_positive, y, special);
}

llvm::Value* EmitLog1p(llvm::IRBuilderBase& b, llvm::Value* x) {
  MathEmitter e(b, x->getType());
  llvm::Value* one = e.F(1.0);
  llvm::Value* u = e.Add(one, x);
  // u + c = 1 + x exactly (Fast2Sum, larger operand first).
  llvm::Value* c = e.Select(e.Gt(x, one), e.Add(e.Sub(x, u), one), e.Add(e.Sub(one, u), x));
  llvm::Value *k, *m;
  SplitMantissa(e, u, &k, &m);
  // k = 0: 1 + x is in [sqrt(1/2), sqrt(2)) and f = x exactly.
  llvm::Value* k_zero = b.CreateICmpEQ(k, e.I(0));
  llvm::Value* f = e.Select(k_zero, x, e.Sub(m, one));
  // Otherwise log(1 + x) = log(u) + c / u, c / u = c 2^-k / (1 + f); |c / u|
  // is below 2^-23 and the result above 0.34, so 1 / (1 + f) to 2% is ample.
  llvm::Value* k_capped = e.Select(b.CreateICmpSGT(k, e.I(64)), e.I(64), k);
  llvm::Value* inv = e.Poly(f, {1.0, -1.0, 1.0, -1.0, 1.0});
  llvm::Value* corr = e.Mul(e.Mul(c, e.Pow2(b.CreateNeg(k_capped))), inv);
  corr = e.Select(k_zero, e.F(0.0), corr);
  llvm::Value* y = LogReduced(e, e.ToFloat(k), f, corr);
  // -1 -> -inf, below -1 -> NaN, +inf and NaN -> themselves, ±0 -> ±0.
  llvm::Value* special =
      e.Select(e.Eq(x, e.F(-1.0)), e.Inf(true), e.Select(e.Lt(x, e.F(-1.0)), e.NaN(), x));
  llvm::Value* ordinary = b.CreateAnd(e.Gt(x, e.F(-1.0)), e.Lt(x, e.Inf()));
  y = e.Select(ordinary, y, special);
  return e.Select(e.Eq(x, e.F(0.0)), x, y);
}

}  // namespace kiln
