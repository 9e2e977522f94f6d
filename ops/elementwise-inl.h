// Highway loops shared by the elementwise ops (per-target code).
//
// An op file defines a functor `Fn` whose `operator()(d, v...)` computes one
// vector and instantiates a loop with it inside its own HWY_NAMESPACE block:
//
//   struct ExpFn {
//     template <class D, class V> V operator()(D d, V x) const { return hn::Exp(d, x); }
//   };
//   void ExpF32(const float* x, float* y, size_t n) { UnaryLoop(ExpFn(), x, y, n); }
//
// Tails use masked loads and blended stores, so nothing past `n` is written.
#if defined(KILN_OPS_ELEMENTWISE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KILN_OPS_ELEMENTWISE_INL_H_
#undef KILN_OPS_ELEMENTWISE_INL_H_
#else
#define KILN_OPS_ELEMENTWISE_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// p[0, count) in the first lanes, zeros after, reading nothing past
// p + count: Highway 1.0's MaskedLoad is a full aligned Load before AVX-512
// for some lane sizes (SSE4 faults on unaligned tails).
template <class D, typename T>
HWY_INLINE hn::Vec<D> LoadFirstN(D d, const T* HWY_RESTRICT p, size_t count) {
#if HWY_TARGET <= HWY_AVX3
  return hn::MaskedLoad(hn::FirstN(d, count), d, p);
#else
  HWY_ALIGN T buf[HWY_MAX_BYTES / sizeof(T)] = {};
  for (size_t i = 0; i < count; ++i) buf[i] = p[i];
  return hn::Load(d, buf);
#endif
}

// Lanes of `m` loaded from p, others zero. Highway 1.0.3's MaskedLoad is a
// full aligned load below AVX-512, so other targets load lane by lane.
template <class D, class M, typename T>
HWY_INLINE hn::Vec<D> SafeMaskedLoad(M m, D d, const T* HWY_RESTRICT p) {
#if HWY_TARGET <= HWY_AVX3
  return hn::MaskedLoad(m, d, p);
#else
  HWY_ALIGN T buf[HWY_MAX_BYTES / sizeof(T)] = {};
  uint8_t bits[(HWY_MAX_BYTES / sizeof(T) + 7) / 8] = {};
  hn::StoreMaskBits(d, m, bits);
  for (size_t i = 0; i < hn::Lanes(d); ++i) {
    if ((bits[i / 8] >> (i % 8)) & 1) buf[i] = p[i];
  }
  return hn::Load(d, buf);
#endif
}

// y[i] = fn(x[i]) for i in [0, n).
template <class Fn, typename T>
HWY_INLINE void UnaryLoop(Fn fn, const T* HWY_RESTRICT x, T* HWY_RESTRICT y,
                          size_t n) {
  const hn::ScalableTag<T> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(fn(d, hn::LoadU(d, x + i)), d, y + i);
  }
  if (i < n) {
    const auto mask = hn::FirstN(d, n - i);
    hn::BlendedStore(fn(d, LoadFirstN(d, x + i, n - i)), mask, d, y + i);
  }
}

// out[i] = fn(a[i or 0], b[i or 0]): an operand flagged scalar repeats its
// element 0 (the broadcast case of the driver in ops/elementwise.cc).
template <bool kAScalar, bool kBScalar, class Fn, typename T, typename TOut>
HWY_INLINE void BinaryLoopImpl(Fn fn, const T* HWY_RESTRICT a,
                               const T* HWY_RESTRICT b, TOut* HWY_RESTRICT out,
                               size_t n) {
  const hn::ScalableTag<T> d;
  const size_t lanes = hn::Lanes(d);
  const auto a0 = hn::Set(d, a[0]);
  const auto b0 = hn::Set(d, b[0]);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto va = kAScalar ? a0 : hn::LoadU(d, a + i);
    const auto vb = kBScalar ? b0 : hn::LoadU(d, b + i);
    fn.Store(d, fn(d, va, vb), out + i, lanes);
  }
  if (i < n) {
    const auto va = kAScalar ? a0 : LoadFirstN(d, a + i, n - i);
    const auto vb = kBScalar ? b0 : LoadFirstN(d, b + i, n - i);
    fn.Store(d, fn(d, va, vb), out + i, n - i);
  }
}

// Stores `count` (<= lanes) results of an arithmetic functor.
struct StoreSame {
  template <class D, class V, typename T>
  HWY_INLINE void Store(D d, V v, T* out, size_t count) const {
    if (count == hn::Lanes(d)) {
      hn::StoreU(v, d, out);
    } else {
      hn::BlendedStore(v, hn::FirstN(d, count), d, out);
    }
  }
};

// mode bit 0: `a` is a broadcast scalar; bit 1: `b` is.
template <class Fn, typename T, typename TOut>
HWY_INLINE void BinaryLoop(Fn fn, const T* a, const T* b, TOut* out, size_t n,
                           int mode) {
  switch (mode) {
    case 0: return BinaryLoopImpl<false, false>(fn, a, b, out, n);
    case 1: return BinaryLoopImpl<true, false>(fn, a, b, out, n);
    case 2: return BinaryLoopImpl<false, true>(fn, a, b, out, n);
    default: return BinaryLoopImpl<true, true>(fn, a, b, out, n);
  }
}

}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
