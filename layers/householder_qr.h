// Reduced QR factorisation by Householder reflections, in double: the linear
// algebra behind the Orthogonal initializer (spec section 3.4).
//
//   // A is 3x2, row-major.
//   QrFactors f = HouseholderQr({1, 2, 3, 4, 5, 6}, 3, 2);
//   // f.q is 3x2 with orthonormal columns, f.r is 2x2 upper triangular,
//   // and f.q * f.r == A up to rounding.
//
// Signs follow the Householder convention (diag(R) may be negative); callers
// that want the unique factorisation with diag(R) >= 0 flip columns of Q by
// sign(diag(R)), as the Orthogonal initializer does.
#ifndef KILN_LAYERS_HOUSEHOLDER_QR_H_
#define KILN_LAYERS_HOUSEHOLDER_QR_H_

#include <cstdint>
#include <vector>

namespace kiln {

struct QrFactors {
  int64_t m = 0, n = 0;
  std::vector<double> q;  // m x n, row-major, orthonormal columns
  std::vector<double> r;  // n x n, row-major, upper triangular
};

// Reduced QR of the row-major m x n matrix `a`; requires m >= n >= 0 and
// a.size() == m * n (kiln's own invariant: checked).
QrFactors HouseholderQr(const std::vector<double>& a, int64_t m, int64_t n);

}  // namespace kiln

#endif  // KILN_LAYERS_HOUSEHOLDER_QR_H_
