#include "layers/fit_data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "graph/status_macros.h"
#include "layers/python_format.h"

namespace kiln {
namespace {

// Bytes per row of `b` (all dimensions after the first).
size_t RowBytes(const Buffer& b) {
  return b.shape().dim(0) == 0 ? 0 : b.size_bytes() / b.shape().dim(0);
}

Shape WithRows(const Shape& shape, int64_t rows) {
  std::vector<int64_t> dims = shape.dims();
  dims[0] = rows;
  return Shape(std::move(dims));
}

absl::Status CheckArray(const Buffer& b, const std::string& what) {
  if (b.raw() == nullptr && b.num_elements() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has no data"));
  }
  if (b.shape().rank() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is a scalar; expected rows along the first dimension"));
  }
  return absl::OkStatus();
}

Buffer GatherRowsOf(const Buffer& b, absl::Span<const int64_t> rows) {
  Buffer out(b.dtype(), WithRows(b.shape(), static_cast<int64_t>(rows.size())));
  const size_t row_bytes = RowBytes(b);
  const auto* src = static_cast<const char*>(b.raw());
  auto* dst = static_cast<char*>(out.raw());
  for (size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(dst + i * row_bytes, src + rows[i] * row_bytes, row_bytes);
  }
  return out;
}

}  // namespace

Buffer RowsView(const Buffer& b, int64_t begin, int64_t end) {
  auto* base = static_cast<char*>(const_cast<void*>(b.raw()));
  return Buffer::View(b.dtype(), WithRows(b.shape(), end - begin), base + begin * RowBytes(b));
}

absl::StatusOr<ArrayData> ArrayData::Make(absl::Span<const Buffer* const> x,
                                          absl::Span<const Buffer* const> y,
                                          const Buffer* sample_weight,
                                          absl::Span<const std::string> output_names,
                                          absl::Span<const Buffer* const> output_sample_weights) {
  if (x.empty()) return absl::InvalidArgumentError("no input arrays (x) given");
  if (y.empty()) return absl::InvalidArgumentError("no target arrays (y) given");
  // Every array with its name; the first target (else x) sets the rows.
  std::vector<std::pair<std::string, const Buffer*>> named;
  // The per-output arrays called `what` (null ones left out).
  auto add_per_output = [&](absl::Span<const Buffer* const> arrays, absl::string_view what) {
    for (size_t i = 0; i < arrays.size(); ++i) {
      if (arrays[i] == nullptr) continue;
      std::string name = arrays.size() == 1 ? std::string(what) : absl::StrCat(what, "[", i, "]");
      if (arrays.size() > 1 && i < output_names.size()) {
        absl::StrAppend(&name, " (output '", output_names[i], "')");
      }
      named.push_back({std::move(name), arrays[i]});
    }
  };
  add_per_output(y, "y");
  for (size_t i = 0; i < x.size(); ++i) {
    const std::string name = x.size() == 1 ? "x" : absl::StrCat("x[", i, "]");
    if (x[i] == nullptr) return absl::InvalidArgumentError(absl::StrCat(name, " is null"));
    named.push_back({name, x[i]});
  }
  if (sample_weight != nullptr) named.push_back({"sample_weight", sample_weight});
  add_per_output(output_sample_weights, "output_sample_weights");
  for (const auto& [name, b] : named) KILN_RETURN_IF_ERROR(CheckArray(*b, name));
  const auto& [first_name, first] = named.front();
  ArrayData data;
  data.rows = first->shape().dim(0);
  for (const auto& [name, b] : named) {
    if (b->shape().dim(0) != data.rows) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "Data cardinality is ambiguous: %s has %d rows %s but %s has %d rows; every array "
          "needs the same number of rows",
          name, b->shape().dim(0), b->shape().ToString(), first_name, data.rows));
    }
  }
  for (const Buffer* b : x) data.x.push_back(RowsView(*b, 0, data.rows));
  auto view = [&](const Buffer* b) { return b == nullptr ? Buffer() : RowsView(*b, 0, data.rows); };
  for (const Buffer* b : y) data.y.push_back(view(b));
  if (sample_weight != nullptr) data.sample_weight = RowsView(*sample_weight, 0, data.rows);
  for (const Buffer* b : output_sample_weights) data.output_sample_weights.push_back(view(b));
  return data;
}

absl::StatusOr<ArrayData> ArrayData::Make(absl::Span<const Buffer* const> x, const Buffer& y,
                                          const Buffer* sample_weight) {
  const Buffer* targets[] = {&y};
  return Make(x, targets, sample_weight);
}

ArrayData ArrayData::Map(const std::function<Buffer(const Buffer&)>& rows_of,
                         int64_t rows) const {
  ArrayData part;
  for (const Buffer& b : x) part.x.push_back(rows_of(b));
  for (const Buffer& b : y) part.y.push_back(b.empty() ? Buffer() : rows_of(b));
  if (sample_weight.has_value()) part.sample_weight = rows_of(*sample_weight);
  for (const Buffer& b : output_sample_weights) {
    part.output_sample_weights.push_back(b.empty() ? Buffer() : rows_of(b));
  }
  part.rows = rows;
  return part;
}

ArrayData ArrayData::Slice(int64_t begin, int64_t end) const {
  return Map([&](const Buffer& b) { return RowsView(b, begin, end); }, end - begin);
}

absl::StatusOr<std::pair<ArrayData, ArrayData>> ArrayData::SplitForValidation(
    double fraction) const {
  if (!(fraction > 0 && fraction < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("validation_split must be in (0, 1); got ", PythonFloatText(fraction)));
  }
  const auto split_at = static_cast<int64_t>(std::floor(rows * (1.0 - fraction)));
  if (split_at == 0 || split_at == rows) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Training data contains ", rows,
        " samples, which is not sufficient to split it into a "
        "validation and training set as specified by `validation_split=",
        PythonFloatText(fraction),
        "`. Either provide more data, or a different value for the `validation_split` argument."));
  }
  return std::make_pair(Slice(0, split_at), Slice(split_at, rows));
}

ArrayData ArrayData::Gather(absl::Span<const int64_t> row_ids) const {
  return Map([&](const Buffer& b) { return GatherRowsOf(b, row_ids); },
             static_cast<int64_t>(row_ids.size()));
}

std::vector<int64_t> ShuffledOrder(int64_t n, uint64_t seed, int64_t pass) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(pass));
  for (int64_t i = n - 1; i > 0; --i) {
    // Fisher-Yates with a multiply-shift draw in [0, i]: the same everywhere.
    const auto j = static_cast<int64_t>(
        (static_cast<unsigned __int128>(rng()) * static_cast<uint64_t>(i + 1)) >> 64);
    std::swap(order[i], order[j]);
  }
  return order;
}

int64_t BatchesPerPass(int64_t rows, int64_t batch_size) {
  return (rows + batch_size - 1) / batch_size;
}

BatchStream::BatchStream(ArrayData data, int64_t batch_size, bool shuffle, uint64_t seed,
                         int64_t max_passes)
    : data_(std::move(data)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed),
      max_passes_(max_passes) {}

bool BatchStream::exhausted() const {
  return max_passes_ >= 0 && passes_started_ >= max_passes_ && PassOver();
}

int64_t BatchStream::LeftInPass() const {
  if (PassOver()) return BatchesPerPass(data_.rows, batch_size_);
  return BatchesPerPass(data_.rows - next_row_, batch_size_);
}

void BatchStream::StartPass(int64_t pass) {
  pass_ = pass - 1;
  next_row_ = data_.rows;
}

Batch BatchStream::Next() {
  KILN_CHECK(!exhausted());
  if (PassOver()) {
    ++pass_;
    ++passes_started_;
    next_row_ = 0;
    if (shuffle_) order_ = ShuffledOrder(data_.rows, seed_, pass_);
  }
  const int64_t end = std::min(next_row_ + batch_size_, data_.rows);
  ArrayData part =
      shuffle_ ? data_.Gather(absl::MakeConstSpan(order_).subspan(next_row_, end - next_row_))
               : data_.Slice(next_row_, end);
  next_row_ = end;
  return Batch{std::move(part.x), std::move(part.y), std::move(part.sample_weight),
               std::move(part.output_sample_weights), part.rows};
}

}  // namespace kiln
