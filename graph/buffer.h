// Host memory for one concrete tensor: dtype, shape and 64-byte-aligned data.
//
// Buffers are move-only owners; Clone() copies. Kernels read and write them
// through typed spans:
//
//   Buffer b = Buffer::FromVector<float>(Shape{2, 2}, {1, 2, 3, 4});
//   b.data<float>()[3] == 4.0f;  b.GetAsDouble(0) == 1.0
#ifndef KILN_GRAPH_BUFFER_H_
#define KILN_GRAPH_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "graph/dtype.h"
#include "graph/shape.h"
#include "graph/status_macros.h"

namespace kiln {

namespace internal {
// Frees owned buffer memory; views own nothing.
struct BufferDeleter {
  bool owned = true;
  void operator()(void* p) const;
};
}  // namespace internal

class Buffer {
 public:
  static constexpr size_t kAlignment = 64;

  Buffer() = default;
  // Uninitialized storage for a concrete shape.
  Buffer(DType dtype, Shape shape);
  static Buffer Zeros(DType dtype, Shape shape);
  template <typename T>
  static Buffer FromVector(Shape shape, const std::vector<T>& values);
  static Buffer Scalar(DType dtype, double value);
  // A buffer over memory it does not own (an arena slot, a caller's array);
  // the memory must outlive it and hold the shape's elements.
  static Buffer View(DType dtype, Shape shape, void* data);
  bool owns_memory() const { return data_.get_deleter().owned; }

  Buffer(Buffer&&) noexcept = default;
  Buffer& operator=(Buffer&&) noexcept = default;
  Buffer Clone() const;

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t num_elements() const { return num_elements_; }
  size_t size_bytes() const { return num_elements_ * DTypeSize(dtype_); }
  bool empty() const { return data_ == nullptr && num_elements_ == 0; }

  void* raw() { return data_.get(); }
  const void* raw() const { return data_.get(); }
  template <typename T> T* data() { return static_cast<T*>(raw()); }
  template <typename T> const T* data() const {
    return static_cast<const T*>(raw());
  }
  template <typename T> absl::Span<T> span() {
    return absl::Span<T>(data<T>(), num_elements_);
  }
  template <typename T> absl::Span<const T> span() const {
    return absl::Span<const T>(data<T>(), num_elements_);
  }

  // Element access through double, for tests, printing and folding.
  double GetAsDouble(int64_t i) const;
  void SetFromDouble(int64_t i, double v);

  // Same dtype, shape and bytes.
  bool BitwiseEquals(const Buffer& other) const;
  // "f32[2,2]{1,2,3,4}"; long buffers are elided unless `full`.
  std::string ToString(bool full = false) const;

 private:
  DType dtype_ = DType::kF32;
  Shape shape_;
  int64_t num_elements_ = 0;
  std::unique_ptr<void, internal::BufferDeleter> data_;
};

template <typename T>
Buffer Buffer::FromVector(Shape shape, const std::vector<T>& values) {
  constexpr DType kType = std::is_same_v<T, float>     ? DType::kF32
                          : std::is_same_v<T, int32_t> ? DType::kI32
                          : std::is_same_v<T, int64_t> ? DType::kI64
                                                       : DType::kBool;
  Buffer b(kType, std::move(shape));
  KILN_CHECK_MSG(static_cast<int64_t>(values.size()) == b.num_elements(),
                 "FromVector: value count does not match the shape");
  std::copy(values.begin(), values.end(), b.data<T>());
  return b;
}

}  // namespace kiln

#endif  // KILN_GRAPH_BUFFER_H_
