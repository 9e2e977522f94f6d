// numpy .npz archives: zip files of `<key>.npy` members, as written by
// numpy.savez (stored) and numpy.savez_compressed (deflated). Keys keep their
// order and may contain '/' ("dense_1/kernel" is member
// "dense_1/kernel.npy"). Reading checks every CRC-32 and understands the
// zip64 extra fields and end records numpy and other zip writers produce;
// writes are atomic (graph/file_io.h).
//
//   NpzEntries weights;
//   weights.emplace_back("dense_1/kernel", Buffer::Zeros(DType::kF32, {4, 2}));
//   KILN_RETURN_IF_ERROR(WriteNpz("w.npz", weights, /*compressed=*/true));
//   KILN_ASSIGN_OR_RETURN(NpzEntries back, ReadNpz("w.npz"));
//   const Buffer* kernel = FindNpzEntry(back, "dense_1/kernel");
//
// Member arrays follow layers/npy.h (dtype conversions, what is rejected).
// Every malformed archive gives a Status naming the file, the member where
// there is one, and what is wrong; sizes are checked against the file before
// anything is allocated.
#ifndef KILN_LAYERS_NPZ_H_
#define KILN_LAYERS_NPZ_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/buffer.h"

namespace kiln {

// (key, array) pairs in archive order; keys have no ".npy" suffix.
using NpzEntries = std::vector<std::pair<std::string, Buffer>>;

// Parses a whole archive; messages start with `name_for_errors`. Members not
// named "*.npy", duplicate keys, encrypted or split archives and compression
// methods other than stored (0) and deflate (8) are errors.
absl::StatusOr<NpzEntries> ParseNpz(absl::string_view bytes,
                                    absl::string_view name_for_errors);
absl::StatusOr<NpzEntries> ReadNpz(const std::string& path);

// The archive's bytes: members in `entries` order, deflated when
// `compressed`. Zip64 records are written where sizes or offsets need them,
// or everywhere with `force_zip64` (numpy reads both). Empty or duplicate
// keys and Buffers without data are InvalidArgument.
absl::StatusOr<std::string> SerializeNpz(const NpzEntries& entries,
                                         bool compressed,
                                         bool force_zip64 = false);
// Serializes, then writes atomically: on failure an existing file survives.
absl::Status WriteNpz(const std::string& path, const NpzEntries& entries,
                      bool compressed);

// The array stored under `key`, or nullptr.
const Buffer* FindNpzEntry(const NpzEntries& entries, absl::string_view key);

}  // namespace kiln

#endif  // KILN_LAYERS_NPZ_H_
