// cast: converts x to the attribute dtype=<f32|i32|i64|bool>, from any dtype.
// f32 to an integer truncates toward zero (as static_cast does), saturating
// outside the integer's range, with NaN giving 0; to bool is x != 0 (NaN is
// true); bool to a number is 0 or 1; i64 to i32 keeps the low 32 bits;
// integers to f32 round to nearest.
// Gradient: f32 to f32 passes the gradient through; casts to or from other
// dtypes have none (autodiff never asks for it).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cast.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The common f32 <-> i32 pair runs on vectors; the scalar tail follows the
// same rules as the loops in the HWY_ONCE part.
void F32ToI32(const float* HWY_RESTRICT x, int32_t* HWY_RESTRICT y, size_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t lanes = hn::Lanes(df);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto v = hn::LoadU(df, x + i);
    // ConvertTo truncates and saturates; NaN is zeroed first.
    hn::StoreU(hn::ConvertTo(di, hn::IfThenZeroElse(hn::IsNaN(v), v)), di, y + i);
  }
  for (; i < n; ++i) {
    const float v = x[i];
    y[i] = v != v ? 0 : v >= 2147483648.0f ? INT32_MAX : v < -2147483648.0f
                                               ? INT32_MIN : static_cast<int32_t>(v);
  }
}
void I32ToF32(const int32_t* HWY_RESTRICT x, float* HWY_RESTRICT y, size_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t lanes = hn::Lanes(df);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::ConvertTo(df, hn::LoadU(di, x + i)), df, y + i);
  for (; i < n; ++i) y[i] = static_cast<float>(x[i]);
}
}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/lowering_helpers_internal.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(F32ToI32);
HWY_EXPORT(I32ToF32);
namespace {

constexpr int64_t kGrain = 1 << 14;

// One element by the rules above (for the interpreter's other pairs).
template <typename To, typename From>
To Convert(From v) {
  if constexpr (std::is_same_v<To, uint8_t>) {
    return v != 0;
  } else if constexpr (std::is_same_v<From, float> && std::is_integral_v<To>) {
    if (std::isnan(v)) return 0;
    // Both bounds are powers of two, exact in float.
    constexpr float kHi = static_cast<float>(std::numeric_limits<To>::max());
    constexpr float kLo = static_cast<float>(std::numeric_limits<To>::min());
    if (v >= kHi) return std::numeric_limits<To>::max();
    if (v < kLo) return std::numeric_limits<To>::min();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  KILN_ASSIGN_OR_RETURN(DType dtype, ctx.attrs.Get<DType>("dtype"));
  return TensorType{dtype, ctx.inputs[0].shape};
}

absl::Status Interp(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  Buffer& y = *ctx.output;
  const DType from = x.dtype(), to = y.dtype();
  if (from == to) {
    std::memcpy(y.raw(), x.raw(), y.size_bytes());
    return absl::OkStatus();
  }
  ctx.parallel.For(y.num_elements(), kGrain, [&](int64_t b, int64_t e) {
    if (from == DType::kF32 && to == DType::kI32) {
      HWY_DYNAMIC_DISPATCH(F32ToI32)(x.data<float>() + b, y.data<int32_t>() + b, e - b);
    } else if (from == DType::kI32 && to == DType::kF32) {
      HWY_DYNAMIC_DISPATCH(I32ToF32)(x.data<int32_t>() + b, y.data<float>() + b, e - b);
    } else {
      VisitDType(from, [&](auto f) {
        VisitDType(to, [&](auto t) {
          using From = decltype(f);
          using To = decltype(t);
          const From* in = x.data<From>();
          To* out = y.data<To>();
          for (int64_t i = b; i < e; ++i) out[i] = Convert<To>(in[i]);
        });
      });
    }
  });
  return absl::OkStatus();
}

// Written out per destination from the input's exact value.
absl::Status Reference(const KernelContext& ctx) {
  const Buffer& x = *ctx.inputs[0];
  Buffer& y = *ctx.output;
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    const bool is_float = x.dtype() == DType::kF32;
    const double v = is_float ? x.data<float>()[i] : 0.0;
    const int64_t k = x.dtype() == DType::kI32   ? x.data<int32_t>()[i]
                      : x.dtype() == DType::kI64 ? x.data<int64_t>()[i]
                      : x.dtype() == DType::kBool ? x.data<uint8_t>()[i]
                                                  : 0;
    switch (y.dtype()) {
      case DType::kF32:
        y.data<float>()[i] = is_float ? static_cast<float>(v) : static_cast<float>(k);
        break;
      case DType::kI32:
        y.data<int32_t>()[i] =
            !is_float ? static_cast<int32_t>(static_cast<uint32_t>(k))  // low 32 bits
            : std::isnan(v) ? 0
                            : static_cast<int32_t>(std::clamp(std::trunc(v), -2147483648.0, 2147483647.0));
        break;
      case DType::kI64:
        y.data<int64_t>()[i] =
            !is_float ? k
            : std::isnan(v) ? 0
            : v >= 9223372036854775808.0 ? std::numeric_limits<int64_t>::max()
            : v < -9223372036854775808.0 ? std::numeric_limits<int64_t>::min()
                                          : static_cast<int64_t>(std::trunc(v));
        break;
      case DType::kBool:
        y.data<uint8_t>()[i] = is_float ? v != 0.0 : k != 0;
        break;
    }
  }
  return absl::OkStatus();
}

// The JIT's form of the rules above, on LLVM vector types (i1 is bool):
// llvm.fptosi.sat truncates toward zero, saturates and maps NaN to 0.
llvm::Value* Lower(LoweringContext& c) {
  llvm::IRBuilderBase& b = c.builder;
  llvm::Value* x = c.operands[0];
  llvm::Type* from = x->getType();
  llvm::Type* to = c.result_type;
  auto is_bool = [](llvm::Type* t) { return t->getScalarType()->isIntegerTy(1); };
  if (from == to) return x;
  if (is_bool(to)) {
    llvm::Value* zero = llvm::Constant::getNullValue(from);
    return from->isFPOrFPVectorTy() ? b.CreateFCmpUNE(x, zero) : b.CreateICmpNE(x, zero);
  }
  if (is_bool(from)) return to->isFPOrFPVectorTy() ? b.CreateUIToFP(x, to) : b.CreateZExt(x, to);
  if (from->isFPOrFPVectorTy()) {
    return b.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {to, from}, {x});
  }
  if (to->isFPOrFPVectorTy()) return b.CreateSIToFP(x, to);
  return b.CreateSExtOrTrunc(x, to);  // i64 -> i32 keeps the low bits
}

OpTests Tests() {
  OpTests t;
  auto input = [](DType d, Shape s) {
    switch (d) {
      case DType::kF32: return TestInput{{d, s}, -5, 5, /*avoid_integers=*/true, false};
      case DType::kBool: return TestInput{{d, s}, 0, 1, false, /*integer_values=*/true};
      default: return TestInput{{d, s}, -3, 3, false, /*integer_values=*/true};
    }
  };
  for (DType from : kAllDTypes) {
    for (DType to : kAllDTypes) {
      const bool f32 = from == DType::kF32 && to == DType::kF32;
      t.cases.push_back({absl::StrCat(DTypeName(from), "->", DTypeName(to)),
                         {input(from, Shape{3, 17})}, Attrs{{"dtype", to}}, f32});
    }
  }
  t.cases.push_back({"scalar", {input(DType::kF32, Shape{})}, Attrs{{"dtype", DType::kI32}}, false});
  t.cases.push_back({"batch", {input(DType::kF32, Shape{Shape::kBatch, 2, 19})},
                     Attrs{{"dtype", DType::kF32}}});
  t.cases.push_back({"batch i32", {input(DType::kI32, Shape{Shape::kBatch, 2, 19})},
                     Attrs{{"dtype", DType::kF32}}, false});
  t.bad.push_back({"no dtype", {{DType::kF32, Shape{3}}}, {}, "missing attribute 'dtype'"});
  t.bad.push_back({"dtype not a dtype", {{DType::kF32, Shape{3}}},
                   Attrs{{"dtype", std::string("f32")}}, "attribute 'dtype' has the wrong type"});
  return t;
}

}  // namespace

const OpDef kCastOp = {
    .name = "cast",
    .arity = 1,
    .fusion = FusionKind::kElementwise,
    .infer = Infer,
    .grad = [](const GradContext& g) -> std::vector<Tensor> {
      const bool f32 = g.inputs[0].dtype() == DType::kF32 && g.output.dtype() == DType::kF32;
      return {f32 ? g.output_grad : Tensor()};
    },
    .interp = Interp,
    .lower = LowerElement<Lower>,
    .reference = Reference,
    .tests = Tests,
};

Tensor Cast(const Tensor& x, DType dtype, SourceLoc loc) {
  return Apply(kCastOp, {x}, Attrs{{"dtype", dtype}}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
