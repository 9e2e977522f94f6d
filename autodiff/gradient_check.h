// Finite-difference gradient checker: does autodiff agree with central
// differences? Public, so users can check their own layers and Lambdas.
//
// It checks L = sum(output * R) for a fixed random R: the analytic gradient
// (Grad) against (L(x + eps) - L(x - eps)) / 2 eps, computed in double on
// the host from f32 evaluations, for (a sample of) every element of every
// `wrt`. Each `wrt` must be an input or variable node that `feeds` names.
//
//   KILN_ASSIGN_OR_RETURN(GradCheckResult r, CheckGradients(y, {x, w}, feeds));
//   if (!r.ok) std::cerr << r.worst;
#ifndef KILN_AUTODIFF_GRADIENT_CHECK_H_
#define KILN_AUTODIFF_GRADIENT_CHECK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/evaluate.h"
#include "graph/tensor.h"

namespace kiln {

struct GradCheckOptions {
  double epsilon = 1e-3;       // step, scaled by max(1, |x|)
  double rtol = 1e-2;          // |analytic - numeric| <= atol + rtol * scale
  double atol = 1e-3;
  int max_elements_per_input = 48;  // a random sample beyond this
  uint64_t seed = 1;
};

struct GradCheckResult {
  bool ok = true;
  double max_abs_error = 0;
  int64_t checked = 0;  // elements compared
  std::string worst;    // "x[3]: analytic 0.51 numeric 0.49"
};

absl::StatusOr<GradCheckResult> CheckGradients(
    const Tensor& output, absl::Span<const Tensor> wrt, const Feeds& feeds,
    const GradCheckOptions& options = {});

}  // namespace kiln

#endif  // KILN_AUTODIFF_GRADIENT_CHECK_H_
