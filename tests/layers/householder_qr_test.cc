// HouseholderQr (layers/householder_qr.h): Q R reproduces A, Q has
// orthonormal columns, R is upper triangular, for tall, square, degenerate
// and empty matrices.
#include "layers/householder_qr.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace kiln {
namespace {

void ExpectValidQr(const std::vector<double>& a, int64_t m, int64_t n) {
  const QrFactors f = HouseholderQr(a, m, n);
  ASSERT_EQ(f.q.size(), static_cast<size_t>(m * n));
  ASSERT_EQ(f.r.size(), static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < i; ++k) EXPECT_EQ(f.r[i * n + k], 0.0) << "R(" << i << "," << k << ")";
  }
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t k = 0; k < n; ++k) {
      double qr = 0;
      for (int64_t j = 0; j < n; ++j) qr += f.q[i * n + j] * f.r[j * n + k];
      EXPECT_NEAR(qr, a[i * n + k], 1e-12 * (1 + std::abs(a[i * n + k])));
    }
  }
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t k = 0; k < n; ++k) {
      double dot = 0;
      for (int64_t i = 0; i < m; ++i) dot += f.q[i * n + j] * f.q[i * n + k];
      EXPECT_NEAR(dot, j == k ? 1.0 : 0.0, 1e-12) << j << "," << k;
    }
  }
}

std::vector<double> RandomMatrix(int64_t m, int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-3, 3);
  std::vector<double> a(m * n);
  for (double& v : a) v = u(rng);
  return a;
}

TEST(HouseholderQrTest, TallAndSquareRandomMatrices) {
  ExpectValidQr(RandomMatrix(1, 1, 1), 1, 1);
  ExpectValidQr(RandomMatrix(4, 4, 2), 4, 4);
  ExpectValidQr(RandomMatrix(9, 3, 3), 9, 3);
  ExpectValidQr(RandomMatrix(50, 20, 4), 50, 20);
  ExpectValidQr(RandomMatrix(7, 1, 5), 7, 1);
}

TEST(HouseholderQrTest, KnownSmallFactorisation) {
  // A = [[3, 1], [4, 2]]: |col0| = 5, so |R(0,0)| = 5 and |R(1,1)| = 2/5.
  const QrFactors f = HouseholderQr({3, 1, 4, 2}, 2, 2);
  EXPECT_NEAR(std::abs(f.r[0]), 5.0, 1e-14);
  EXPECT_NEAR(std::abs(f.r[3]), 0.4, 1e-14);
  EXPECT_NEAR(std::abs(f.q[0]), 0.6, 1e-14);
  EXPECT_NEAR(std::abs(f.q[2]), 0.8, 1e-14);
}

TEST(HouseholderQrTest, ZeroColumnsAndEmptyMatrices) {
  // Column 1 is zero: R(1,1) = 0 and the factorisation still holds.
  std::vector<double> a = {1, 0, 2, 2, 0, 1, 3, 0, 5};
  ExpectValidQr(a, 3, 3);
  EXPECT_EQ(HouseholderQr(a, 3, 3).r[4], 0.0);
  ExpectValidQr(std::vector<double>(12, 0.0), 4, 3);
  const QrFactors empty = HouseholderQr({}, 5, 0);
  EXPECT_TRUE(empty.q.empty());
  EXPECT_TRUE(empty.r.empty());
}

}  // namespace
}  // namespace kiln
