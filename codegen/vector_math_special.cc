// Vector math, part 2: tanh, erf and pow emitted as LLVM IR (see
// vector_math_internal.h for methods and measured errors).
//
//   llvm::Value* y = EmitPow(b, base, exponent);  // float or <N x float>
//
// tanh and erf coefficients are our own fits (minimax relative error, f32
// coefficients; the error of each fit alone is noted beside it). pow works
// in double with Taylor coefficients, exact up to the rounding of 2/(2j+1)
// and 1/j!.
#include "codegen/vector_math_internal.h"

#include <cstdint>

#include "codegen/vector_math-inl.h"

namespace kiln {

using vector_math_internal::ExpNormalRange;
using vector_math_internal::MathEmitter;

namespace {

// ln a in double for a double vector `a` (a > 0 finite; other values give
// garbage the caller replaces). |a| = 2^k m, m in [sqrt(1/2), sqrt(2)),
// s = (m - 1) / (m + 1), ln m = 2 atanh(s) = 2s + s^3 (2/3 + 2/5 s^2 + ...
// + 2/15 s^12); |s| <= 0.172 so the next term is below 4e-14 relative.
llvm::Value* LogDouble(MathEmitter& d, llvm::Value* a) {
  constexpr int64_t kSqrtHalfBits = 0x3fe6a09e667f3bcd;  // f64 sqrt(1/2)
  constexpr int64_t kOneBits = 0x3ff0000000000000;
  // fdlibm's split of ln2: 32 significant bits in the high part.
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  llvm::IRBuilderBase& b = d.b();
  llvm::Value* ix = b.CreateAdd(d.Bits(a), d.I(kOneBits - kSqrtHalfBits));
  llvm::Value* k = b.CreateSub(b.CreateLShr(ix, 52), d.I(1023));
  llvm::Value* m =
      d.FromBits(b.CreateAdd(b.CreateAnd(ix, d.I(0x000fffffffffffff)), d.I(kSqrtHalfBits)));
  llvm::Value* f = d.Sub(m, d.F(1.0));
  llvm::Value* s = d.Div(f, d.Add(f, d.F(2.0)));
  llvm::Value* s2 = d.Mul(s, s);
  llvm::Value* series =
      d.Poly(s2, {2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11, 2.0 / 13, 2.0 / 15});
  llvm::Value* ln_m = d.Fma(d.Mul(s, s2), series, d.Add(s, s));
  llvm::Value* kf = d.ToFloat(k);
  return d.Fma(kf, d.F(kLn2Hi), d.Fma(kf, d.F(kLn2Lo), ln_m));
}

// e^y in double for |y| <= 200 (NaN stays NaN): y = n ln2 + r, Taylor
// series of e^r to r^10/10! (|r| <= 0.347: truncation below 3e-13).
llvm::Value* ExpDouble(MathEmitter& d, llvm::Value* y) {
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  llvm::Value *n_float, *n;
  d.RoundToInt(y, d.F(1.44269504088896340736), &n_float, &n);
  llvm::Value* r = d.Fma(n_float, d.F(-kLn2Hi), y);
  r = d.Fma(n_float, d.F(-kLn2Lo), r);
  double c[11];
  c[0] = 1.0;
  for (int j = 1; j <= 10; ++j) c[j] = c[j - 1] / j;
  llvm::Value* p = d.Poly(r, {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]});
  return d.Mul(p, d.Pow2(n));
}

}  // namespace

llvm::Value* EmitTanh(llvm::IRBuilderBase& b, llvm::Value* x) {
  MathEmitter e(b, x->getType());
  llvm::Value* a = e.Abs(x);
  // |x| < 0.9: a + a^3 P(a^2), P of degree 6 (fit error 0.02 ulp).
  llvm::Value* z = e.Mul(a, a);
  llvm::Value* p = e.Poly(z, {-3.333332241e-01, 1.333298087e-01, -5.392947420e-02, 2.166409232e-02,
                              -8.265454322e-03, 2.583423164e-03, -4.557080974e-04});
  llvm::Value* small = e.Fma(e.Mul(a, z), p, a);
  // Above: 1 - 2 / (e^2a + 1); tanh rounds to 1 from 9.01 on. NaN stays NaN.
  llvm::Value* exp2a = ExpNormalRange(e, e.Mul(e.Min(a, 10.0), e.F(2.0)));
  llvm::Value* large = e.Sub(e.F(1.0), e.Div(e.F(2.0), e.Add(exp2a, e.F(1.0))));
  return e.CopySign(e.Select(e.Lt(a, e.F(0.9)), small, large), x);
}

llvm::Value* EmitErf(llvm::IRBuilderBase& b, llvm::Value* x) {
  MathEmitter e(b, x->getType());
  llvm::Value* a = e.Abs(x);
  // |x| < 1: a + a P(a^2), P of degree 6 (fit error 0.02 ulp).
  llvm::Value* p =
      e.Poly(e.Mul(a, a), {1.283791661e-01, -3.761262596e-01, 1.128357872e-01, -2.685334720e-02,
                           5.187162198e-03, -7.997853099e-04, 7.806903886e-05});
  llvm::Value* small = e.Fma(a, p, a);
  // Above: 1 - erfc, erfc(t) = e^-t^2 Q(t - 2.5), Q of degree 8 fitted to
  // erfc(t) e^(t^2) on [1, 4] (fit error 0.04 ulp of erf); erf rounds to 1
  // from 3.92 on. t^2 = hi + lo exactly and e^-lo = 1 - lo.
  llvm::Value* t = e.Min(a, 4.0);
  llvm::Value* q = e.Poly(e.Sub(t, e.F(2.5)), {2.108076513e-01, -7.434234768e-02, 2.491226420e-02,
                                               -8.137531579e-03, 2.301857341e-03, -6.504763733e-04,
                                               5.573148374e-04, 2.322407672e-04, 1.081908558e-04});
  llvm::Value* hi = e.Mul(t, t);
  llvm::Value* lo = e.Fma(t, t, b.CreateFNeg(hi));
  llvm::Value* erfc = e.Mul(ExpNormalRange(e, b.CreateFNeg(hi)), e.Fma(b.CreateFNeg(lo), q, q));
  llvm::Value* large = e.Sub(e.F(1.0), erfc);
  return e.CopySign(e.Select(e.Lt(a, e.F(1.0)), small, large), x);
}

llvm::Value* EmitPow(llvm::IRBuilderBase& b, llvm::Value* a, llvm::Value* x) {
  MathEmitter e(b, a->getType());
  MathEmitter d(b, a->getType()->getWithNewType(b.getDoubleTy()));
  // |a|^x = e^(x ln|a|) in double, rounded to f32 once at the end (which
  // also gives f32 subnormals, overflow and underflow).
  llvm::Value* ad = b.CreateFPExt(e.Abs(a), d.type());
  llvm::Value* xd = b.CreateFPExt(x, d.type());
  llvm::Value* ln = LogDouble(d, ad);
  // ln 0 = -inf, ln inf = inf, NaN stays NaN.
  llvm::Value* finite_positive = b.CreateAnd(d.Gt(ad, d.F(0.0)), d.Lt(ad, d.Inf()));
  ln = d.Select(finite_positive, ln, d.Select(d.Eq(ad, d.F(0.0)), d.Inf(true), ad));
  // |y| > 200 is far outside f32's range either way.
  llvm::Value* y = d.Max(d.Min(d.Mul(xd, ln), 200.0), -200.0);
  llvm::Value* r = b.CreateFPTrunc(ExpDouble(d, y), e.type());
  // Negative bases: an odd integer x keeps a's sign, a non-integer x has
  // no real root (NaN); -inf counts as a base with roots of every order.
  llvm::Value* floor_x = e.Floor(x);
  llvm::Value* x_int = e.Eq(floor_x, x);
  llvm::Value* half = e.Mul(x, e.F(0.5));
  llvm::Value* x_odd = b.CreateAnd(x_int, b.CreateFCmpUNE(e.Floor(half), half));
  r = e.Select(x_odd, e.CopySign(r, a), r);
  llvm::Value* negative_finite = b.CreateAnd(e.Lt(a, e.F(0.0)), e.Gt(a, e.Inf(true)));
  r = e.Select(b.CreateAnd(negative_finite, b.CreateFCmpUNE(floor_x, x)), e.NaN(), r);
  // a^0 = 1 and 1^x = 1 (even for NaN), (-1)^±inf = 1.
  llvm::Value* unit = b.CreateOr(b.CreateOr(e.Eq(x, e.F(0.0)), e.Eq(a, e.F(1.0))),
                                 b.CreateAnd(e.Eq(a, e.F(-1.0)), e.Eq(e.Abs(x), e.Inf())));
  return e.Select(unit, e.F(1.0), r);
}

}  // namespace kiln
