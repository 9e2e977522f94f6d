#include "ops/strided_copy.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace kiln {
namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per parallel chunk, at least
constexpr int64_t kTile = 16;         // side of a transposition tile

// The copy's index space after dropping size-1 dimensions and merging
// dimensions that are contiguous on both sides.
struct Plan {
  std::vector<int64_t> dims, src, dst;
};

Plan Simplify(const std::vector<int64_t>& dims, const std::vector<int64_t>& ss,
              const std::vector<int64_t>& ds) {
  Plan p;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 1) continue;
    if (!p.dims.empty() && p.src.back() == ss[i] * dims[i] &&
        p.dst.back() == ds[i] * dims[i]) {
      p.dims.back() *= dims[i];
      p.src.back() = ss[i];
      p.dst.back() = ds[i];
    } else {
      p.dims.push_back(dims[i]);
      p.src.push_back(ss[i]);
      p.dst.push_back(ds[i]);
    }
  }
  if (p.dims.empty()) p = {{1}, {1}, {1}};
  return p;
}

// Source and destination offsets of consecutive positions of a row-major
// index space (an odometer), starting at position `start`.
class Walker {
 public:
  Walker(std::vector<int64_t> dims, std::vector<int64_t> ss,
         std::vector<int64_t> ds, int64_t start)
      : dims_(std::move(dims)), ss_(std::move(ss)), ds_(std::move(ds)),
        coord_(dims_.size(), 0) {
    for (int k = static_cast<int>(dims_.size()) - 1; k >= 0; --k) {
      coord_[k] = start % dims_[k];
      start /= dims_[k];
      src_ += coord_[k] * ss_[k];
      dst_ += coord_[k] * ds_[k];
    }
  }
  int64_t src() const { return src_; }
  int64_t dst() const { return dst_; }
  void Next() {
    for (int k = static_cast<int>(dims_.size()) - 1; k >= 0; --k) {
      src_ += ss_[k];
      dst_ += ds_[k];
      if (++coord_[k] < dims_[k]) return;
      src_ -= ss_[k] * dims_[k];
      dst_ -= ds_[k] * dims_[k];
      coord_[k] = 0;
    }
  }

 private:
  std::vector<int64_t> dims_, ss_, ds_, coord_;
  int64_t src_ = 0, dst_ = 0;
};

int64_t Product(const std::vector<int64_t>& v) {
  int64_t n = 1;
  for (int64_t d : v) n *= d;
  return n;
}

template <typename T>
void CopyTyped(const T* src, T* dst, const Plan& p, const Parallelism& parallel) {
  const int last = static_cast<int>(p.dims.size()) - 1;
  const int64_t inner = p.dims[last];
  const int64_t s_in = p.src[last], d_in = p.dst[last];
  std::vector<int64_t> od(p.dims.begin(), p.dims.end() - 1);
  std::vector<int64_t> os(p.src.begin(), p.src.end() - 1);
  std::vector<int64_t> odst(p.dst.begin(), p.dst.end() - 1);
  const int64_t row_grain = std::max<int64_t>(1, kGrain / inner);

  // The dimension read contiguously, when the inner one is not.
  int k = -1;
  for (int i = 0; i < last; ++i) {
    if (p.src[i] == 1) k = i;
  }
  if (s_in == 1 && d_in == 1) {  // contiguous rows
    parallel.For(Product(od), row_grain, [&](int64_t b, int64_t e) {
      Walker w(od, os, odst, b);
      for (int64_t r = b; r < e; ++r, w.Next()) {
        std::memcpy(dst + w.dst(), src + w.src(), inner * sizeof(T));
      }
    });
  } else if (d_in == 1 && k >= 0) {  // a transposition: square tiles
    const int64_t kdim = p.dims[k], ks = p.dst[k];
    std::vector<int64_t> td, ts, tdst;
    for (int i = 0; i < last; ++i) {
      if (i == k) continue;
      td.push_back(p.dims[i]);
      ts.push_back(p.src[i]);
      tdst.push_back(p.dst[i]);
    }
    const int64_t blocks = (kdim + kTile - 1) / kTile;
    const int64_t grain = std::max<int64_t>(1, kGrain / (kTile * inner));
    parallel.For(Product(td) * blocks, grain, [&](int64_t b, int64_t e) {
      for (int64_t item = b; item < e; ++item) {
        const Walker w(td, ts, tdst, item / blocks);
        const T* s = src + w.src();
        T* d = dst + w.dst();
        const int64_t k0 = (item % blocks) * kTile;
        const int64_t k1 = std::min(kdim, k0 + kTile);
        for (int64_t j0 = 0; j0 < inner; j0 += kTile) {
          const int64_t j1 = std::min(inner, j0 + kTile);
          for (int64_t kk = k0; kk < k1; ++kk) {
            for (int64_t j = j0; j < j1; ++j) d[kk * ks + j] = s[kk + j * s_in];
          }
        }
      }
    });
  } else {  // general strides: element by element along the inner dimension
    parallel.For(Product(od), row_grain, [&](int64_t b, int64_t e) {
      Walker w(od, os, odst, b);
      for (int64_t r = b; r < e; ++r, w.Next()) {
        const T* s = src + w.src();
        T* d = dst + w.dst();
        for (int64_t j = 0; j < inner; ++j) d[j * d_in] = s[j * s_in];
      }
    });
  }
}

}  // namespace

void StridedCopy(const void* src, void* dst, size_t elem_size,
                 std::vector<int64_t> dims, std::vector<int64_t> src_strides,
                 std::vector<int64_t> dst_strides, const Parallelism& parallel) {
  for (int64_t d : dims) {
    if (d == 0) return;
  }
  const Plan p = Simplify(dims, src_strides, dst_strides);
  switch (elem_size) {
    case 1:
      return CopyTyped(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), p,
                       parallel);
    case 4:
      return CopyTyped(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), p,
                       parallel);
    case 8:
      return CopyTyped(static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), p,
                       parallel);
    default:
      KILN_CHECK_MSG(false, "StridedCopy: unsupported element size");
  }
}

namespace {

template <typename T>
void FillTyped(T* dst, int64_t n, const void* value, const Parallelism& parallel) {
  T v;
  std::memcpy(&v, value, sizeof(T));
  parallel.For(n, kGrain, [&](int64_t b, int64_t e) { std::fill(dst + b, dst + e, v); });
}

}  // namespace

void FillElements(void* dst, int64_t n, const void* value, size_t elem_size,
                  const Parallelism& parallel) {
  switch (elem_size) {
    case 1: return FillTyped(static_cast<uint8_t*>(dst), n, value, parallel);
    case 4: return FillTyped(static_cast<uint32_t*>(dst), n, value, parallel);
    case 8: return FillTyped(static_cast<uint64_t*>(dst), n, value, parallel);
    default: KILN_CHECK_MSG(false, "FillElements: unsupported element size");
  }
}

absl::StatusOr<std::vector<char>> ElementBytes(DType dtype, double value) {
  auto bytes_of = [](auto v) {
    std::vector<char> b(sizeof(v));
    std::memcpy(b.data(), &v, sizeof(v));
    return b;
  };
  auto not_representable = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "value ", value, " is not representable in ", DTypeName(dtype)));
  };
  switch (dtype) {
    case DType::kF32:
      return bytes_of(static_cast<float>(value));
    case DType::kI32:
      if (!(value == std::trunc(value) && value >= -2147483648.0 && value <= 2147483647.0)) {
        return not_representable();
      }
      return bytes_of(static_cast<int32_t>(value));
    case DType::kI64:
      if (!(value == std::trunc(value) && value >= -9223372036854775808.0 &&
            value < 9223372036854775808.0)) {
        return not_representable();
      }
      return bytes_of(static_cast<int64_t>(value));
    case DType::kBool:
      if (value != 0.0 && value != 1.0) return not_representable();
      return bytes_of(static_cast<uint8_t>(value));
  }
  return not_representable();
}

}  // namespace kiln
