// Model::Summary: the table tf_keras's print_summary prints (layer_utils.py,
// the tf.keras 2.x line), column layout and line wrapping included.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "layers/model.h"

namespace kiln {
namespace {

// A Python tuple of a Keras shape: (None, 28, 28, 32), (None,), ().
std::string PyShape(const Shape& shape) {
  std::vector<std::string> dims;
  for (int64_t d : shape.dims()) dims.push_back(d == Shape::kBatch ? "None" : absl::StrCat(d));
  if (dims.size() == 1) return absl::StrCat("(", dims[0], ",)");
  return absl::StrCat("(", absl::StrJoin(dims, ", "), ")");
}

// readable_memory_size: "198.79 KB", "0.00 Byte".
std::string ReadableSize(double bytes) {
  static const char* kUnits[] = {"Byte", "KB", "MB", "GB", "TB", "PB"};
  for (const char* unit : kUnits) {
    if (bytes / 1024 < 1) return absl::StrFormat("%.2f %s", bytes, unit);
    bytes /= 1024;
  }
  return absl::StrFormat("%.2f %s", bytes, "PB");
}

// print_row: each field in its column, cut to fit and continued on the
// next lines; a cut prefers the end of a "),", "},", "]," or "',".
void PrintRow(std::vector<std::string> fields, const std::vector<int>& positions,
              std::string& out) {
  auto any_left = [&] {
    return std::any_of(fields.begin(), fields.end(),
                       [](const std::string& f) { return !f.empty(); });
  };
  while (any_left()) {
    std::string line;
    for (size_t col = 0; col < fields.size(); ++col) {
      const bool last = col == positions.size() - 1;
      const int start = col > 0 ? positions[col - 1] : 0;
      const int space = last ? 0 : 2;
      int cutoff = positions[col] - start - space - (last ? 0 : 1);
      cutoff = std::max(cutoff, 0);
      std::string fit = fields[col].substr(0, cutoff);
      size_t best = std::string::npos;
      for (const char* end : {"),", "},", "],", "',"}) {
        const size_t at = fit.find(end);
        if (at != std::string::npos) best = std::min(best, at + 2);
      }
      if (best != std::string::npos) {
        cutoff = static_cast<int>(best);
        fit = fit.substr(0, best);
      }
      if (col == 0) line += ' ';
      line += fit;
      line.append(space, ' ');
      fields[col] =
          static_cast<size_t>(cutoff) < fields[col].size() ? fields[col].substr(cutoff) : "";
      if (static_cast<int>(line.size()) < positions[col]) {
        line.append(positions[col] - line.size(), ' ');
      }
    }
    absl::StrAppend(&out, line, "\n");
  }
}

int64_t ParamsOf(const Layer& layer) {
  int64_t n = 0;
  for (const Weight& w : layer.weights()) n += w.value.num_elements();
  return n;
}

double BytesOf(const std::vector<Weight*>& weights) {
  double bytes = 0;
  for (const Weight* w : weights) bytes += static_cast<double>(w->value.size_bytes());
  return bytes;
}

}  // namespace

bool Model::SequentialLike() const {
  if (sequential_) return true;
  std::vector<int> per_depth;
  for (const ModelNode& node : nodes_) {
    if (node.depth >= static_cast<int>(per_depth.size())) per_depth.resize(node.depth + 1, 0);
    if (++per_depth[node.depth] > 1) return false;
    const auto& calls = graph_->Attachment<LayerGraphState>().calls;
    if (node.call >= 0 && calls[node.call].inputs.size() > 1) return false;
  }
  for (const std::shared_ptr<Layer>& l : layers_) {
    if (NodesOf(l.get()).size() > 1) return false;
  }
  return true;
}

std::string Model::OutputShapeText(const Layer* layer) const {
  const auto& calls = graph_->Attachment<LayerGraphState>().calls;
  std::string shape;
  for (int i : NodesOf(layer)) {
    if (nodes_[i].call < 0) continue;
    std::string s = PyShape(graph_->node(calls[nodes_[i].call].output).type.shape);
    // An InputLayer's node lists its outputs: [(None, 784)].
    if (calls[nodes_[i].call].inputs.empty()) s = absl::StrCat("[", s, "]");
    if (!shape.empty() && s != shape) return "multiple";
    shape = s;
  }
  return shape.empty() ? "multiple" : shape;
}

std::string Model::Connections(const Layer* layer) const {
  std::vector<std::string> items;
  for (int i : NodesOf(layer)) {
    for (int p : nodes_[i].parents) {
      items.push_back(
          absl::StrCat("'", nodes_[p].layer->name(), "[", nodes_[p].layer_node_index, "][0]'"));
    }
  }
  return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
}

std::string Model::Summary() const {
  if (!status_.ok()) return absl::StrCat("Model: \"", name_, "\": ", status_.message(), "\n");
  const bool sequential_like = SequentialLike();
  const int line_length = sequential_like ? 65 : 98;
  const std::vector<double> relative = sequential_like ? std::vector<double>{0.45, 0.85, 1.0}
                                                       : std::vector<double>{0.3, 0.6, 0.70, 1.0};
  std::vector<int> positions;
  for (double p : relative) positions.push_back(static_cast<int>(line_length * p));
  std::vector<std::string> header = {"Layer (type)", "Output Shape", "Param #"};
  if (!sequential_like) header.push_back("Connected to");

  std::string out = absl::StrCat("Model: \"", name_, "\"\n", std::string(line_length, '_'), "\n");
  PrintRow(header, positions, out);
  absl::StrAppend(&out, std::string(line_length, '='), "\n");
  for (const std::shared_ptr<Layer>& l : layers_) {
    std::vector<std::string> fields = {absl::StrCat(l->name(), " (", l->class_name(), ")"),
                                       OutputShapeText(l.get()), absl::StrCat(ParamsOf(*l))};
    if (!sequential_like) fields.push_back(Connections(l.get()));
    PrintRow(fields, positions, out);
    absl::StrAppend(&out, std::string(line_length, ' '), "\n");
  }
  absl::StrAppend(&out, std::string(line_length, '='), "\n");
  const std::vector<Weight*> trainable = trainable_weights();
  const std::vector<Weight*> frozen = non_trainable_weights();
  int64_t trainable_count = 0, frozen_count = 0;
  for (const Weight* w : trainable) trainable_count += w->value.num_elements();
  for (const Weight* w : frozen) frozen_count += w->value.num_elements();
  const double trainable_bytes = BytesOf(trainable), frozen_bytes = BytesOf(frozen);
  absl::StrAppend(&out, "Total params: ", trainable_count + frozen_count, " (",
                  ReadableSize(trainable_bytes + frozen_bytes), ")\n");
  absl::StrAppend(&out, "Trainable params: ", trainable_count, " (", ReadableSize(trainable_bytes),
                  ")\n");
  absl::StrAppend(&out, "Non-trainable params: ", frozen_count, " (", ReadableSize(frozen_bytes),
                  ")\n");
  absl::StrAppend(&out, std::string(line_length, '_'), "\n");
  return out;
}

}  // namespace kiln
