// Node attributes: a small sorted map from name to a typed value.
//
// Value types and their text forms (stable, parsed back by graph/parser.h):
//   int64        7            double   1.5, -inf
//   string       "relu"       dtype    f32
//   int list     (1,2)        shape    [N,28,28,1]   (N = batch, see shape.h)
//   buffer       f32[2]{1,2}  (constants)
//
//   Attrs a;  a.Set("axes", std::vector<int64_t>{1});  a.Set("keepdims", int64_t{0});
//   a.ToString() == "{axes=(1), keepdims=0}";  *a.Get<std::vector<int64_t>>("axes")
#ifndef KILN_GRAPH_ATTRS_H_
#define KILN_GRAPH_ATTRS_H_

#include <cstdint>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "graph/buffer.h"
#include "graph/dtype.h"
#include "graph/shape.h"

namespace kiln {

using IntList = std::vector<int64_t>;
using AttrValue = std::variant<int64_t, double, std::string, IntList, Shape,
                               DType, std::shared_ptr<const Buffer>>;

std::string AttrValueToString(const AttrValue& v);
bool AttrValueEquals(const AttrValue& a, const AttrValue& b);

class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<std::string, AttrValue>> items);

  void Set(absl::string_view name, AttrValue value);
  bool Has(absl::string_view name) const { return Find(name) != nullptr; }
  const AttrValue* Find(absl::string_view name) const;

  // The attribute `name` of type T, or an error naming what is missing.
  template <typename T>
  absl::StatusOr<T> Get(absl::string_view name) const {
    const AttrValue* v = Find(name);
    if (v == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing attribute '", name, "'"));
    }
    if (const T* t = std::get_if<T>(v)) return *t;
    return absl::InvalidArgumentError(
        absl::StrCat("attribute '", name, "' has the wrong type: ",
                     AttrValueToString(*v)));
  }
  template <typename T>
  T GetOr(absl::string_view name, T fallback) const {
    const AttrValue* v = Find(name);
    if (v == nullptr) return fallback;
    const T* t = std::get_if<T>(v);
    return t != nullptr ? *t : fallback;
  }

  const std::vector<std::pair<std::string, AttrValue>>& items() const {
    return items_;
  }
  bool empty() const { return items_.empty(); }
  // "{a=1, b=(2,3)}", or "" when empty.
  std::string ToString() const;
  friend bool operator==(const Attrs& a, const Attrs& b);
  // Hash consistent with operator== (used by CSE).
  size_t Hash() const;

 private:
  std::vector<std::pair<std::string, AttrValue>> items_;  // sorted by name
};

}  // namespace kiln

#endif  // KILN_GRAPH_ATTRS_H_
