// Shared machinery of the elementwise ops: shape rules, the broadcasting
// driver that feeds Highway loops, scalar references and standard tests.
//
// An elementwise op file supplies only its math:
//
//   .infer = InferUnaryFloat,
//   .interp = [](const KernelContext& c) { return RunUnary(c, HWY_DYNAMIC_DISPATCH(ExpF32)); },
//   .reference = UnaryReference<+[](double x) { return std::exp(x); }>,
//   .tests = [] { return UnaryFloatTests(-4, 4); },
#ifndef KILN_OPS_ELEMENTWISE_H_
#define KILN_OPS_ELEMENTWISE_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "absl/functional/function_ref.h"
#include "graph/op_def.h"

namespace kiln {

// ---- shape and dtype rules ------------------------------------------------

// One f32 input, same type out.
absl::StatusOr<TensorType> InferUnaryFloat(const InferContext& ctx);
// Two inputs of one dtype from `allowed`, broadcast; result has that dtype
// (or bool when `bool_result`).
absl::StatusOr<TensorType> InferBinary(const InferContext& ctx,
                                       std::initializer_list<DType> allowed,
                                       bool bool_result = false);
absl::StatusOr<TensorType> InferBinaryFloat(const InferContext& ctx);
absl::StatusOr<TensorType> InferBinaryNumeric(const InferContext& ctx);  // f32, i32, i64
absl::StatusOr<TensorType> InferCompare(const InferContext& ctx);  // -> bool

// ---- interpreter drivers --------------------------------------------------

using UnaryKernelF32 = void (*)(const float* x, float* y, size_t n);
// Runs a contiguous f32 loop over the whole tensor, split across threads.
absl::Status RunUnary(const KernelContext& ctx, UnaryKernelF32 kernel);

// Binary loops; `mode` bit 0 marks `a` as a broadcast scalar, bit 1 `b`.
template <typename T, typename TOut = T>
using BinaryKernel = void (*)(const T* a, const T* b, TOut* out, size_t n,
                              int mode);
struct BinaryKernels {
  BinaryKernel<float> f32 = nullptr;
  BinaryKernel<int32_t> i32 = nullptr;
  BinaryKernel<int64_t> i64 = nullptr;
};
struct CompareKernels {
  BinaryKernel<float, uint8_t> f32 = nullptr;
  BinaryKernel<int32_t, uint8_t> i32 = nullptr;
  BinaryKernel<int64_t, uint8_t> i64 = nullptr;
};
// Broadcasts the two inputs to the output shape: collapses dimensions, then
// calls the loop on contiguous (or scalar-broadcast) runs, split across
// threads.
absl::Status RunBinary(const KernelContext& ctx, const BinaryKernels& kernels);
absl::Status RunCompare(const KernelContext& ctx, const CompareKernels& kernels);

// The driver under RunBinary, for any number of inputs (select has three):
// walks the output in parallel chunks and calls run(offsets, out_offset,
// length, mode) for each contiguous run of the innermost dimension, where
// offsets[k] is input k's element offset and bit k of `mode` marks input k
// as a repeated scalar along the run (it is the same for every call).
inline constexpr size_t kMaxBroadcastInputs = 4;
using BroadcastRunFn = absl::FunctionRef<void(
    const int64_t* offsets, int64_t out_offset, int64_t length, int mode)>;
void ForEachBroadcastRun(const KernelContext& ctx, BroadcastRunFn run);

// ---- scalar references (plain loops in double, for the tests) ------------

// Element `out_index` of the output reads this element of an input that is
// broadcast to `out_shape` (numpy rules). Independent of the driver above.
int64_t BroadcastSourceIndex(const Shape& in_shape, const Shape& out_shape,
                             int64_t out_index);

template <double (*F)(double)>
absl::Status UnaryReference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  for (int64_t i = 0; i < ctx.output->num_elements(); ++i) {
    ctx.output->SetFromDouble(i, F(x.GetAsDouble(i)));
  }
  return absl::OkStatus();
}

template <double (*F)(double, double)>
absl::Status BinaryReference(const KernelContext& ctx) {
  const Buffer& a = *ctx.inputs[0];
  const Buffer& b = *ctx.inputs[1];
  const Shape& out = ctx.output->shape();
  for (int64_t i = 0; i < ctx.output->num_elements(); ++i) {
    ctx.output->SetFromDouble(
        i, F(a.GetAsDouble(BroadcastSourceIndex(a.shape(), out, i)),
             b.GetAsDouble(BroadcastSourceIndex(b.shape(), out, i))));
  }
  return absl::OkStatus();
}

// ---- gradients ------------------------------------------------------------

// Sums a broadcast gradient back to the shape of the input it came from.
Tensor ReduceToShape(const Tensor& grad, const Shape& shape);

// maximum / minimum: the output gradient goes to `a` where it wins or ties
// (a >= b for max, a <= b for min), to `b` elsewhere.
std::vector<Tensor> ExtremumGrad(const GradContext& g, bool max);

// ---- standard conformance cases -------------------------------------------

// Shapes with vector tails, a symbolic batch and a scalar; bad: integer input.
OpTests UnaryFloatTests(double lo, double hi, bool avoid_integers = false);
// Same shapes, broadcasting pairs; bad: shapes that do not broadcast and
// mixed dtypes. `dtypes` lists the dtypes to test beyond f32.
OpTests BinaryTests(double lo, double hi, std::initializer_list<DType> dtypes,
                    bool avoid_integers = false);
// BinaryTests for maximum / minimum: f32 `a` keeps 0.1 away from the
// integers `b` takes, so no pair sits on the kink a == b; one case with ties
// checks values only.
OpTests ExtremumTests();

}  // namespace kiln

#endif  // KILN_OPS_ELEMENTWISE_H_
