// Bernoulli: an f32 mask of `shape` with 1 where a uniform draw is below p,
// 0 elsewhere: cast(less(random_uniform(counter, shape, seed, stream), p)).
// p must be in [0, 1]; p = 1 gives all ones (draws are below 1), p = 0 zeros.
#include "absl/strings/str_cat.h"
#include "ops/ops.h"

namespace kiln {

Tensor Bernoulli(const Tensor& counter, double p, const Shape& shape, int64_t seed,
                 int64_t stream) {
  if (!counter.ok()) return counter;
  if (!(p >= 0.0 && p <= 1.0)) {
    return counter.graph()->Fail(
        "bernoulli", absl::InvalidArgumentError(
                         absl::StrCat("expected a probability p in [0, 1], got ", p)));
  }
  const Tensor u = RandomUniform(counter, shape, seed, stream);
  return Cast(Less(u, ScalarLike(u, p)), DType::kF32);
}

}  // namespace kiln
