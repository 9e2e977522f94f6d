// Shared machinery of the reductions (reduce_sum, reduce_max): the shape
// rule, the driver that views the input as [outer, reduced, inner] blocks
// and feeds Highway loops, a scalar reference and the standard tests.
//
// Attributes: axes=(...) (any order, negative allowed), keepdims=0|1.
#ifndef KILN_OPS_REDUCTION_H_
#define KILN_OPS_REDUCTION_H_

#include <cstddef>

#include "graph/op_def.h"

namespace kiln {

absl::StatusOr<TensorType> InferReduction(const InferContext& ctx);

// The sorted, non-negative reduced axes of a rank-`rank` input.
absl::StatusOr<IntList> ReducedAxes(const Attrs& attrs, int rank);
// The input shape with reduced axes kept as size 1 (the keepdims shape).
Shape KeepDimsShape(const Shape& in, const IntList& axes);

struct ReductionKernels {
  // out[o] = combine of x[o * r .. o * r + r), for `count` rows.
  void (*rows)(const float* x, size_t count, size_t r, float* out);
  // out[i] = combine over j < r of x[j * stride + i], for i < inner.
  void (*columns)(const float* x, size_t r, size_t stride, size_t inner,
                  float* out);
};
absl::Status RunReduction(const KernelContext& ctx, const ReductionKernels& k);

// Reference: plain loops in double with the given combiner and identity.
absl::Status ReductionReference(const KernelContext& ctx,
                                double (*combine)(double, double),
                                double identity);

OpTests ReductionTests();

}  // namespace kiln

#endif  // KILN_OPS_REDUCTION_H_
