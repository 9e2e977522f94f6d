// OpDef: everything kiln knows about one primitive op, in one struct.
//
// Each primitive op is defined once, in ops/<name>.cc, as a `const OpDef`
// listed on one line of ops/op_list.inc. Everything downstream (graph
// builder, autodiff, interpreter, JIT, conformance tests, benchmarks) reads
// the op's facts from here and never switches on the op's name.
//
//   extern const OpDef kExpOp;           // defined in ops/exp.cc
//   kExpOp.name == "exp";  kExpOp.fusion == FusionKind::kElementwise
#ifndef KILN_GRAPH_OP_DEF_H_
#define KILN_GRAPH_OP_DEF_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/attrs.h"
#include "graph/buffer.h"
#include "graph/tensor.h"

namespace kiln {

// How an op takes part in fusion (issue 3 plans kernels from this).
enum class FusionKind {
  kSource,       // input, variable, constant: no computation
  kElementwise,  // out[i] depends on in[i] (after broadcasting)
  kReduction,    // combines elements along axes
  kIndexMap,     // moves elements: reshape, transpose, slice, pad, ...
  kContraction,  // matmul, convolution, pooling: dedicated kernels
  kOpaque,       // anything else (random numbers)
};
absl::string_view FusionKindName(FusionKind k);

struct TensorType {
  DType dtype = DType::kF32;
  Shape shape;
  std::string ToString() const;
  friend bool operator==(const TensorType& a, const TensorType& b) {
    return a.dtype == b.dtype && a.shape == b.shape;
  }
};

// The shape-and-dtype rule sees the input types and the attributes. Its
// error message must not repeat the op name; the builder adds
// "[op] in layer 'L' (file:line): " in front.
struct InferContext {
  absl::Span<const TensorType> inputs;
  const Attrs& attrs;
};
using InferFn = absl::StatusOr<TensorType> (*)(const InferContext&);

// The gradient rule builds graph nodes. It returns one Tensor per input:
// a default-constructed Tensor where the input needs no gradient
// (needs_grad[i] false) or has none (integer inputs).
struct GradContext {
  absl::Span<const Tensor> inputs;
  const Tensor& output;       // the forward result, for reuse
  const Tensor& output_grad;  // d loss / d output
  const Attrs& attrs;
  const std::vector<bool>& needs_grad;
};
using GradFn = std::vector<Tensor> (*)(const GradContext&);

// Splits [0, n) into chunks of at least `grain` and runs fn(begin, end) on
// them, possibly in parallel. Kernels must produce the same bits for every
// split (no cross-chunk accumulation).
class Parallelism {
 public:
  virtual ~Parallelism() = default;
  virtual int num_threads() const = 0;
  virtual void For(int64_t n, int64_t grain,
                   absl::FunctionRef<void(int64_t, int64_t)> fn) const = 0;
};
// Runs everything on the calling thread.
const Parallelism& SerialParallelism();

struct KernelContext {
  absl::Span<const Buffer* const> inputs;
  Buffer* output;  // allocated with the inferred type
  const Attrs& attrs;
  const Parallelism& parallel;
};
using KernelFn = absl::Status (*)(const KernelContext&);

// The JIT lowering of an elementwise op or a reduction's combiner: builds
// LLVM IR for one vector of results (ops/lowering_internal.h defines the
// context; it stays opaque here so that no LLVM header leaks out).
struct LoweringContext;
using LowerFn = absl::Status (*)(LoweringContext&);

// How an index-map op reads its input, so the JIT can fuse it into an
// access pattern instead of copying: input index = coeff * output index +
// offset, one row per input dimension (affine), or, for reshape, the same
// row-major position (fusible only when the input is a buffer in memory).
struct IndexMap {
  bool same_flat_position = false;
  std::vector<std::vector<int64_t>> coeff;  // [input rank][output rank]
  std::vector<int64_t> offset;              // [input rank]
};
using IndexMapFn = absl::StatusOr<IndexMap> (*)(const TensorType& input,
                                                const TensorType& output,
                                                const Attrs& attrs);

// A contraction as a (batched) GEMM, so that the JIT's contraction kernels
// (codegen/gemm_*) can run it without knowing the op:
//   C[b][i][j] = sum_p A[b][i][p] * B[b][p][j],  i < m, j < n, p < k,
// A = the op's input 0, B = input 1, C = its output, all f32 in row-major
// buffers. Element offsets: A[b][i][p] at sum_d b_d * batch[d].a_stride +
// i * lda + p (a_transposed: i + p * lda, A stored as [k, m]); B[b][p][j]
// at ... + p * ldb + j (b_transposed: j * ldb + p, B stored as [n, k]);
// C[b][i][j] at ... + i * ldc + j. A batch stride of 0 broadcasts that
// operand. Convolutions read A through windows (GemmWindows below).
//
//   matmul f32[2,5,3] x f32[3,4] -> {batch {2: a 15, b 0, c 20}, m 5, n 4,
//                                   k 3, lda 3, ldb 4, ldc 4}
struct GemmBatchDim {
  int64_t size = 1;
  int64_t a_stride = 0, b_stride = 0, c_stride = 0;
};
// An implicit-GEMM operand A (convolutions): A is never stored; its
// elements are read from an image tensor through sliding windows. One index
// of A counts the windows, (n, w0, w1, w2) row-major over [images,
// windows...]; the other counts a window's cells, (t0, t1, t2, c) row-major
// over [taps..., channels]. In spatial dim e the cell sits at
// q = w * window_step + t * tap_step + offset; A holds the image element
// n * image_stride + sum_e (q_e / divisor_e) * row_stride_e + c when every
// q_e is a multiple of divisor_e and q_e / divisor_e lies in [0, extent_e),
// else 0 (padding). A batch dim's a_stride moves the image base.
//   conv forward: rows = windows (output cells), depth = cells: window_step
//   = stride, tap_step = dilation, offset = -pad_low, divisor 1, extent = in.
struct GemmWindows {
  int64_t images = 1, image_stride = 0, channels = 1;
  std::array<int64_t, 3> windows{1, 1, 1}, taps{1, 1, 1}, window_step{1, 1, 1},
      tap_step{1, 1, 1}, offset{0, 0, 0}, divisor{1, 1, 1}, extent{1, 1, 1}, row_stride{0, 0, 0};
  // false: A[i = window][p = cell] (m = windows, k = cells); true: A[i =
  // cell][p = window] (filter gradients: m = cells, k = windows).
  bool windows_along_depth = false;
};
struct GemmProblem {
  std::vector<GemmBatchDim> batch;  // outermost first; may be empty
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  bool a_transposed = false, b_transposed = false;
  // Set: A is read through windows (lda and a_transposed are unused).
  std::optional<GemmWindows> a_windows;
  // The output dims the rows run over, row-major (product m); empty: [m].
  // Lets an epilogue fuse when the output is [B, H, W, C] and m = B*H*W.
  std::vector<int64_t> m_dims;
  // > 0: B's depth index p splits into runs of b_depth_run, B[p][j] at
  // (p / run) * b_depth_run_stride + (p % run) * (B's depth step) + j * ...
  int64_t b_depth_run = 0, b_depth_run_stride = 0;
};
using ContractionFn = absl::StatusOr<GemmProblem> (*)(absl::Span<const TensorType> inputs,
                                                      const TensorType& output,
                                                      const Attrs& attrs);

// Floating-point operations of one call, for the profiler's roofline
// (codegen/profiler.h). Ops whose count the fusion kind gives need none.
using FlopsFn = int64_t (*)(absl::Span<const TensorType> inputs, const TensorType& output,
                            const Attrs& attrs);

// A window reduction (depthwise convolution, max pooling) for the JIT's
// window kernels (codegen/window_*): the output is [images, windows...,
// channels] row-major and
//   out[n][w][c] = combine over the cells t of window w of image(n, w, t, c)
// with GemmWindows' cell addressing (`channels` = every channel; output
// channel c reads image channel c). kSumOfProducts multiplies each cell by
// weight[t * channels + c] (input 1) and adds; kMax takes the maximum.
// Cells in the padding are skipped. The image is input 0.
// kFirstMaxRouting (max-pool gradients): the image is input 1 (the output
// gradient) and a real cell t of window w, at image row q, adds its value
// only when cell t is the first maximum (window order, strictly greater
// wins, padding never) of pooled window q over input 0, whose cells
// `pooled` addresses (its `windows` index being q).
// kSumOverWindows (depthwise filter gradients): the output is [cells...,
// channels] and out[t][c] = sum over windows (n, w) of image(n, w, t, c) *
// input1[n][w][c] (input 1 laid out [images, windows..., channels]).
// A depth multiplier M > 1 (kSumOfProducts, kSumOverWindows): output
// channel c reads image channel c / M. A fan F > 1 (kSumOfProducts only,
// depthwise input gradients): output channel c adds cells of image
// channels c * F + f, f < F, each times weight[(t * channels + c) * F + f].
struct WindowReduction {
  enum class Combine { kSumOfProducts, kMax, kFirstMaxRouting, kSumOverWindows };
  Combine combine = Combine::kSumOfProducts;
  GemmWindows windows;
  GemmWindows pooled;  // kFirstMaxRouting only
  int64_t multiplier = 1, fan = 1;
};
using WindowReductionFn = absl::StatusOr<WindowReduction> (*)(
    absl::Span<const TensorType> inputs, const TensorType& output, const Attrs& attrs);

// How the conformance suite exercises an op (tests/ops/conformance_test.cc).
struct TestInput {
  TensorType type;
  double lo = -2.0, hi = 2.0;    // values drawn uniformly from [lo, hi]
  bool avoid_integers = false;   // keep 0.1 away from integers (kinks)
  bool integer_values = false;   // round draws (labels, indices)
  bool distinct = false;  // f32: a shuffled even spread over [lo, hi], so no
                          // two values are close (max-pool windows, no near-ties)
};
struct TestCase {
  std::string label;
  std::vector<TestInput> inputs;
  Attrs attrs;
  bool check_grad = true;
};
struct BadCase {
  std::string label;
  std::vector<TensorType> inputs;
  Attrs attrs;
  std::string expected_message;  // a substring of the Status message
};
struct OpTests {
  std::vector<TestCase> cases;
  std::vector<BadCase> bad;
  double tolerance = 1e-5;  // interpreter vs reference, relative
};

struct OpDef {
  static constexpr int kVariadic = -1;

  absl::string_view name;  // graph text, errors, kernel symbols, bench names
  int arity = 1;          // number of inputs, or kVariadic
  FusionKind fusion = FusionKind::kOpaque;
  InferFn infer = nullptr;
  GradFn grad = nullptr;       // null: not differentiable
  KernelFn interp = nullptr;   // Highway kernel, runtime-dispatched
  LowerFn lower = nullptr;     // JIT: elementwise body / reduction combiner
  IndexMapFn index_map = nullptr;  // JIT: index-map ops the JIT can fuse
  ContractionFn contraction = nullptr;  // JIT: contractions run as a GEMM
  WindowReductionFn window = nullptr;   // JIT: window reductions (depthwise, pooling)
  KernelFn reference = nullptr;  // plain scalar loops, for tests
  OpTests (*tests)() = nullptr;
  // null: elementwise ops count one flop per output element, reductions
  // one per input element, `contraction` ops 2mnk, the rest none.
  FlopsFn flops = nullptr;
};

// Looks ops up by name (the parser and the passes need this; ops/ provides
// the catalog of every listed op).
class OpCatalog {
 public:
  virtual ~OpCatalog() = default;
  virtual const OpDef* Find(absl::string_view name) const = 0;
  virtual absl::Span<const OpDef* const> All() const = 0;
};

}  // namespace kiln

#endif  // KILN_GRAPH_OP_DEF_H_
