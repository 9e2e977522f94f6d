#include "graph/buffer.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace kiln {

void internal::BufferDeleter::operator()(void* p) const {
  if (owned) std::free(p);
}

Buffer Buffer::View(DType dtype, Shape shape, void* data) {
  KILN_CHECK_MSG(shape.IsConcrete(), "a Buffer needs a concrete shape");
  Buffer b;
  b.dtype_ = dtype;
  b.shape_ = std::move(shape);
  b.num_elements_ = b.shape_.NumElements();
  b.data_ = std::unique_ptr<void, internal::BufferDeleter>(data, internal::BufferDeleter{.owned = false});
  return b;
}

Buffer::Buffer(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)) {
  KILN_CHECK_MSG(shape_.IsConcrete(), "a Buffer needs a concrete shape");
  num_elements_ = shape_.NumElements();
  // Round up so that vector tails may read (not write) past the end safely.
  size_t bytes = std::max<size_t>(num_elements_ * DTypeSize(dtype_), 1);
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  data_.reset(std::aligned_alloc(kAlignment, bytes));
  KILN_CHECK_MSG(data_ != nullptr, "out of memory");
}

Buffer Buffer::Zeros(DType dtype, Shape shape) {
  Buffer b(dtype, std::move(shape));
  std::memset(b.raw(), 0, b.size_bytes());
  return b;
}

Buffer Buffer::Scalar(DType dtype, double value) {
  Buffer b(dtype, Shape{});
  b.SetFromDouble(0, value);
  return b;
}

Buffer Buffer::Clone() const {
  if (data_ == nullptr) return Buffer();
  Buffer b(dtype_, shape_);
  std::memcpy(b.raw(), raw(), size_bytes());
  return b;
}

double Buffer::GetAsDouble(int64_t i) const {
  return VisitDType(dtype_, [&](auto zero) {
    return static_cast<double>(data<decltype(zero)>()[i]);
  });
}

void Buffer::SetFromDouble(int64_t i, double v) {
  VisitDType(dtype_, [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, uint8_t>) {
      data<T>()[i] = v != 0.0;
    } else {
      data<T>()[i] = static_cast<T>(v);
    }
  });
}

bool Buffer::BitwiseEquals(const Buffer& other) const {
  return dtype_ == other.dtype_ && shape_ == other.shape_ &&
         std::memcmp(raw(), other.raw(), size_bytes()) == 0;
}

std::string Buffer::ToString(bool full) const {
  std::string out = absl::StrCat(DTypeName(dtype_), shape_.ToString(), "{");
  const int64_t limit = full ? num_elements_ : std::min<int64_t>(num_elements_, 16);
  for (int64_t i = 0; i < limit; ++i) {
    if (i > 0) out += ",";
    absl::StrAppend(&out, GetAsDouble(i));
  }
  if (limit < num_elements_) out += ",...";
  out += "}";
  return out;
}

}  // namespace kiln
