// Tensor shapes whose dimensions are known, except for a symbolic batch size.
//
// Graphs are built before the batch size is known: a dimension equal to
// Shape::kBatch stands for it and prints as `N`. A program is specialized to
// a batch size before it runs (Shape::Specialize replaces every N).
//
//   Shape s({Shape::kBatch, 28, 28, 1});
//   s.ToString() == "[N,28,28,1]";  s.Specialize(32).NumElements() == 25088
#ifndef KILN_GRAPH_SHAPE_H_
#define KILN_GRAPH_SHAPE_H_

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace kiln {

class Shape {
 public:
  static constexpr int64_t kBatch = -1;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  int64_t dim(int i) const { return dims_[i]; }
  int64_t& dim(int i) { return dims_[i]; }
  const std::vector<int64_t>& dims() const { return dims_; }
  absl::Span<const int64_t> span() const { return dims_; }

  // True when no dimension is the symbolic batch size.
  bool IsConcrete() const;
  // Product of the dimensions; the batch dimension counts as 1.
  int64_t NumElements() const;
  // Replaces every symbolic dimension by `batch`.
  Shape Specialize(int64_t batch) const;
  // Row-major strides in elements.
  std::vector<int64_t> Strides() const;

  // "[N,28,28,1]"; a scalar is "[]".
  std::string ToString() const;
  static absl::StatusOr<Shape> Parse(absl::string_view text);

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.dims_ == b.dims_;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, const Shape& s) {
    return os << s.ToString();
  }
  template <typename H>
  friend H AbslHashValue(H h, const Shape& s) {
    return H::combine(std::move(h), s.dims_);
  }

 private:
  std::vector<int64_t> dims_;
};

// Numpy broadcasting of two shapes (aligned at the trailing dimension). The
// symbolic batch size broadcasts with 1 and with itself only.
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);

// Normalizes a possibly negative axis for a tensor of `rank`.
absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank);

std::string DimToString(int64_t d);

}  // namespace kiln

#endif  // KILN_GRAPH_SHAPE_H_
