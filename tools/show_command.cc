// kiln show FILE: the arrays of a .npz (every member) or .npy file, one
// line each: "<key> <dtype>[<shape>] <values...>" (floats with 9
// significant digits, which round-trip f32), for scripts and eyes.
#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/status_macros.h"
#include "layers/npy.h"
#include "layers/npz.h"
#include "tools/commands.h"

namespace kiln {
namespace {

void PrintArray(const std::string& key, const Buffer& b) {
  std::string line = absl::StrCat(key, " ", DTypeName(b.dtype()), b.shape().ToString());
  for (int64_t i = 0; i < b.num_elements(); ++i) {
    const double v = b.GetAsDouble(i);
    absl::StrAppend(&line, " ",
                    b.dtype() == DType::kF32 ? absl::StrFormat("%.9g", v)
                                             : absl::StrCat(static_cast<int64_t>(v)));
  }
  std::printf("%s\n", line.c_str());
}

}  // namespace

absl::Status RunShow(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("show takes one file\n", kUsage));
  }
  const std::string& path = args[0];
  if (absl::EndsWith(path, ".npy")) {
    KILN_ASSIGN_OR_RETURN(Buffer b, ReadNpy(path));
    PrintArray(path, b);
    return absl::OkStatus();
  }
  KILN_ASSIGN_OR_RETURN(NpzEntries entries, ReadNpz(path));
  for (const auto& [key, value] : entries) PrintArray(key, value);
  return absl::OkStatus();
}

}  // namespace kiln
