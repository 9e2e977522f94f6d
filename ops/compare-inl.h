// Highway pieces of the comparison ops (per-target code): the comparison
// functor returns a mask, StoreMaskAsBytes writes it as bool bytes (0 or 1).
#if defined(KILN_OPS_COMPARE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KILN_OPS_COMPARE_INL_H_
#undef KILN_OPS_COMPARE_INL_H_
#else
#define KILN_OPS_COMPARE_INL_H_
#endif

#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {

struct StoreMaskAsBytes {
  template <class D, class M>
  HWY_INLINE void Store(D d, M mask, uint8_t* out, size_t count) const {
    // A lane-count bitmask, expanded to bytes (8 bytes of bits cover 64 lanes).
    uint8_t bits[8] = {};
    hn::StoreMaskBits(d, mask, bits);
    for (size_t i = 0; i < count; ++i) out[i] = (bits[i / 8] >> (i % 8)) & 1;
  }
};

}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
