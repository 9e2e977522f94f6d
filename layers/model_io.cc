// Model::Predict and the .npz weight files.
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/model.h"
#include "layers/npz.h"

namespace kiln {
namespace {

std::string TypeText(DType dtype, const Shape& shape) {
  return absl::StrCat(DTypeName(dtype), shape.ToString());
}

// Rows [begin, end) of `b` (batch first), without copying.
Buffer RowView(const Buffer& b, int64_t begin, int64_t end) {
  std::vector<int64_t> dims = b.shape().dims();
  const int64_t row_bytes = dims[0] == 0 ? 0 : b.size_bytes() / dims[0];
  dims[0] = end - begin;
  auto* data = static_cast<char*>(const_cast<void*>(b.raw())) + begin * row_bytes;
  return Buffer::View(b.dtype(), Shape(std::move(dims)), data);
}

// The parts stacked along axis 0.
Buffer ConcatRows(const std::vector<Buffer>& parts) {
  std::vector<int64_t> dims = parts[0].shape().dims();
  dims[0] = 0;
  for (const Buffer& p : parts) dims[0] += p.shape().dim(0);
  Buffer out(parts[0].dtype(), Shape(std::move(dims)));
  char* dst = static_cast<char*>(out.raw());
  for (const Buffer& p : parts) {
    if (p.size_bytes() > 0) std::memcpy(dst, p.raw(), p.size_bytes());
    dst += p.size_bytes();
  }
  return out;
}

}  // namespace

absl::StatusOr<int64_t> Model::CheckInputArrays(absl::Span<const Buffer* const> inputs,
                                                absl::string_view what) const {
  int64_t rows = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Node& node = inputs_[i].node();
    const std::string input_name = node.attrs.GetOr<std::string>("name", "");
    const Shape& want = node.type.shape;
    const Buffer* b = inputs[i];
    bool fits = b != nullptr && b->dtype() == node.type.dtype && b->shape().rank() == want.rank();
    for (int d = 0; fits && d < want.rank(); ++d) {
      fits = want.dim(d) == Shape::kBatch || want.dim(d) == b->shape().dim(d);
    }
    if (!fits) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": input '", input_name, "' expects ", TypeText(node.type.dtype, want), ", got ",
          b == nullptr ? "no array" : TypeText(b->dtype(), b->shape())));
    }
    if (want.rank() > 0 && want.dim(0) == Shape::kBatch) {
      if (rows >= 0 && rows != b->shape().dim(0)) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": the inputs have different numbers of rows (", rows, " and ",
                         b->shape().dim(0), ")"));
      }
      rows = b->shape().dim(0);
    }
  }
  if (rows == 0) return absl::InvalidArgumentError(absl::StrCat(what, ": the inputs have no rows"));
  return rows;
}

absl::StatusOr<std::vector<Buffer>> Model::Predict(absl::Span<const Buffer* const> inputs,
                                                   const PredictOptions& options) {
  KILN_RETURN_IF_ERROR(status_);
  if (inputs.size() != inputs_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Predict: model '", name_, "' has ",
                                                   inputs_.size(), " inputs, got ", inputs.size(),
                                                   " arrays"));
  }
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Predict: batch_size must be positive, got ", options.batch_size));
  }
  KILN_ASSIGN_OR_RETURN(int64_t rows, CheckInputArrays(inputs, "Predict"));
  const bool batched = rows >= 0;

  Backend backend;
  if (options.backend.has_value()) {
    backend = *options.backend;
  } else {
    KILN_ASSIGN_OR_RETURN(backend, BackendFromEnvironment());
  }
  std::unique_ptr<Executable>& exe = compiled_[static_cast<int>(backend)];
  if (exe == nullptr) {
    ExecutableOptions exe_options;
    exe_options.backend = backend;
    KILN_ASSIGN_OR_RETURN(exe, Executable::Compile(outputs_, exe_options));
  }
  Feeds feeds = LayerFeeds(graph_, /*training=*/false);
  const int64_t step = batched ? options.batch_size : 1;
  const int64_t total = batched ? rows : 1;
  std::vector<std::vector<Buffer>> parts(outputs_.size());
  for (int64_t begin = 0; begin < total; begin += step) {
    const int64_t end = std::min(total, begin + step);
    std::vector<Buffer> views;
    views.reserve(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Node& node = inputs_[i].node();
      const bool has_batch = node.type.shape.rank() > 0 && node.type.shape.dim(0) == Shape::kBatch;
      views.push_back(has_batch ? RowView(*inputs[i], begin, end)
                                : Buffer::View(inputs[i]->dtype(), inputs[i]->shape(),
                                               const_cast<void*>(inputs[i]->raw())));
      feeds[node.attrs.GetOr<std::string>("name", "")] = &views.back();
    }
    KILN_ASSIGN_OR_RETURN(std::vector<Buffer> out, exe->Run(feeds));
    for (size_t o = 0; o < out.size(); ++o) parts[o].push_back(std::move(out[o]));
  }
  std::vector<Buffer> results;
  for (size_t o = 0; o < parts.size(); ++o) {
    if (parts[o].size() == 1) {
      results.push_back(std::move(parts[o][0]));
      continue;
    }
    const Shape& shape = outputs_[o].shape();
    if (shape.rank() == 0 || shape.dim(0) != Shape::kBatch) {
      return absl::InvalidArgumentError(
          absl::StrCat("Predict: output ", o,
                       " has no batch axis to concatenate along; use a batch_size of at "
                       "least the number of rows (",
                       rows, ")"));
    }
    results.push_back(ConcatRows(parts[o]));
  }
  return results;
}

absl::StatusOr<Buffer> Model::Predict(const Buffer& input, const PredictOptions& options) {
  if (outputs_.size() != 1 && status_.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Predict: model '", name_, "' has ", outputs_.size(), " outputs; pass a list of inputs"));
  }
  const Buffer* in[] = {&input};
  KILN_ASSIGN_OR_RETURN(std::vector<Buffer> out, Predict(absl::MakeConstSpan(in), options));
  return std::move(out[0]);
}

absl::Status Model::SaveWeights(const std::string& path) const {
  KILN_RETURN_IF_ERROR(status_);
  NpzEntries entries;
  for (const Weight* w : weights()) entries.emplace_back(w->name, w->value.Clone());
  return WriteNpz(path, entries, /*compressed=*/false);
}

absl::Status Model::LoadWeights(const std::string& path) {
  KILN_RETURN_IF_ERROR(status_);
  KILN_ASSIGN_OR_RETURN(NpzEntries entries, ReadNpz(path));
  absl::flat_hash_map<std::string, Buffer*> by_key;
  for (auto& [key, value] : entries) by_key[key] = &value;
  const std::vector<Weight*> weights = this->weights();
  absl::flat_hash_map<std::string, Weight*> expected;
  for (Weight* w : weights) {
    expected[w->name] = w;
    auto it = by_key.find(w->name);
    const std::string want = TypeText(w->value.dtype(), w->value.shape());
    if (it == by_key.end()) {
      return absl::NotFoundError(
          absl::StrCat(path, ": missing weight '", w->name, "' (", want, ")"));
    }
    const Buffer& got = *it->second;
    if (got.dtype() != w->value.dtype() || got.shape() != w->value.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": weight '", w->name, "' is ",
                                                     TypeText(got.dtype(), got.shape()),
                                                     ", the model expects ", want));
    }
  }
  for (const auto& [key, value] : entries) {
    if (!expected.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": unexpected key '", key, "': model '",
                                                     name_, "' has no weight of that name"));
    }
  }
  for (Weight* w : weights) w->value = std::move(*by_key[w->name]);
  return absl::OkStatus();
}

}  // namespace kiln
