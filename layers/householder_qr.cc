#include "layers/householder_qr.h"

#include <cmath>
#include <cstddef>
#include <vector>

#include "graph/status_macros.h"

namespace kiln {
namespace {

// Reflects column `col` (rows from `j`) by H = I - 2 v v^T, |v| = 1.
void Reflect(const std::vector<double>& v, int64_t j, double* col) {
  double dot = 0;
  for (size_t i = 0; i < v.size(); ++i) dot += v[i] * col[j + i];
  dot *= 2;
  for (size_t i = 0; i < v.size(); ++i) col[j + i] -= dot * v[i];
}

}  // namespace

QrFactors HouseholderQr(const std::vector<double>& a, int64_t m, int64_t n) {
  KILN_CHECK_MSG(m >= n && n >= 0 && static_cast<int64_t>(a.size()) == m * n,
                 "HouseholderQr needs an m x n matrix with m >= n");
  // Column-major copy: every reflection works down contiguous columns.
  std::vector<double> work(a.size());
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t k = 0; k < n; ++k) work[k * m + i] = a[i * n + k];
  }
  // reflectors[j] is empty when column j is already zero below the diagonal
  // and on it (H = I).
  std::vector<std::vector<double>> reflectors(n);
  std::vector<double> diag(n, 0.0);
  for (int64_t j = 0; j < n; ++j) {
    double* col = &work[j * m];
    double norm2 = 0;
    for (int64_t i = j; i < m; ++i) norm2 += col[i] * col[i];
    const double norm = std::sqrt(norm2);
    if (norm == 0) continue;
    // alpha = -sign(x0) |x| avoids cancellation in v = x - alpha e1.
    const double alpha = col[j] >= 0 ? -norm : norm;
    std::vector<double> v(col + j, col + m);
    v[0] -= alpha;
    double vnorm2 = 0;
    for (double e : v) vnorm2 += e * e;
    const double vnorm = std::sqrt(vnorm2);
    for (double& e : v) e /= vnorm;
    for (int64_t k = j; k < n; ++k) Reflect(v, j, &work[k * m]);
    diag[j] = alpha;
    reflectors[j] = std::move(v);
  }

  QrFactors f;
  f.m = m;
  f.n = n;
  f.r.assign(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = i; k < n; ++k) f.r[i * n + k] = work[k * m + i];
    f.r[i * n + i] = reflectors[i].empty() ? work[i * m + i] : diag[i];
  }
  // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of I.
  std::vector<double> q(m * n, 0.0);  // column-major
  for (int64_t k = 0; k < n; ++k) q[k * m + k] = 1.0;
  for (int64_t j = n - 1; j >= 0; --j) {
    if (reflectors[j].empty()) continue;
    for (int64_t k = j; k < n; ++k) Reflect(reflectors[j], j, &q[k * m]);
  }
  f.q.resize(m * n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t k = 0; k < n; ++k) f.q[i * n + k] = q[k * m + i];
  }
  return f;
}

}  // namespace kiln
