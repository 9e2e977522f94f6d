// Composite ops: built from primitives, with no kernel of their own.
//
// They appear in graphs as their primitive nodes, so they get gradients,
// fusion and both backends for free:
//
//   Tensor p = Softmax(logits, -1);          // exp, reduce_max, sub, div, ...
//   Tensor y = Relu(x * 1.5f + 0.5f) * Sigmoid(x);
#ifndef KILN_OPS_COMPOSITES_H_
#define KILN_OPS_COMPOSITES_H_

#include <cstdint>

#include "graph/attrs.h"
#include "graph/tensor.h"

namespace kiln {

// ---- constants ------------------------------------------------------------
// A scalar constant of `like`'s dtype in `like`'s graph.
Tensor ScalarLike(const Tensor& like, double value);
// `value` broadcast to `like`'s shape and dtype.
Tensor FullLike(const Tensor& like, double value);
Tensor ZerosLike(const Tensor& like);
Tensor OnesLike(const Tensor& like);

// ---- arithmetic operators (numpy broadcasting; scalars take x's dtype) ----
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// ---- comparisons and elementwise helpers -----------------------------------
Tensor Greater(const Tensor& a, const Tensor& b);       // less(b, a)
Tensor GreaterEqual(const Tensor& a, const Tensor& b);  // less_equal(b, a)
Tensor Square(const Tensor& x);
Tensor Reciprocal(const Tensor& x);
Tensor Clip(const Tensor& x, double lo, double hi);  // lo > hi: graph error

// ---- activations (tf.keras 2.x definitions; see the spec, section 6) ------
Tensor Relu(const Tensor& x);
Tensor Sigmoid(const Tensor& x);
Tensor Softplus(const Tensor& x);
Tensor Softsign(const Tensor& x);
Tensor Elu(const Tensor& x, double alpha = 1.0);
Tensor Selu(const Tensor& x);
Tensor Gelu(const Tensor& x, bool approximate = false);
Tensor Swish(const Tensor& x);
Tensor HardSigmoid(const Tensor& x);

// ---- normalizations and statistics ----------------------------------------
// Axes may be negative; an empty list reduces nothing. A bad axis records a
// graph error named after the composite ("[softmax] ...").
Tensor Softmax(const Tensor& x, int64_t axis = -1);
Tensor LogSoftmax(const Tensor& x, int64_t axis = -1);
Tensor LogSumExp(const Tensor& x, const IntList& axes, bool keepdims = false);
Tensor Mean(const Tensor& x, const IntList& axes, bool keepdims = false);
// Population variance (divides by n), like tf.math.reduce_variance.
Tensor Variance(const Tensor& x, const IntList& axes, bool keepdims = false);
// x / sqrt(max(sum(x^2 over axes), epsilon)), like tf.math.l2_normalize.
Tensor L2Normalize(const Tensor& x, const IntList& axes, double epsilon = 1e-12);
Tensor ReduceMin(const Tensor& x, const IntList& axes, bool keepdims = false);

// ---- random ----------------------------------------------------------------
// 1 with probability p, else 0 (f32), from the counter-based generator.
Tensor Bernoulli(const Tensor& counter, double p, const Shape& shape,
                 int64_t seed, int64_t stream);

}  // namespace kiln

#endif  // KILN_OPS_COMPOSITES_H_
