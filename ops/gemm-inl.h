// Highway GEMM (per-target code): C = A * B on f32 with strided operands.
//
// Blocked the classic way: the output is cut into tiles of kGemmMc x kGemmNc
// (the unit of parallel work); inside a tile, K is walked in steps of
// kGemmKc, A and B are packed into panels of kGemmMr rows / two vectors of
// columns (zero-filled at the edges), and a register micro-kernel
// broadcasts A and does vector FMAs over N. Every C element is summed in the
// same order (k blocks in turn), whatever tiles run on which thread.
//
//   GemmOperand a{ptr, /*row_stride=*/K, /*col_stride=*/1};  // row-major [M, K]
//   GemmTile(a, b, c, ldc, i0, j0, m, n, k, scratch);         // C[i0.., j0..]

// Blocking, the same for every target (callers count tiles with it).
#ifndef KILN_OPS_GEMM_BLOCKING_
#define KILN_OPS_GEMM_BLOCKING_
#include <cstdint>
namespace kiln {
inline constexpr int64_t kGemmMr = 6;    // rows of the micro-kernel
inline constexpr int64_t kGemmMc = 96;   // rows of a tile (a multiple of kGemmMr)
inline constexpr int64_t kGemmNc = 512;  // columns of a tile (a multiple of 2 vectors)
inline constexpr int64_t kGemmKc = 256;  // depth of one packed block
}  // namespace kiln
#endif

#if defined(KILN_OPS_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef KILN_OPS_GEMM_INL_H_
#undef KILN_OPS_GEMM_INL_H_
#else
#define KILN_OPS_GEMM_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hwy/highway.h"
#include "ops/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Element (r, c) of a matrix view is data[r * row_stride + c * col_stride];
// transposes are views with the strides swapped.
struct GemmOperand {
  const float* data;
  int64_t row_stride, col_stride;
  float at(int64_t r, int64_t c) const { return data[r * row_stride + c * col_stride]; }
};

// kGemmMr x 2 vectors of C from packed panels pa [kc][kGemmMr] and
// pb [kc][2 * lanes]; stores `rows` x `cols` of them, adding to C when
// `accumulate`.
template <class D>
HWY_INLINE void GemmMicroKernel(D d, const float* HWY_RESTRICT pa, const float* HWY_RESTRICT pb,
                                int64_t kc, float* c, int64_t ldc, int64_t rows, int64_t cols,
                                bool accumulate) {
  const size_t N = hn::Lanes(d);
  auto c00 = hn::Zero(d), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  auto c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t p = 0; p < kc; ++p) {
    const auto b0 = hn::LoadU(d, pb + p * 2 * N);
    const auto b1 = hn::LoadU(d, pb + p * 2 * N + N);
    const float* a = pa + p * kGemmMr;
    auto av = hn::Set(d, a[0]);
    c00 = hn::MulAdd(av, b0, c00);
    c01 = hn::MulAdd(av, b1, c01);
    av = hn::Set(d, a[1]);
    c10 = hn::MulAdd(av, b0, c10);
    c11 = hn::MulAdd(av, b1, c11);
    av = hn::Set(d, a[2]);
    c20 = hn::MulAdd(av, b0, c20);
    c21 = hn::MulAdd(av, b1, c21);
    av = hn::Set(d, a[3]);
    c30 = hn::MulAdd(av, b0, c30);
    c31 = hn::MulAdd(av, b1, c31);
    av = hn::Set(d, a[4]);
    c40 = hn::MulAdd(av, b0, c40);
    c41 = hn::MulAdd(av, b1, c41);
    av = hn::Set(d, a[5]);
    c50 = hn::MulAdd(av, b0, c50);
    c51 = hn::MulAdd(av, b1, c51);
  }
  const hn::Vec<D> acc[kGemmMr][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                                      {c30, c31}, {c40, c41}, {c50, c51}};
  const size_t n0 = static_cast<size_t>(std::min<int64_t>(cols, N));
  const size_t n1 = static_cast<size_t>(std::max<int64_t>(cols - N, 0));
  const auto m0 = hn::FirstN(d, n0), m1 = hn::FirstN(d, n1);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    auto v0 = acc[r][0], v1 = acc[r][1];
    if (accumulate) {
      v0 = hn::Add(SafeMaskedLoad(m0, d, row), v0);
      v1 = hn::Add(SafeMaskedLoad(m1, d, row + N), v1);
    }
    if (n0 == N) {
      hn::StoreU(v0, d, row);
    } else {
      hn::BlendedStore(v0, m0, d, row);
    }
    if (n1 == N) {
      hn::StoreU(v1, d, row + N);
    } else if (n1 > 0) {
      hn::BlendedStore(v1, m1, d, row + N);
    }
  }
}

// C[i0 + i, j0 + j] = sum_p A[i0 + i, p] * B[p, j0 + j] for i < m, j < n
// (m <= kGemmMc, n <= kGemmNc), with C row-major of row stride ldc.
// `scratch` holds the packed panels and is reused across calls.
inline void GemmTile(const GemmOperand& a, const GemmOperand& b, float* c, int64_t ldc,
                     int64_t i0, int64_t j0, int64_t m, int64_t n, int64_t k,
                     std::vector<float>& scratch) {
  const hn::ScalableTag<float> d;
  const int64_t nr = 2 * hn::Lanes(d);
  const int64_t m_panels = (m + kGemmMr - 1) / kGemmMr, n_panels = (n + nr - 1) / nr;
  float* out = c + i0 * ldc + j0;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill_n(out + i * ldc, n, 0.0f);
    return;
  }
  scratch.resize((m_panels * kGemmMr + n_panels * nr) * kGemmKc);
  float* pa = scratch.data();
  float* pb = pa + m_panels * kGemmMr * kGemmKc;
  for (int64_t p0 = 0; p0 < k; p0 += kGemmKc) {
    const int64_t kc = std::min(kGemmKc, k - p0);
    for (int64_t ip = 0; ip < m_panels; ++ip) {  // A panels: [kc][kGemmMr]
      float* panel = pa + ip * kc * kGemmMr;
      for (int64_t r = 0; r < kGemmMr; ++r) {
        const int64_t i = ip * kGemmMr + r;
        for (int64_t p = 0; p < kc; ++p) {
          panel[p * kGemmMr + r] = i < m ? a.at(i0 + i, p0 + p) : 0.0f;
        }
      }
    }
    for (int64_t jp = 0; jp < n_panels; ++jp) {  // B panels: [kc][nr]
      float* panel = pb + jp * kc * nr;
      const int64_t cols = std::min(nr, n - jp * nr);
      for (int64_t p = 0; p < kc; ++p) {
        float* dst = panel + p * nr;
        for (int64_t j = 0; j < cols; ++j) dst[j] = b.at(p0 + p, j0 + jp * nr + j);
        std::fill(dst + cols, dst + nr, 0.0f);
      }
    }
    for (int64_t ip = 0; ip < m_panels; ++ip) {
      for (int64_t jp = 0; jp < n_panels; ++jp) {
        GemmMicroKernel(d, pa + ip * kc * kGemmMr, pb + jp * kc * nr, kc,
                        out + ip * kGemmMr * ldc + jp * nr, ldc,
                        std::min(kGemmMr, m - ip * kGemmMr), std::min(nr, n - jp * nr), p0 > 0);
      }
    }
  }
}

}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
