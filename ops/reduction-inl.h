// Highway loops of the reductions (per-target code). A combiner functor has
// `Identity(d)` and `operator()(d, acc, v)`; `Reduce(d, v)` folds lanes.
//
//   RowReduce(SumFn(), x, r, out): out = sum of x[0..r)
//   ColumnReduce(SumFn(), x, r, stride, inner, out): out[i] = sum_j x[j * stride + i]
#if defined(KILN_OPS_REDUCTION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KILN_OPS_REDUCTION_INL_H_
#undef KILN_OPS_REDUCTION_INL_H_
#else
#define KILN_OPS_REDUCTION_INL_H_
#endif

#include <cstddef>

#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One output from r contiguous floats, with four vector accumulators.
template <class Fn>
HWY_INLINE float RowReduce(Fn fn, const float* HWY_RESTRICT x, size_t r) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto a0 = fn.Identity(d), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 4 * lanes <= r; i += 4 * lanes) {
    a0 = fn(d, a0, hn::LoadU(d, x + i));
    a1 = fn(d, a1, hn::LoadU(d, x + i + lanes));
    a2 = fn(d, a2, hn::LoadU(d, x + i + 2 * lanes));
    a3 = fn(d, a3, hn::LoadU(d, x + i + 3 * lanes));
  }
  for (; i + lanes <= r; i += lanes) a0 = fn(d, a0, hn::LoadU(d, x + i));
  if (i < r) {
    const auto mask = hn::FirstN(d, r - i);
    a1 = fn(d, a1, hn::IfThenElse(mask, LoadFirstN(d, x + i, r - i), fn.Identity(d)));
  }
  return hn::GetLane(fn.Reduce(d, fn(d, fn(d, a0, a1), fn(d, a2, a3))));
}

// `inner` outputs, each combining r rows of a [r, stride] block's first
// `inner` columns.
template <class Fn>
HWY_INLINE void ColumnReduce(Fn fn, const float* HWY_RESTRICT x, size_t r,
                             size_t stride, size_t inner,
                             float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= inner; i += lanes) {
    auto acc = fn.Identity(d);
    for (size_t j = 0; j < r; ++j) acc = fn(d, acc, hn::LoadU(d, x + j * stride + i));
    hn::StoreU(acc, d, out + i);
  }
  if (i < inner) {
    const auto mask = hn::FirstN(d, inner - i);
    auto acc = fn.Identity(d);
    for (size_t j = 0; j < r; ++j) {
      acc = fn(d, acc, hn::IfThenElse(mask, LoadFirstN(d, x + j * stride + i, inner - i),
                                      fn.Identity(d)));
    }
    hn::BlendedStore(acc, mask, d, out + i);
  }
}

}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
