#include "layers/npy.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/file_io.h"

namespace kiln {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              ".npy reading and writing assume a little-endian host");

constexpr absl::string_view kMagic("\x93NUMPY", 6);
constexpr size_t kAlign = 64;  // numpy pads the header to this
constexpr int kMaxRank = 64;   // NPY_MAXDIMS of numpy 2 (numpy 1: 32)

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// A recursive-descent reader of the header's Python dict literal, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  explicit HeaderParser(absl::string_view text) : text_(text) {}

  absl::StatusOr<NpyHeader> Parse() {
    NpyHeader h;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    SkipSpace();
    if (!Consume('{')) return Error("expected '{'");
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      KILN_ASSIGN_OR_RETURN(std::string key, ParseString());
      SkipSpace();
      if (!Consume(':')) return Error("expected ':' after a key");
      SkipSpace();
      bool* seen = nullptr;
      if (key == "descr") {
        seen = &seen_descr;
        if (Peek() == '[') {
          return absl::InvalidArgumentError(
              "structured (record) dtypes are not supported");
        }
        KILN_ASSIGN_OR_RETURN(h.descr, ParseString());
      } else if (key == "fortran_order") {
        seen = &seen_fortran;
        KILN_ASSIGN_OR_RETURN(h.fortran_order, ParseBool());
      } else if (key == "shape") {
        seen = &seen_shape;
        KILN_ASSIGN_OR_RETURN(h.shape, ParseShape());
      } else {
        return Error(absl::StrCat("unexpected key '", key, "'"));
      }
      if (*seen) return Error(absl::StrCat("duplicate key '", key, "'"));
      *seen = true;
      SkipSpace();
      if (Consume('}')) break;
      if (!Consume(',')) return Error("expected ',' or '}'");
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text after '}'");
    if (!seen_descr || !seen_fortran || !seen_shape) {
      return Error("needs the keys 'descr', 'fortran_order' and 'shape'");
    }
    return h;
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool Consume(char c) {
    if (Peek() != c || pos_ >= text_.size()) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(text_[pos_])) ++pos_;
  }
  absl::Status Error(absl::string_view what) const {
    absl::string_view shown = text_.substr(0, 200);
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed header: ", what, " at offset ", pos_, " of \"",
        absl::CEscape(shown), shown.size() < text_.size() ? "..." : "", "\""));
  }

  absl::StatusOr<std::string> ParseString() {
    char quote = Peek();
    if (quote != '\'' && quote != '"') return Error("expected a quoted string");
    ++pos_;
    size_t end = text_.find(quote, pos_);
    if (end == absl::string_view::npos) return Error("unterminated string");
    std::string s(text_.substr(pos_, end - pos_));
    if (s.find('\\') != std::string::npos) {
      return Error("escapes in strings are not supported");
    }
    pos_ = end + 1;
    return s;
  }

  absl::StatusOr<bool> ParseBool() {
    for (auto [word, value] :
         {std::pair<absl::string_view, bool>{"True", true}, {"False", false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    return Error("expected True or False");
  }

  absl::StatusOr<std::vector<int64_t>> ParseShape() {
    if (!Consume('(')) return Error("expected '(' to start the shape");
    std::vector<int64_t> dims;
    while (true) {
      SkipSpace();
      if (Consume(')')) break;
      if (Peek() == '-') return Error("negative dimension in the shape");
      if (!absl::ascii_isdigit(Peek())) return Error("expected a dimension");
      int64_t d = 0;
      while (absl::ascii_isdigit(Peek())) {
        if (d > (int64_t{1} << 56)) return Error("dimension too large");
        d = d * 10 + (text_[pos_++] - '0');
      }
      Consume('L');  // Python 2 long literals
      dims.push_back(d);
      if (dims.size() > kMaxRank) return Error("more than 64 dimensions");
      SkipSpace();
      if (Consume(')')) break;
      if (!Consume(',')) return Error("expected ',' or ')' in the shape");
    }
    return dims;
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

// How a numpy dtype maps onto a kiln dtype.
struct NpyType {
  DType dtype;
  char kind;     // numpy kind: 'f', 'i', 'u' or 'b'
  int itemsize;  // bytes per element in the file
};

absl::StatusOr<NpyType> ParseDescr(const std::string& descr) {
  if (descr.size() < 2 || !absl::StrContains("<>|=", descr[0])) {
    if (descr == "O" || (descr.size() >= 2 && descr[1] == 'O')) {
      return absl::InvalidArgumentError(
          "object arrays (pickled Python objects) are not supported");
    }
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported dtype '", descr, "'"));
  }
  char order = descr[0];
  absl::string_view type = absl::string_view(descr).substr(1);
  if (type == "O") {
    return absl::InvalidArgumentError(
        "object arrays (pickled Python objects) are not supported");
  }
  static constexpr std::pair<absl::string_view, NpyType> kTypes[] = {
      {"f4", {DType::kF32, 'f', 4}},  {"f8", {DType::kF32, 'f', 8}},
      {"i4", {DType::kI32, 'i', 4}},  {"i8", {DType::kI64, 'i', 8}},
      {"b1", {DType::kBool, 'b', 1}}, {"i1", {DType::kI32, 'i', 1}},
      {"u1", {DType::kI32, 'u', 1}},  {"i2", {DType::kI32, 'i', 2}},
      {"u2", {DType::kI32, 'u', 2}},  {"u4", {DType::kI64, 'u', 4}},
  };
  for (const auto& [name, t] : kTypes) {
    if (name != type) continue;
    if (order == '>' && t.itemsize > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("big-endian dtype '", descr,
                       "' is not supported; save it with "
                       "arr.astype('<",
                       type, "')"));
    }
    return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported dtype '", descr,
                   "' (supported: <f4 <f8 <i4 <i8 |b1 |i1 |u1 <i2 <u2 <u4)"));
}

// Element-wise conversion from the file's little-endian Src to Dst.
template <typename Src, typename Dst>
void ConvertFrom(const char* src, int64_t n, Dst* dst) {
  for (int64_t i = 0; i < n; ++i) {
    Src v;
    std::memcpy(&v, src + i * sizeof(Src), sizeof(Src));
    if constexpr (std::is_same_v<Dst, uint8_t>) {
      dst[i] = v != 0;
    } else {
      dst[i] = static_cast<Dst>(v);
    }
  }
}

// Rounds to nearest; beyond f32's range (what rounds past FLT_MAX) is +-inf,
// spelled out because an out-of-range cast is undefined behaviour in C++.
void F64ToF32(const char* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) {
    double v;
    std::memcpy(&v, src + i * sizeof(double), sizeof(double));
    dst[i] = std::fabs(v) >= 0x1.ffffffp127
                 ? std::copysign(std::numeric_limits<float>::infinity(),
                                 static_cast<float>(v > 0 ? 1 : -1))
                 : static_cast<float>(v);
  }
}

void CopyData(const NpyType& t, const char* src, int64_t n, Buffer& out) {
  switch (t.dtype) {
    case DType::kF32:
      if (t.itemsize == 8) return F64ToF32(src, n, out.data<float>());
      std::memcpy(out.raw(), src, n * 4);
      return;
    case DType::kI64:
      if (t.itemsize == 4) {
        return ConvertFrom<uint32_t>(src, n, out.data<int64_t>());
      }
      std::memcpy(out.raw(), src, n * 8);
      return;
    case DType::kBool:
      return ConvertFrom<uint8_t>(src, n, out.data<uint8_t>());
    case DType::kI32: {
      int32_t* dst = out.data<int32_t>();
      if (t.itemsize == 4) std::memcpy(dst, src, n * 4);
      if (t.itemsize == 1 && t.kind == 'i') ConvertFrom<int8_t>(src, n, dst);
      if (t.itemsize == 1 && t.kind == 'u') ConvertFrom<uint8_t>(src, n, dst);
      if (t.itemsize == 2 && t.kind == 'i') ConvertFrom<int16_t>(src, n, dst);
      if (t.itemsize == 2 && t.kind == 'u') ConvertFrom<uint16_t>(src, n, dst);
      return;
    }
  }
}

uint32_t LoadLE(absl::string_view bytes, size_t pos, int width) {
  uint32_t v = 0;
  for (int i = width - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<uint8_t>(bytes[pos + i]);
  }
  return v;
}

absl::string_view DescrOf(DType t) {
  switch (t) {
    case DType::kF32:
      return "<f4";
    case DType::kI32:
      return "<i4";
    case DType::kI64:
      return "<i8";
    case DType::kBool:
      return "|b1";
  }
  return "";
}

}  // namespace

absl::StatusOr<Buffer> ParseNpy(absl::string_view bytes,
                                absl::string_view name_for_errors) {
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_for_errors, ": ", what));
  };
  auto truncated = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(name_for_errors, ": ", what));
  };
  if (bytes.substr(0, kMagic.size()) != kMagic.substr(0, bytes.size())) {
    return error("not a .npy file (bad magic; expected \"\\x93NUMPY\")");
  }
  if (bytes.size() < 10) {
    return truncated(absl::StrCat("truncated .npy file: ", bytes.size(),
                                  " bytes, shorter than the 10-byte preamble"));
  }
  const int major = static_cast<uint8_t>(bytes[6]);
  const int minor = static_cast<uint8_t>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    return error(absl::StrCat("unsupported .npy format version ", major, ".",
                              minor, " (supported: 1.0, 2.0, 3.0)"));
  }
  const size_t prefix = major == 1 ? 10 : 12;
  if (bytes.size() < prefix) {
    return truncated("truncated .npy file: the header length is cut off");
  }
  const uint64_t header_len = LoadLE(bytes, 8, major == 1 ? 2 : 4);
  if (header_len > bytes.size() - prefix) {
    return truncated(absl::StrCat("truncated header: it declares ", header_len,
                                  " bytes but the file has ",
                                  bytes.size() - prefix,
                                  " after the preamble"));
  }
  auto header = HeaderParser(bytes.substr(prefix, header_len)).Parse();
  if (!header.ok()) return error(header.status().message());
  auto type = ParseDescr(header->descr);
  if (!type.ok()) return error(type.status().message());
  if (header->fortran_order) {
    // Fortran and C order agree when at most one dimension exceeds 1.
    int big_dims = 0;
    for (int64_t d : header->shape) big_dims += d > 1;
    if (big_dims > 1) {
      return error(
          "Fortran-order arrays are not supported; save "
          "np.ascontiguousarray(arr) instead");
    }
  }
  int64_t count = 1;
  for (int64_t d : header->shape) {
    if (__builtin_mul_overflow(count, d, &count) ||
        count > (int64_t{1} << 56)) {
      return error("the shape's element count overflows");
    }
  }
  const size_t data_pos = prefix + header_len;
  const uint64_t have = bytes.size() - data_pos;
  const uint64_t need = static_cast<uint64_t>(count) * type->itemsize;
  if (have < need) {
    return truncated(absl::StrCat(
        "truncated data: shape ", Shape(header->shape).ToString(), " of '",
        header->descr, "' needs ", need, " bytes, the file has ", have));
  }
  if (have > need) {
    return error(absl::StrCat("size mismatch: shape ",
                              Shape(header->shape).ToString(), " of '",
                              header->descr, "' needs ", need,
                              " bytes of data, the file has ", have));
  }
  Buffer out(type->dtype, Shape(std::move(header->shape)));
  CopyData(*type, bytes.data() + data_pos, count, out);
  return out;
}

absl::StatusOr<Buffer> ReadNpy(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseNpy(bytes, path);
}

absl::StatusOr<std::string> SerializeNpy(const Buffer& b) {
  if (b.raw() == nullptr) {
    return absl::InvalidArgumentError(
        "cannot save a Buffer without data as .npy");
  }
  if (b.shape().rank() > kMaxRank) {
    return absl::InvalidArgumentError(absl::StrCat("cannot save a rank-",
                                                   b.shape().rank(),
                                                   " array as .npy (numpy "
                                                   "allows at most ",
                                                   kMaxRank, " dimensions)"));
  }
  std::vector<std::string> dims;
  for (int64_t d : b.shape().dims()) dims.push_back(absl::StrCat(d));
  std::string shape = absl::StrCat("(", absl::StrJoin(dims, ", "),
                                   dims.size() == 1 ? ",)" : ")");
  std::string dict =
      absl::StrCat("{'descr': '", DescrOf(b.dtype()),
                   "', 'fortran_order': False, 'shape': ", shape, ", }");
  // Pad with spaces so that the data starts on a 64-byte boundary. With at
  // most 64 dimensions the header always fits format 1.0's 16-bit length.
  const size_t unpadded = 10 + dict.size() + 1;
  const size_t header_len =
      dict.size() + 1 + (kAlign - unpadded % kAlign) % kAlign;
  KILN_CHECK(header_len <= 0xFFFF);
  std::string out(kMagic);
  out.push_back(1);  // version 1.0
  out.push_back(0);
  out.push_back(static_cast<char>(header_len & 0xFF));
  out.push_back(static_cast<char>(header_len >> 8));
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out.push_back('\n');
  out.append(static_cast<const char*>(b.raw()), b.size_bytes());
  return out;
}

absl::Status WriteNpy(const std::string& path, const Buffer& b) {
  auto bytes = SerializeNpy(b);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write '", path, "': ", bytes.status().message()));
  }
  return WriteFileAtomically(path, *bytes);
}

}  // namespace kiln
