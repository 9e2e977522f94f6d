#include "graph/shape.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kiln {

bool Shape::IsConcrete() const {
  return std::none_of(dims_.begin(), dims_.end(),
                      [](int64_t d) { return d == kBatch; });
}

int64_t Shape::NumElements() const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= (d == kBatch ? 1 : d);
  return n;
}

Shape Shape::Specialize(int64_t batch) const {
  Shape s = *this;
  for (int64_t& d : s.dims_) {
    if (d == kBatch) d = batch;
  }
  return s;
}

std::vector<int64_t> Shape::Strides() const {
  std::vector<int64_t> strides(dims_.size());
  int64_t s = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    strides[i] = s;
    s *= (dims_[i] == kBatch ? 1 : dims_[i]);
  }
  return strides;
}

std::string DimToString(int64_t d) {
  return d == Shape::kBatch ? "N" : absl::StrCat(d);
}

std::string Shape::ToString() const {
  return absl::StrCat(
      "[",
      absl::StrJoin(dims_, ",",
                    [](std::string* out, int64_t d) {
                      out->append(DimToString(d));
                    }),
      "]");
}

absl::StatusOr<Shape> Shape::Parse(absl::string_view text) {
  absl::string_view body = text;
  if (!absl::ConsumePrefix(&body, "[") || !absl::ConsumeSuffix(&body, "]")) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape must look like [N,3,4], got '", text, "'"));
  }
  std::vector<int64_t> dims;
  if (!body.empty()) {
    for (absl::string_view part : absl::StrSplit(body, ',')) {
      part = absl::StripAsciiWhitespace(part);
      int64_t d;
      if (part == "N") {
        dims.push_back(kBatch);
      } else if (absl::SimpleAtoi(part, &d) && d >= 0) {
        dims.push_back(d);
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("bad dimension '", part, "' in shape '", text, "'"));
      }
    }
  }
  return Shape(std::move(dims));
}

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const int rank = std::max(a.rank(), b.rank());
  std::vector<int64_t> dims(rank);
  for (int i = 0; i < rank; ++i) {
    const int ia = a.rank() - rank + i;
    const int ib = b.rank() - rank + i;
    const int64_t da = ia >= 0 ? a.dim(ia) : 1;
    const int64_t db = ib >= 0 ? b.dim(ib) : 1;
    if (da == db || db == 1) {
      dims[i] = da;
    } else if (da == 1) {
      dims[i] = db;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("shapes ", a.ToString(), " and ", b.ToString(),
                       " do not broadcast (dimension ", i, ": ",
                       DimToString(da), " vs ", DimToString(db), ")"));
    }
  }
  return Shape(std::move(dims));
}

absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "axis ", axis, " is out of range for a rank-", rank, " tensor"));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

}  // namespace kiln
