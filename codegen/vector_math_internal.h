// Vector math for the JIT: exp, expm1, log, log1p, tanh, erf and pow emitted
// inline as LLVM IR, so fused kernels never call scalar libm in a hot loop.
//
// Each function takes a `float` or `<N x float>` value (any N) and returns a
// value of the same type. The IR uses only instructions that vectorize:
// fadd/fsub/fmul/fdiv, llvm.fma, llvm.fabs, llvm.floor, llvm.copysign, fcmp,
// select, bitcast, integer add/and/shifts, sitofp, and (pow only)
// fpext/fptrunc to double. Polynomial coefficients are our own minimax fits
// (iterated weighted least squares, rounded to f32 term by term); the range
// reductions are the textbook ones (Cody-Waite for exp, exponent/mantissa
// split around sqrt(2) for log).
//
//   llvm::Value* x = b.CreateLoad(vec16, ptr);
//   llvm::Value* y = EmitTanh(b, x);   // <16 x float> in, <16 x float> out
//
// Fast-math flags: the emitted instructions carry none, whatever flags the
// builder has (they are restored on return); the special-value handling
// relies on that. Targets without FMA get llvm.fma as a libm call; every x86
// CPU with AVX2 or AVX-512 has FMA.
//
// Errors below are the maximum over every f32 input (exhaustive sweep;
// pow: 37 million pairs over all magnitudes), in ulp of the f32 spacing at
// the exact result, measured against the double-precision std:: functions
// with <16 x float> on AVX-512 (the scalar form gives identical bits).
// tests/codegen/vector_math_test.cc asserts them; its exhaustive sweep runs
// with KILN_VECTOR_MATH_EXHAUSTIVE=1. Throughput on this machine (Zen 5, data
// in cache, ns per element): exp 0.20, expm1 0.47, log 0.38, log1p 0.54,
// tanh 0.39, erf 0.47, pow 2.0. Special values follow C and the interpreter
// kernels in ops/: NaN in gives NaN out, results too large overflow to
// ±inf, results too small go through subnormals to 0.
//
// This header includes LLVM; only codegen/ and ops/ .cc files (and tests)
// may include it.
#ifndef KILN_CODEGEN_VECTOR_MATH_INTERNAL_H_
#define KILN_CODEGEN_VECTOR_MATH_INTERNAL_H_

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Value.h"

namespace kiln {

// e^x. x = n ln2 + r (n = rint(x / ln2), r by Cody-Waite with a two-part
// ln2), e^r = 1 + r + r^2 Q(r) with Q of degree 4, scaled by 2^n in two
// exact steps so subnormal results are rounded once. Max error 1.03 ulp.
// e^x overflows to +inf above 88.7228, is subnormal below -87.34 and 0
// below -103.97; -inf gives 0.
llvm::Value* EmitExp(llvm::IRBuilderBase& b, llvm::Value* x);

// e^x - 1, accurate near 0. |x| < ln2: x + x^2 Q(x), Q of degree 6;
// otherwise the reduction of EmitExp and 2^n (e^r - 1) + (2^n - 1) in one
// FMA (2^n - 1 is exact for n <= 24), above x = 16 2^n (e^r - 2^-n) in one
// FMA. Max error 1.02 ulp. ±0 keep their sign, subnormals give x, overflow
// gives +inf, x <= -17.33 gives -1.
llvm::Value* EmitExpm1(llvm::IRBuilderBase& b, llvm::Value* x);

// Natural logarithm. x = 2^k m with m in [sqrt(1/2), sqrt(2)) (subnormals
// scaled by 2^23 first), f = m - 1 exactly, log(1 + f) = f - f^2/2 +
// f^3 P(f) with P of degree 7, plus k ln2 in two parts. Max error 0.92 ulp.
// log(±0) = -inf, log(x < 0) = NaN, log(+inf) = +inf.
llvm::Value* EmitLog(llvm::IRBuilderBase& b, llvm::Value* x);

// log(1 + x), accurate near 0. u = 1 + x is reduced as in EmitLog; the
// rounding error c of u (exact, by Fast2Sum) enters as c / u, with 1/u from
// 2^-k and a short series in f (it only needs a few bits). Where k = 0 the
// polynomial runs on x itself. Max error 0.99 ulp. log1p(-1) = -inf,
// log1p(x < -1) = NaN, log1p(+inf) = +inf, ±0 keep their sign.
llvm::Value* EmitLog1p(llvm::IRBuilderBase& b, llvm::Value* x);

// Hyperbolic tangent, odd by construction (computed on |x|, sign copied
// back). |x| < 0.9: x + x^3 P(x^2), P of degree 6; above: 1 - 2 / (e^2|x| +
// 1) with |x| clamped to 10 (tanh is 1 in f32 from 9.01 on). Max error
// 0.99 ulp. ±inf give ±1, ±0 keep their sign.
llvm::Value* EmitTanh(llvm::IRBuilderBase& b, llvm::Value* x);

// Error function, odd by construction. |x| < 1: x + x P(x^2), P of degree
// 6; above: 1 - e^-x^2 Q(|x| - 2.5) with Q of degree 8 fitted to
// erfc(x) e^(x^2) on [1, 4], |x| clamped to 4 (erf is 1 in f32 from 3.92 on)
// and x^2 split exactly in two with an FMA. Max error 0.99 ulp. ±inf give
// ±1, ±0 keep their sign.
llvm::Value* EmitErf(llvm::IRBuilderBase& b, llvm::Value* x);

// a^x. |a|^x = e^(x log|a|) evaluated in double precision (log by the
// atanh series, exp by Cody-Waite and Taylor, both to ~1e-12 relative), so
// the one rounding to f32 dominates: max error 0.50 ulp over the whole
// range, including subnormal and overflowing results; about 5x the cost of
// exp (two <8 x double> halves per <16 x float>, one double division). Special values as C's
// pow and ops/pow.cc: a^±0 = 1 and 1^x = 1 (even for NaN), (-1)^±inf = 1,
// ±0^x is ±0 / +0 for x > 0 and ±inf / +inf for x < 0 (odd integer x keeps
// the sign), a negative finite base gives ±|a|^x for integer x and NaN
// otherwise, infinities as in C.
llvm::Value* EmitPow(llvm::IRBuilderBase& b, llvm::Value* a, llvm::Value* x);

}  // namespace kiln

#endif  // KILN_CODEGEN_VECTOR_MATH_INTERNAL_H_
