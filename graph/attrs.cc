#include "graph/attrs.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "absl/hash/hash.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace kiln {
namespace {

std::string DoubleToString(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string s = absl::StrFormat("%.17g", d);
  // Shortest form that reads back exactly.
  for (int precision = 1; precision < 17; ++precision) {
    std::string t = absl::StrFormat("%.*g", precision, d);
    if (std::strtod(t.c_str(), nullptr) == d) {
      s = t;
      break;
    }
  }
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

// Shortest text that reads back as the same float.
std::string FloatToString(float f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  for (int precision = 1; precision < 9; ++precision) {
    std::string t = absl::StrFormat("%.*g", precision, f);
    if (static_cast<float>(std::strtod(t.c_str(), nullptr)) == f) return t;
  }
  return absl::StrFormat("%.9g", f);
}

struct Printer {
  std::string operator()(int64_t v) const { return absl::StrCat(v); }
  std::string operator()(double v) const { return DoubleToString(v); }
  std::string operator()(const std::string& v) const {
    return absl::StrCat("\"", v, "\"");
  }
  std::string operator()(const IntList& v) const {
    return absl::StrCat("(", absl::StrJoin(v, ","), ")");
  }
  std::string operator()(const Shape& v) const { return v.ToString(); }
  std::string operator()(DType v) const { return std::string(DTypeName(v)); }
  std::string operator()(const std::shared_ptr<const Buffer>& b) const {
    std::string out =
        absl::StrCat(DTypeName(b->dtype()), b->shape().ToString(), "{");
    for (int64_t i = 0; i < b->num_elements(); ++i) {
      if (i > 0) out += ",";
      out += b->dtype() == DType::kF32 ? FloatToString(b->data<float>()[i])
                                       : absl::StrCat(b->GetAsDouble(i));
    }
    return out + "}";
  }
};

}  // namespace

std::string AttrValueToString(const AttrValue& v) {
  return std::visit(Printer{}, v);
}

bool AttrValueEquals(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* ba = std::get_if<std::shared_ptr<const Buffer>>(&a)) {
    const auto& bb = std::get<std::shared_ptr<const Buffer>>(b);
    return *ba == bb || (*ba && bb && (*ba)->BitwiseEquals(*bb));
  }
  if (const auto* da = std::get_if<double>(&a)) {
    // Bitwise, so that NaN attributes compare equal to themselves.
    const double db = std::get<double>(b);
    return std::memcmp(da, &db, sizeof(double)) == 0;
  }
  return a == b;
}

Attrs::Attrs(std::initializer_list<std::pair<std::string, AttrValue>> items) {
  for (const auto& [name, value] : items) Set(name, value);
}

void Attrs::Set(absl::string_view name, AttrValue value) {
  auto it = std::lower_bound(
      items_.begin(), items_.end(), name,
      [](const auto& item, absl::string_view n) { return item.first < n; });
  if (it != items_.end() && it->first == name) {
    it->second = std::move(value);
  } else {
    items_.insert(it, {std::string(name), std::move(value)});
  }
}

const AttrValue* Attrs::Find(absl::string_view name) const {
  auto it = std::lower_bound(
      items_.begin(), items_.end(), name,
      [](const auto& item, absl::string_view n) { return item.first < n; });
  return (it != items_.end() && it->first == name) ? &it->second : nullptr;
}

std::string Attrs::ToString() const {
  if (items_.empty()) return "";
  return absl::StrCat(
      "{",
      absl::StrJoin(items_, ", ",
                    [](std::string* out, const auto& item) {
                      absl::StrAppend(out, item.first, "=",
                                      AttrValueToString(item.second));
                    }),
      "}");
}

bool operator==(const Attrs& a, const Attrs& b) {
  if (a.items_.size() != b.items_.size()) return false;
  for (size_t i = 0; i < a.items_.size(); ++i) {
    if (a.items_[i].first != b.items_[i].first ||
        !AttrValueEquals(a.items_[i].second, b.items_[i].second)) {
      return false;
    }
  }
  return true;
}

size_t Attrs::Hash() const {
  // The printed form is canonical, so hashing it agrees with operator==.
  return absl::HashOf(ToString());
}

}  // namespace kiln
