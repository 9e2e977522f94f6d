// The Philox-4x32-10 rounds (see ops/philox.h), written once for any
// arithmetic: per-target code, so Highway vectors can use them as well as
// plain uint32_t. An `Arith` supplies the lane type V and
//   MulHiLo(x, m, &hi, &lo)   32 x 32 -> 64-bit product of each lane with m
//   Xor(a, b)                 bitwise xor
//   AddWrapped(k, w)          k + w mod 2^32
//
//   uint32_t c0 = ..., c1, c2, c3;
//   PhiloxRounds(ScalarPhiloxArith(), c0, c1, c2, c3, key0, key1);
#if defined(KILN_OPS_PHILOX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KILN_OPS_PHILOX_INL_H_
#undef KILN_OPS_PHILOX_INL_H_
#else
#define KILN_OPS_PHILOX_INL_H_
#endif

#include <cstdint>

#include "hwy/highway.h"
#include "ops/philox.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {

// Runs the 10 rounds on the counter words c0..c3 in place, with key k0, k1.
template <class Arith, class V>
HWY_INLINE void PhiloxRounds(const Arith& a, V& c0, V& c1, V& c2, V& c3, V k0, V k1) {
  for (int round = 0; round < kPhiloxRounds; ++round) {
    if (round > 0) {
      k0 = a.AddWrapped(k0, kPhiloxW0);
      k1 = a.AddWrapped(k1, kPhiloxW1);
    }
    V hi0, lo0, hi1, lo1;
    a.MulHiLo(c0, kPhiloxM0, &hi0, &lo0);
    a.MulHiLo(c2, kPhiloxM1, &hi1, &lo1);
    const V next0 = a.Xor(a.Xor(hi1, c1), k0);
    const V next2 = a.Xor(a.Xor(hi0, c3), k1);
    c0 = next0;
    c1 = lo1;
    c2 = next2;
    c3 = lo0;
  }
}

struct ScalarPhiloxArith {
  HWY_INLINE void MulHiLo(uint32_t x, uint32_t m, uint32_t* hi, uint32_t* lo) const {
    const uint64_t p = uint64_t{x} * m;
    *hi = static_cast<uint32_t>(p >> 32);
    *lo = static_cast<uint32_t>(p);
  }
  HWY_INLINE uint32_t Xor(uint32_t a, uint32_t b) const { return a ^ b; }
  HWY_INLINE uint32_t AddWrapped(uint32_t k, uint32_t w) const { return k + w; }
};

}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
