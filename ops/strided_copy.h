// Strided element copies and fills for the index-map ops (transpose, slice,
// pad): any dtype, handled as raw elements of 1, 4 or 8 bytes.
//
// StridedCopy walks an index space `dims` and copies the element at
// src + sum(i_k * src_strides[k]) to dst + sum(i_k * dst_strides[k])
// (strides in elements). It drops size-1 dimensions, merges dimensions that
// are contiguous on both sides, copies contiguous inner runs with memcpy and
// walks a transposition in square tiles. Work is split with
// `parallel.For`; every element is written exactly once, so the result does
// not depend on the split.
//
//   // out = transpose of a row-major [rows, cols] float matrix:
//   StridedCopy(in, out, 4, {cols, rows}, {1, cols}, {rows, 1}, parallel);
#ifndef KILN_OPS_STRIDED_COPY_H_
#define KILN_OPS_STRIDED_COPY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/dtype.h"
#include "graph/op_def.h"

namespace kiln {

void StridedCopy(const void* src, void* dst, size_t elem_size,
                 std::vector<int64_t> dims, std::vector<int64_t> src_strides,
                 std::vector<int64_t> dst_strides, const Parallelism& parallel);

// Sets `n` elements of `elem_size` bytes at dst to the element at `value`.
void FillElements(void* dst, int64_t n, const void* value, size_t elem_size,
                  const Parallelism& parallel);

// The element bytes of `value` in `dtype` (for fills). Fails when the value
// is not exactly representable: a fraction, inf or NaN in an integer dtype,
// or anything but 0 and 1 in bool.
absl::StatusOr<std::vector<char>> ElementBytes(DType dtype, double value);

}  // namespace kiln

#endif  // KILN_OPS_STRIDED_COPY_H_
