// matmul: (batched) matrix product on f32. a [..., M, K] x b [..., K, N] ->
// [..., M, N]; transpose_a / transpose_b (int64 0|1) read a as [..., K, M]
// or b as [..., N, K]. Both inputs have rank >= 2; the batch dims (all but
// the last two) broadcast numpy-style and may hold the batch N, so
// [N, T, K] x [K, F] -> [N, T, F] (Dense on a sequence).
// Gradient: dA and dB are matmuls of the output gradient with the other
// operand (transpose flags chosen per case), summed back over broadcast
// batch dims with ReduceToShape.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/matmul.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
// Output tiles [begin, end) of all batch matrices, tiles ordered (batch,
// row tile, column tile); a_off / b_off give each batch's operand offsets.
void MatMulTiles(const float* a, const float* b, float* c, const int64_t* a_off,
                 const int64_t* b_off, int64_t m, int64_t n, int64_t k, bool ta, bool tb,
                 int64_t begin, int64_t end) {
  const int64_t mt = (m + kGemmMc - 1) / kGemmMc, nt = (n + kGemmNc - 1) / kGemmNc;
  std::vector<float> scratch;
  for (int64_t tile = begin; tile < end; ++tile) {
    const int64_t batch = tile / (mt * nt), i0 = (tile / nt) % mt * kGemmMc;
    const int64_t j0 = tile % nt * kGemmNc;
    const GemmOperand ga{a + a_off[batch], ta ? 1 : k, ta ? m : 1};
    const GemmOperand gb{b + b_off[batch], tb ? 1 : n, tb ? k : 1};
    GemmTile(ga, gb, c + batch * m * n, n, i0, j0, std::min(kGemmMc, m - i0),
             std::min(kGemmNc, n - j0), k, scratch);
  }
}
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/elementwise.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(MatMulTiles);
namespace {

struct MatMulDims {
  Shape batch_a, batch_b, batch;  // batch dims of a, b and the output
  int64_t m, n, k;
  bool ta, tb;
};

absl::StatusOr<bool> Flag(const Attrs& attrs, absl::string_view name) {
  KILN_ASSIGN_OR_RETURN(int64_t v, attrs.Get<int64_t>(name));
  if (v != 0 && v != 1) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be 0 or 1, got ", v));
  }
  return v == 1;
}

absl::StatusOr<MatMulDims> DimsOf(const Shape& a, const Shape& b, const Attrs& attrs) {
  if (a.rank() < 2 || b.rank() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected inputs of rank >= 2, got ", a.ToString(), " and ", b.ToString()));
  }
  MatMulDims d;
  KILN_ASSIGN_OR_RETURN(d.ta, Flag(attrs, "transpose_a"));
  KILN_ASSIGN_OR_RETURN(d.tb, Flag(attrs, "transpose_b"));
  const int ra = a.rank(), rb = b.rank();
  d.m = a.dim(d.ta ? ra - 1 : ra - 2);
  d.k = a.dim(d.ta ? ra - 2 : ra - 1);
  const int64_t kb = b.dim(d.tb ? rb - 1 : rb - 2);
  d.n = b.dim(d.tb ? rb - 2 : rb - 1);
  if (kb != d.k) {
    return absl::InvalidArgumentError(absl::StrCat(
        "contraction dims differ: a ", a.ToString(), " has K = ", DimToString(d.k),
        " (transpose_a ", d.ta ? 1 : 0, "), b ", b.ToString(), " has K = ", DimToString(kb),
        " (transpose_b ", d.tb ? 1 : 0, ")"));
  }
  d.batch_a = Shape(std::vector<int64_t>(a.dims().begin(), a.dims().end() - 2));
  d.batch_b = Shape(std::vector<int64_t>(b.dims().begin(), b.dims().end() - 2));
  absl::StatusOr<Shape> batch = BroadcastShapes(d.batch_a, d.batch_b);
  if (!batch.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch dims of ", a.ToString(), " and ", b.ToString(), " do not broadcast"));
  }
  d.batch = *std::move(batch);
  return d;
}

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  const TensorType& a = ctx.inputs[0];
  const TensorType& b = ctx.inputs[1];
  if (a.dtype != DType::kF32 || b.dtype != DType::kF32) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected f32 inputs, got ", a.ToString(), ", ", b.ToString()));
  }
  KILN_ASSIGN_OR_RETURN(MatMulDims d, DimsOf(a.shape, b.shape, ctx.attrs));
  std::vector<int64_t> dims = d.batch.dims();
  dims.push_back(d.m);
  dims.push_back(d.n);
  return TensorType{DType::kF32, Shape(std::move(dims))};
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& a = *ctx.inputs[0];
  const Buffer& b = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(MatMulDims d, DimsOf(a.shape(), b.shape(), ctx.attrs));
  const int64_t batches = d.batch.NumElements();
  std::vector<int64_t> a_off(batches), b_off(batches);
  for (int64_t i = 0; i < batches; ++i) {
    a_off[i] = BroadcastSourceIndex(d.batch_a, d.batch, i) * d.m * d.k;
    b_off[i] = BroadcastSourceIndex(d.batch_b, d.batch, i) * d.k * d.n;
  }
  const int64_t tiles = batches * ((d.m + kGemmMc - 1) / kGemmMc) *
                        ((d.n + kGemmNc - 1) / kGemmNc);
  const int64_t tile_work = std::min(kGemmMc, d.m) * std::min(kGemmNc, d.n) * d.k;
  ctx.parallel.For(tiles, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, tile_work)),
                   [&](int64_t begin, int64_t end) {
                     HWY_DYNAMIC_DISPATCH(MatMulTiles)(
                         a.data<float>(), b.data<float>(), ctx.output->data<float>(),
                         a_off.data(), b_off.data(), d.m, d.n, d.k, d.ta, d.tb, begin, end);
                   });
  return absl::OkStatus();
}

// Batch dims broadcast: an operand whose batch dim is 1 (or missing) gets
// stride 0 there.
absl::StatusOr<GemmProblem> Contraction(absl::Span<const TensorType> inputs,
                                        const TensorType& output, const Attrs& attrs) {
  KILN_ASSIGN_OR_RETURN(MatMulDims d, DimsOf(inputs[0].shape, inputs[1].shape, attrs));
  GemmProblem p{.m = d.m, .n = d.n, .k = d.k, .lda = d.ta ? d.m : d.k,
                .ldb = d.tb ? d.k : d.n, .ldc = d.n, .a_transposed = d.ta,
                .b_transposed = d.tb};
  const int rank = d.batch.rank();
  int64_t a_stride = d.m * d.k, b_stride = d.k * d.n, c_stride = d.m * d.n;
  p.batch.resize(rank);
  for (int i = rank - 1; i >= 0; --i) {
    const int ia = i - (rank - d.batch_a.rank()), ib = i - (rank - d.batch_b.rank());
    const int64_t na = ia >= 0 ? d.batch_a.dim(ia) : 1, nb = ib >= 0 ? d.batch_b.dim(ib) : 1;
    p.batch[i] = {.size = d.batch.dim(i), .a_stride = na == 1 ? 0 : a_stride,
                  .b_stride = nb == 1 ? 0 : b_stride, .c_stride = c_stride};
    a_stride *= na;
    b_stride *= nb;
    c_stride *= d.batch.dim(i);
  }
  if (output.shape.rank() != rank + 2) return absl::InternalError("matmul: output rank");
  return p;
}

absl::Status Reference(const KernelContext& ctx) {
  const Buffer& a = *ctx.inputs[0];
  const Buffer& b = *ctx.inputs[1];
  KILN_ASSIGN_OR_RETURN(MatMulDims d, DimsOf(a.shape(), b.shape(), ctx.attrs));
  for (int64_t bi = 0; bi < d.batch.NumElements(); ++bi) {
    const int64_t ab = BroadcastSourceIndex(d.batch_a, d.batch, bi) * d.m * d.k;
    const int64_t bb = BroadcastSourceIndex(d.batch_b, d.batch, bi) * d.k * d.n;
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < d.k; ++p) {
          sum += a.GetAsDouble(ab + (d.ta ? p * d.m + i : i * d.k + p)) *
                 b.GetAsDouble(bb + (d.tb ? j * d.k + p : p * d.n + j));
        }
        ctx.output->SetFromDouble((bi * d.m + i) * d.n + j, sum);
      }
    }
  }
  return absl::OkStatus();
}

Attrs Flags(int64_t ta, int64_t tb) { return Attrs{{"transpose_a", ta}, {"transpose_b", tb}}; }

OpTests Tests() {
  OpTests t;
  constexpr int64_t N = Shape::kBatch;
  // Values in [-range, range]; long dot products get a small range so that
  // f32 finite differences stay accurate.
  auto add = [&](std::string label, Shape a, Shape b, int64_t ta = 0, int64_t tb = 0,
                 double range = 1) {
    t.cases.push_back({std::move(label),
                       {{{DType::kF32, a}, -range, range}, {{DType::kF32, b}, -range, range}},
                       Flags(ta, tb)});
  };
  add("small", {3, 5}, {5, 4});
  add("tails", {7, 33}, {33, 37});
  add("transpose_a", {5, 3}, {5, 4}, 1, 0);
  add("transpose_b", {3, 5}, {4, 5}, 0, 1);
  add("both transposed", {9, 7}, {19, 9}, 1, 1);
  add("1x1", {1, 1}, {1, 1});
  add("K 1", {4, 1}, {1, 6});
  add("K over one block", {2, 300}, {300, 3}, 0, 0, 0.5);
  add("M over one tile", {100, 2}, {2, 3});
  add("N over one tile", {1, 2}, {2, 520});
  add("batched", {2, 3, 4}, {2, 4, 5});
  add("dense on a sequence", {N, 3, 4}, {4, 5});
  add("broadcast batch", {2, 1, 3, 4}, {3, 4, 2});
  add("batch rows", {N, 4}, {4, 3});
  add("contract over the batch", {N, 3}, {N, 2}, 1, 0);
  add("rank 2 times batched, transposed", {4, 3}, {2, 5, 4}, 1, 1);
  auto bad = [&](std::string label, Shape a, Shape b, Attrs attrs, std::string message,
                 DType dtype = DType::kF32) {
    t.bad.push_back({std::move(label), {{dtype, a}, {DType::kF32, b}}, std::move(attrs),
                     std::move(message)});
  };
  bad("rank 1", {3}, {3, 4}, Flags(0, 0), "expected inputs of rank >= 2, got [3] and [3,4]");
  bad("K mismatch", {2, 3}, {4, 5}, Flags(0, 0),
      "contraction dims differ: a [2,3] has K = 3 (transpose_a 0), b [4,5] has K = 4");
  bad("K mismatch transposed", {2, 3}, {2, 5}, Flags(0, 1), "has K = 5 (transpose_b 1)");
  bad("batch", {2, 3, 4}, {3, 4, 5}, Flags(0, 0),
      "batch dims of [2,3,4] and [3,4,5] do not broadcast");
  bad("i32", {2, 3}, {3, 4}, Flags(0, 0), "expected f32 inputs, got i32[2,3], f32[3,4]",
      DType::kI32);
  bad("flag", {2, 3}, {3, 4}, Flags(2, 0), "transpose_a must be 0 or 1, got 2");
  bad("missing flag", {2, 3}, {3, 4}, Attrs{{"transpose_a", int64_t{0}}},
      "missing attribute 'transpose_b'");
  t.tolerance = 2e-5;
  return t;
}

// d/da and d/db of op_a(a) * op_b(b), in a's and b's stored layouts.
std::vector<Tensor> Grad(const GradContext& g) {
  const Tensor& a = g.inputs[0];
  const Tensor& b = g.inputs[1];
  const Tensor& dc = g.output_grad;
  const bool ta = g.attrs.GetOr<int64_t>("transpose_a", 0) != 0;
  const bool tb = g.attrs.GetOr<int64_t>("transpose_b", 0) != 0;
  std::vector<Tensor> grads(2);
  if (g.needs_grad[0]) {
    const Tensor da = ta ? MatMul(b, dc, tb, true) : MatMul(dc, b, false, !tb);
    grads[0] = ReduceToShape(da, a.shape());
  }
  if (g.needs_grad[1]) {
    const Tensor db = tb ? MatMul(dc, a, true, ta) : MatMul(a, dc, !ta, false);
    grads[1] = ReduceToShape(db, b.shape());
  }
  return grads;
}

}  // namespace

const OpDef kMatMulOp = {
    .name = "matmul",
    .arity = 2,
    .fusion = FusionKind::kContraction,
    .infer = Infer,
    .grad = Grad,
    .interp = Interp,
    .contraction = Contraction,
    .reference = Reference,
    .tests = Tests,
};

Tensor MatMul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b,
              SourceLoc loc) {
  return Apply(kMatMulOp, {a, b}, Flags(transpose_a, transpose_b), loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
