// select: on_true where condition is true, else on_false, with numpy
// broadcasting of all three inputs. condition is bool; on_true and on_false
// share any dtype (f32, i32, i64, bool), which is the result's dtype.
// Gradient: select(condition, grad, 0) for on_true and select(condition, 0,
// grad) for on_false, summed back to their shapes; none for the condition.
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/select.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Lanes of U whose condition byte is nonzero (bytes widened to U's lanes).
template <class D>
HWY_INLINE auto ConditionMask(D d, const uint8_t* HWY_RESTRICT c) {
  using U = hn::TFromD<D>;
  const hn::Rebind<uint8_t, D> d8;
  if constexpr (sizeof(U) == 1) {
    return hn::Ne(hn::LoadU(d, c), hn::Zero(d));
  } else if constexpr (sizeof(U) == 4) {
    return hn::Ne(hn::PromoteTo(d, hn::LoadU(d8, c)), hn::Zero(d));
  } else {
    const hn::Rebind<uint32_t, D> d32;
    return hn::Ne(hn::PromoteTo(d, hn::PromoteTo(d32, hn::LoadU(d8, c))), hn::Zero(d));
  }
}

// Selects bit patterns of width U; bits 0, 1, 2 of the mode mark c, t, f as
// broadcast scalars. A tail shorter than a vector goes through zero-padded
// copies, so nothing is read or written past the end.
template <int kMode, typename U>
HWY_INLINE void SelectImpl(const uint8_t* HWY_RESTRICT c, const U* HWY_RESTRICT t,
                           const U* HWY_RESTRICT f, U* HWY_RESTRICT out, size_t n) {
  constexpr bool kC = kMode & 1, kT = kMode & 2, kF = kMode & 4;
  const hn::ScalableTag<U> d;
  const size_t lanes = hn::Lanes(d);
  const auto c0 = hn::Ne(hn::Set(d, static_cast<U>(c[0])), hn::Zero(d));
  const auto t0 = hn::Set(d, t[0]);
  const auto f0 = hn::Set(d, f[0]);
  auto step = [&](const uint8_t* cp, const U* tp, const U* fp, U* op) HWY_ATTR {
    const auto m = kC ? c0 : ConditionMask(d, cp);
    hn::StoreU(hn::IfThenElse(m, kT ? t0 : hn::LoadU(d, tp), kF ? f0 : hn::LoadU(d, fp)), d, op);
  };
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) step(c + i, t + i, f + i, out + i);
  if (i < n) {
    const size_t rest = n - i;
    uint8_t cb[HWY_MAX_BYTES] = {};
    U tb[HWY_MAX_BYTES / sizeof(U)] = {}, fb[HWY_MAX_BYTES / sizeof(U)] = {};
    U ob[HWY_MAX_BYTES / sizeof(U)];
    if (!kC) std::memcpy(cb, c + i, rest);
    if (!kT) std::memcpy(tb, t + i, rest * sizeof(U));
    if (!kF) std::memcpy(fb, f + i, rest * sizeof(U));
    step(cb, tb, fb, ob);
    std::memcpy(out + i, ob, rest * sizeof(U));
  }
}

template <typename U>
void SelectLoop(const uint8_t* c, const U* t, const U* f, U* out, size_t n, int mode) {
  switch (mode) {
    case 0: return SelectImpl<0>(c, t, f, out, n);
    case 1: return SelectImpl<1>(c, t, f, out, n);
    case 2: return SelectImpl<2>(c, t, f, out, n);
    case 3: return SelectImpl<3>(c, t, f, out, n);
    case 4: return SelectImpl<4>(c, t, f, out, n);
    case 5: return SelectImpl<5>(c, t, f, out, n);
    case 6: return SelectImpl<6>(c, t, f, out, n);
    default: return SelectImpl<7>(c, t, f, out, n);
  }
}
void Select8(const uint8_t* c, const uint8_t* t, const uint8_t* f, uint8_t* o, size_t n, int m) {
  SelectLoop(c, t, f, o, n, m);
}
void Select32(const uint8_t* c, const uint32_t* t, const uint32_t* f, uint32_t* o, size_t n, int m) {
  SelectLoop(c, t, f, o, n, m);
}
void Select64(const uint8_t* c, const uint64_t* t, const uint64_t* f, uint64_t* o, size_t n, int m) {
  SelectLoop(c, t, f, o, n, m);
}
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/elementwise.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(Select8);
HWY_EXPORT(Select32);
HWY_EXPORT(Select64);
namespace {

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  const TensorType& c = ctx.inputs[0];
  const TensorType& t = ctx.inputs[1];
  const TensorType& f = ctx.inputs[2];
  if (c.dtype != DType::kBool) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a bool condition, got ", c.ToString()));
  }
  if (t.dtype != f.dtype) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected on_true and on_false of one dtype, got ", t.ToString(), " and ",
        f.ToString()));
  }
  absl::StatusOr<Shape> ct = BroadcastShapes(c.shape, t.shape);
  absl::StatusOr<Shape> shape = ct.ok() ? BroadcastShapes(*ct, f.shape) : ct;
  if (!shape.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shapes ", c.shape.ToString(), ", ", t.shape.ToString(), " and ",
        f.shape.ToString(), " do not broadcast"));
  }
  return TensorType{t.dtype, *std::move(shape)};
}

template <typename U>
void RunSelect(const KernelContext& ctx,
               void (*loop)(const uint8_t*, const U*, const U*, U*, size_t, int)) {
  const auto* c = ctx.inputs[0]->data<uint8_t>();
  const U* t = ctx.inputs[1]->data<U>();
  const U* f = ctx.inputs[2]->data<U>();
  U* out = ctx.output->data<U>();
  ForEachBroadcastRun(ctx, [&](const int64_t* off, int64_t o, int64_t n, int mode) {
    loop(c + off[0], t + off[1], f + off[2], out + o, n, mode);
  });
}

absl::Status Interp(const KernelContext& ctx) {
  // Selection moves bits: dispatch on the element width only.
  switch (DTypeSize(ctx.output->dtype())) {
    case 1: RunSelect<uint8_t>(ctx, HWY_DYNAMIC_DISPATCH(Select8)); break;
    case 4: RunSelect<uint32_t>(ctx, HWY_DYNAMIC_DISPATCH(Select32)); break;
    case 8: RunSelect<uint64_t>(ctx, HWY_DYNAMIC_DISPATCH(Select64)); break;
    default: return absl::InternalError("unexpected element size");
  }
  return absl::OkStatus();
}

// Copies each element's bytes from the input the condition picks.
absl::Status Reference(const KernelContext& ctx) {
  const Buffer& c = *ctx.inputs[0];
  const Shape& out = ctx.output->shape();
  const size_t size = DTypeSize(ctx.output->dtype());
  for (int64_t i = 0; i < ctx.output->num_elements(); ++i) {
    const bool cond = c.data<uint8_t>()[BroadcastSourceIndex(c.shape(), out, i)] != 0;
    const Buffer& src = *ctx.inputs[cond ? 1 : 2];
    const int64_t j = BroadcastSourceIndex(src.shape(), out, i);
    std::memcpy(static_cast<char*>(ctx.output->raw()) + i * size,
                static_cast<const char*>(src.raw()) + j * size, size);
  }
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  auto add = [&](DType dtype, Shape c, Shape a, Shape b) {
    const bool is_float = dtype == DType::kF32;
    const double lo = dtype == DType::kBool ? 0 : -3, hi = dtype == DType::kBool ? 1 : 3;
    t.cases.push_back({absl::StrCat(DTypeName(dtype), c.ToString(), a.ToString(), b.ToString()),
                       {{{DType::kBool, c}, 0, 1, false, true},
                        {{dtype, a}, lo, hi, false, !is_float},
                        {{dtype, b}, lo, hi, false, !is_float}},
                       {},
                       is_float});
  };
  add(DType::kF32, Shape{}, Shape{}, Shape{});
  add(DType::kF32, Shape{3, 17}, Shape{3, 17}, Shape{3, 17});
  add(DType::kF32, Shape{3, 1}, Shape{1, 17}, Shape{17});
  add(DType::kF32, Shape{}, Shape{2, 9}, Shape{});
  add(DType::kF32, Shape{2, 19}, Shape{Shape::kBatch, 1, 1}, Shape{Shape::kBatch, 2, 19});
  add(DType::kF32, Shape{Shape::kBatch, 2, 1}, Shape{19}, Shape{2, 1});
  for (DType d : {DType::kI32, DType::kI64, DType::kBool}) {
    add(d, Shape{3, 17}, Shape{3, 17}, Shape{3, 17});
    add(d, Shape{3, 1}, Shape{}, Shape{1, 67});
  }
  t.bad.push_back({"f32 condition",
                   {{DType::kF32, Shape{3}}, {DType::kF32, Shape{3}}, {DType::kF32, Shape{3}}},
                   {}, "expected a bool condition, got f32[3]"});
  t.bad.push_back({"mixed values",
                   {{DType::kBool, Shape{3}}, {DType::kF32, Shape{3}}, {DType::kI32, Shape{3}}},
                   {}, "expected on_true and on_false of one dtype, got f32[3] and i32[3]"});
  t.bad.push_back({"no broadcast",
                   {{DType::kBool, Shape{3}}, {DType::kF32, Shape{3}}, {DType::kF32, Shape{4}}},
                   {}, "shapes [3], [3] and [4] do not broadcast"});
  t.bad.push_back({"condition does not broadcast",
                   {{DType::kBool, Shape{2}}, {DType::kI64, Shape{3}}, {DType::kI64, Shape{3}}},
                   {}, "do not broadcast"});
  return t;
}

}  // namespace

const OpDef kSelectOp = {
    .name = "select",
    .arity = 3,
    .fusion = FusionKind::kElementwise,
    .infer = Infer,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const Tensor& c = g.inputs[0];
      const Tensor zero = ScalarLike(g.output_grad, 0.0);
      std::vector<Tensor> grads(3);
      if (g.needs_grad[1]) {
        grads[1] = ReduceToShape(Select(c, g.output_grad, zero), g.inputs[1].shape());
      }
      if (g.needs_grad[2]) {
        grads[2] = ReduceToShape(Select(c, zero, g.output_grad), g.inputs[2].shape());
      }
      return grads;
    },
    .interp = Interp,
    .lower = LowerElement<+[](LoweringContext& c) {
      return c.builder.CreateSelect(c.operands[0], c.operands[1], c.operands[2]);
    }>,
    .reference = Reference,
    .tests = Tests,
};

Tensor Select(const Tensor& condition, const Tensor& on_true, const Tensor& on_false,
              SourceLoc loc) {
  return Apply(kSelectOp, {condition, on_true, on_false}, {}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
