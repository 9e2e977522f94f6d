// Whole-file reads and atomic writes for the files kiln saves (weights, model
// configs, arrays): a write fills a unique temp file in the target's directory
// and renames it into place, so a failed write never clobbers the old file.
//
//   KILN_RETURN_IF_ERROR(WriteFileAtomically("w.npz", bytes));
//   KILN_ASSIGN_OR_RETURN(std::string back, ReadFileToString("w.npz"));
#ifndef KILN_GRAPH_FILE_IO_H_
#define KILN_GRAPH_FILE_IO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

// The file's bytes. NotFound / PermissionDenied / Internal naming `path` and
// the system's reason.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes `bytes` to `path` through `<path>.tmp.<pid>.<n>` in the same
// directory, fsyncs and renames it over `path`. On any failure the temp file
// is removed, an existing `path` is untouched and the Status names `path`.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes);

}  // namespace kiln

#endif  // KILN_GRAPH_FILE_IO_H_
