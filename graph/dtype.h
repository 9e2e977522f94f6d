// Element types of kiln tensors.
//
// kiln computes in f32; i32 and i64 carry labels and indices; bool is the
// result of comparisons and stored one byte per element.
//
//   DType t = DType::kF32;
//   DTypeSize(t) == 4;  DTypeName(t) == "f32";  ParseDType("i64") == kI64
#ifndef KILN_GRAPH_DTYPE_H_
#define KILN_GRAPH_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace kiln {

enum class DType : uint8_t { kF32, kI32, kI64, kBool };

inline constexpr DType kAllDTypes[] = {DType::kF32, DType::kI32, DType::kI64,
                                       DType::kBool};

size_t DTypeSize(DType t);
absl::string_view DTypeName(DType t);
absl::StatusOr<DType> ParseDType(absl::string_view name);
inline bool IsFloat(DType t) { return t == DType::kF32; }
inline bool IsInteger(DType t) { return t == DType::kI32 || t == DType::kI64; }

// The C++ type behind each dtype, for kernels templated on the element type.
template <DType T> struct CType;
template <> struct CType<DType::kF32> { using type = float; };
template <> struct CType<DType::kI32> { using type = int32_t; };
template <> struct CType<DType::kI64> { using type = int64_t; };
template <> struct CType<DType::kBool> { using type = uint8_t; };

// Calls fn(T{}) with a value of the C type of `t`, e.g. to instantiate a
// template kernel: VisitDType(t, [&](auto zero) { Fill<decltype(zero)>(); }).
template <typename Fn>
decltype(auto) VisitDType(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF32: return fn(float{});
    case DType::kI32: return fn(int32_t{});
    case DType::kI64: return fn(int64_t{});
    case DType::kBool: return fn(uint8_t{});
  }
  return fn(float{});
}

}  // namespace kiln

#endif  // KILN_GRAPH_DTYPE_H_
