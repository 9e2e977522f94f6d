// Convolutions as implicit GEMMs for the JIT's contraction kernels: the
// GemmProblem of conv, conv_input_grad and conv_filter_grad, with A read
// through sliding windows (GemmWindows) so no im2col matrix is stored.
//
//   ConvGeometry g = *ConvGeometryOf({8, 56, 56, 64}, {3, 3, 64, 64}, attrs);
//   GemmProblem p = *ConvForwardGemm(g);   // m 25088, n 64, k 576
//
// forward:         C[window][f]      = sum_{cell} x(window, cell) * w[cell][f]
// input gradient:  C[input cell][c]  = sum_{tap, f} dy(cell - tap, f) * w[tap][c][f]
//                  (a transposed convolution; strided taps that miss an
//                  output cell read zeros)
// filter gradient: C[tap, c][f]      = sum_{window} x(window, tap, c) * dy[window][f]
// Groups are a batch dim; depthwise shapes (too few columns per group for a
// GEMM tile) are refused with a reason: they run as window reductions.
#ifndef KILN_OPS_CONV_GEMM_H_
#define KILN_OPS_CONV_GEMM_H_

#include "absl/status/statusor.h"
#include "graph/op_def.h"
#include "ops/conv_geometry.h"

namespace kiln {

absl::StatusOr<GemmProblem> ConvForwardGemm(const ConvGeometry& g);
absl::StatusOr<GemmProblem> ConvInputGradGemm(const ConvGeometry& g);
absl::StatusOr<GemmProblem> ConvFilterGradGemm(const ConvGeometry& g);

// Depthwise convolutions (one input channel per group, any depth
// multiplier) and
// max pooling as window reductions, for the JIT's window kernels; other
// geometries get an error saying why.
absl::StatusOr<WindowReduction> DepthwiseForwardWindows(const ConvGeometry& g);
absl::StatusOr<WindowReduction> DepthwiseInputGradWindows(const ConvGeometry& g);
absl::StatusOr<WindowReduction> DepthwiseFilterGradWindows(const ConvGeometry& g);
absl::StatusOr<WindowReduction> MaxPoolWindows(const ConvGeometry& g);
absl::StatusOr<WindowReduction> MaxPoolGradWindows(const ConvGeometry& g);

}  // namespace kiln

#endif  // KILN_OPS_CONV_GEMM_H_
