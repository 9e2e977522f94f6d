// The bits of Python's number formatting that Keras callbacks show users:
// `str(float)` (the shortest text that reads back to the same double) and
// `str.format` on file paths like "ckpt-{epoch:02d}-{val_loss:.2f}.npz".
//
//   PythonFloatText(0.001) == "0.001";  PythonFloatText(1e-05) == "1e-05"
//   FormatPath("w.{epoch:02d}-{loss:.2f}.npz", 3, {{"loss", 0.4567}})
//       == "w.03-0.46.npz"
//
// Fields: `{name}` or `{name:spec}` where name is "epoch" (an integer, the
// 1-based epoch), "batch" (an integer, the 1-based batch of the epoch; only
// when `batch` is given, as Keras' save_freq saves) or a log name (a float), spec `[0][width][.precision][type]`
// with type d (integers only, as in Python), f, e, g or none; `{{` and `}}`
// are braces. An unknown name or a spec outside that is InvalidArgument.
#ifndef KILN_LAYERS_PYTHON_FORMAT_H_
#define KILN_LAYERS_PYTHON_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/logs.h"

namespace kiln {

std::string PythonFloatText(double value);

absl::StatusOr<std::string> FormatPath(absl::string_view pattern, int epoch, const Logs& logs,
                                       std::optional<int64_t> batch = std::nullopt);

}  // namespace kiln

#endif  // KILN_LAYERS_PYTHON_FORMAT_H_
