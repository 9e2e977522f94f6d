// Scalar constants and the arithmetic operators on Tensor.
#include "ops/ops.h"

namespace kiln {

Tensor ScalarLike(const Tensor& like, double value) {
  if (!like.defined()) return like;
  const DType dtype = like.ok() ? like.dtype() : DType::kF32;
  return Constant(like.graph(), Buffer::Scalar(dtype, value));
}

Tensor FullLike(const Tensor& like, double value) {
  if (!like.ok()) return like;
  return BroadcastTo(ScalarLike(like, value), like.shape());
}
Tensor ZerosLike(const Tensor& like) { return FullLike(like, 0.0); }
Tensor OnesLike(const Tensor& like) { return FullLike(like, 1.0); }

Tensor operator+(const Tensor& a, const Tensor& b) { return Add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return Sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return Mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return Div(a, b); }
Tensor operator-(const Tensor& x) { return Neg(x); }
Tensor operator+(const Tensor& a, double b) { return Add(a, ScalarLike(a, b)); }
Tensor operator-(const Tensor& a, double b) { return Sub(a, ScalarLike(a, b)); }
Tensor operator*(const Tensor& a, double b) { return Mul(a, ScalarLike(a, b)); }
Tensor operator/(const Tensor& a, double b) { return Div(a, ScalarLike(a, b)); }
Tensor operator+(double a, const Tensor& b) { return Add(ScalarLike(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return Sub(ScalarLike(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return Mul(ScalarLike(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return Div(ScalarLike(b, a), b); }

}  // namespace kiln
