// broadcast_to: repeats a tensor along size-1 (or missing leading)
// dimensions to reach `shape` (numpy rules). Gradient: sum back.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/elementwise.h"
#include "ops/ops.h"

namespace kiln {
namespace {

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  KILN_ASSIGN_OR_RETURN(Shape shape, ctx.attrs.Get<Shape>("shape"));
  absl::StatusOr<Shape> b = BroadcastShapes(x.shape, shape);
  if (!b.ok() || *b != shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot broadcast ", x.shape.ToString(), " to ", shape.ToString()));
  }
  return TensorType{x.dtype, shape};
}

// Copies rows of the innermost dimension: contiguous when the input has
// that dimension, a fill of one element when it is broadcast.
absl::Status Interp(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  const Shape& out = ctx.output->shape();
  const size_t elem = DTypeSize(x.dtype());
  const int rank = out.rank();
  if (rank == 0 || out.NumElements() == 0) {
    std::memcpy(ctx.output->raw(), x.raw(), ctx.output->size_bytes());
    return absl::OkStatus();
  }
  const int64_t inner = out.dim(rank - 1);
  const int64_t rows = out.NumElements() / std::max<int64_t>(inner, 1);
  const bool inner_broadcast = x.shape().rank() == 0 || x.shape().dim(x.shape().rank() - 1) == 1;
  const auto* src = static_cast<const char*>(x.raw());
  auto* dst = static_cast<char*>(ctx.output->raw());
  ctx.parallel.For(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(inner, 1)),
                   [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      const int64_t in = BroadcastSourceIndex(x.shape(), out, row * inner);
      char* d = dst + row * inner * elem;
      if (!inner_broadcast) {
        std::memcpy(d, src + in * elem, inner * elem);
      } else {
        for (int64_t i = 0; i < inner; ++i) std::memcpy(d + i * elem, src + in * elem, elem);
      }
    }
  });
  return absl::OkStatus();
}

// Input dimension i is output dimension i + (output rank - input rank),
// read at 0 where it has size 1 (a missing leading dimension has no row).
absl::StatusOr<IndexMap> Map(const TensorType& in, const TensorType& out, const Attrs&) {
  const int lead = out.shape.rank() - in.shape.rank();
  if (lead < 0) return absl::InvalidArgumentError("output rank below the input's");
  IndexMap map;
  map.offset.assign(in.shape.rank(), 0);
  map.coeff.assign(in.shape.rank(), std::vector<int64_t>(out.shape.rank(), 0));
  for (int i = 0; i < in.shape.rank(); ++i) map.coeff[i][i + lead] = in.shape.dim(i) == 1 ? 0 : 1;
  return map;
}

absl::Status Reference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  for (int64_t i = 0; i < ctx.output->num_elements(); ++i) {
    ctx.output->SetFromDouble(
        i, x.GetAsDouble(BroadcastSourceIndex(x.shape(), ctx.output->shape(), i)));
  }
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  auto add = [&](Shape in, Shape out) {
    t.cases.push_back({absl::StrCat(in.ToString(), "->", out.ToString()),
                       {{{DType::kF32, in}}}, Attrs{{"shape", out}}});
  };
  add(Shape{}, Shape{3, 4});
  add(Shape{3, 1}, Shape{3, 17});
  add(Shape{17}, Shape{2, 3, 17});
  add(Shape{1, 5}, Shape{Shape::kBatch, 5});
  add(Shape{2, 1, 3}, Shape{2, 4, 3});
  t.bad.push_back({"incompatible", {{DType::kF32, Shape{3}}}, Attrs{{"shape", Shape{4}}},
                   "cannot broadcast [3] to [4]"});
  t.bad.push_back({"fewer dims", {{DType::kF32, Shape{2, 3}}}, Attrs{{"shape", Shape{3}}},
                   "cannot broadcast"});
  return t;
}

}  // namespace

const OpDef kBroadcastToOp = {
    .name = "broadcast_to",
    .arity = 1,
    .fusion = FusionKind::kIndexMap,
    .infer = Infer,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      return {ReduceToShape(g.output_grad, g.inputs[0].shape())};
    },
    .interp = Interp,
    .index_map = Map,
    .reference = Reference,
    .tests = Tests,
};

Tensor BroadcastTo(const Tensor& x, const Shape& shape, SourceLoc loc) {
  return Apply(kBroadcastToOp, {x}, Attrs{{"shape", shape}}, loc);
}

}  // namespace kiln
