#include "layers/checkpoint.h"

#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "layers/npz.h"

namespace kiln {
namespace {

std::string TypeText(const Buffer& b) {
  return absl::StrCat(DTypeName(b.dtype()), b.shape().ToString());
}

// One value the checkpoint holds: its key and where it goes.
struct Slot {
  std::string key;
  Buffer* target;
};

absl::StatusOr<std::vector<Slot>> Slots(const Model& model, const NamedBuffers& optimizer_state) {
  std::vector<Slot> slots;
  for (Weight* w : model.weights()) {
    slots.push_back({absl::StrCat(kCheckpointWeightsPrefix, w->name), &w->value});
  }
  for (const auto& [name, buffer] : optimizer_state) {
    if (buffer == nullptr || buffer->raw() == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint: optimizer variable '", name, "' has no buffer"));
    }
    slots.push_back({absl::StrCat(kCheckpointOptimizerPrefix, name), buffer});
  }
  return slots;
}

}  // namespace

absl::Status SaveCheckpoint(const std::string& path, const Model& model,
                            const NamedBuffers& optimizer_state, int64_t epoch) {
  KILN_RETURN_IF_ERROR(model.status());
  KILN_ASSIGN_OR_RETURN(std::vector<Slot> slots, Slots(model, optimizer_state));
  NpzEntries entries;
  entries.reserve(slots.size() + 1);
  for (const Slot& slot : slots) entries.emplace_back(slot.key, slot.target->Clone());
  entries.emplace_back(kCheckpointEpochKey,
                       Buffer::Scalar(DType::kI64, static_cast<double>(epoch)));
  return WriteNpz(path, entries, /*compressed=*/false);
}

absl::StatusOr<int64_t> RestoreCheckpoint(const std::string& path, Model& model,
                                          const NamedBuffers& optimizer_state) {
  KILN_RETURN_IF_ERROR(model.status());
  KILN_ASSIGN_OR_RETURN(std::vector<Slot> slots, Slots(model, optimizer_state));
  KILN_ASSIGN_OR_RETURN(NpzEntries entries, ReadNpz(path));
  absl::flat_hash_map<std::string, const Buffer*> by_key;
  for (const auto& [key, value] : entries) by_key[key] = &value;

  // Check everything first: on any error nothing is changed.
  for (const Slot& slot : slots) {
    auto it = by_key.find(slot.key);
    if (it == by_key.end()) {
      return absl::NotFoundError(absl::StrCat(path, ": checkpoint has no '", slot.key, "' (",
                                              TypeText(*slot.target), ")"));
    }
    const Buffer& saved = *it->second;
    if (saved.dtype() != slot.target->dtype() || saved.shape() != slot.target->shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": '", slot.key, "' is ", TypeText(saved), ", expected ", TypeText(*slot.target)));
    }
  }
  auto epoch_it = by_key.find(kCheckpointEpochKey);
  if (epoch_it == by_key.end() || epoch_it->second->dtype() != DType::kI64 ||
      epoch_it->second->shape().rank() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": checkpoint needs '", kCheckpointEpochKey, "', an i64 scalar"));
  }
  if (by_key.size() != slots.size() + 1) {
    absl::flat_hash_map<std::string, bool> expected;
    for (const Slot& slot : slots) expected[slot.key] = true;
    std::vector<std::string> extra;
    for (const auto& [key, value] : entries) {
      if (key != kCheckpointEpochKey && !expected.contains(key)) extra.push_back(key);
    }
    const bool optimizer_missing = optimizer_state.empty() && !extra.empty() &&
                                   absl::StartsWith(extra[0], kCheckpointOptimizerPrefix);
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": checkpoint holds entries model '", model.name(),
        "' does not have: ", absl::StrJoin(extra, ", "),
        optimizer_missing ? " (compile the model so its optimizer state exists first)" : ""));
  }

  for (const Slot& slot : slots) {
    const Buffer& saved = *by_key[slot.key];
    std::memcpy(slot.target->raw(), saved.raw(), saved.size_bytes());
  }
  return epoch_it->second->data<int64_t>()[0];
}

}  // namespace kiln
