// Command-line flags of the kiln subcommands: "--name value" (repeatable)
// and boolean "--name", each checked against the command's list.
//
//   KILN_ASSIGN_OR_RETURN(Flags flags, ParseFlags(args, {"--model", "--input"}, {"--training"}));
//   flags.values["--input"]   // every value, in order
//   flags.Has("--training")
#ifndef KILN_TOOLS_FLAGS_H_
#define KILN_TOOLS_FLAGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "codegen/executable.h"

namespace kiln {

struct Flags {
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> booleans;
  bool Has(const std::string& name) const {
    return booleans.count(name) > 0 || values.count(name) > 0;
  }
  // The single value of `name`; missing or repeated: InvalidArgument.
  absl::StatusOr<std::string> One(const std::string& name) const;
  // The single value of `name`, or `fallback` when not given; repeated:
  // InvalidArgument.
  absl::StatusOr<std::string> OneOr(const std::string& name, std::string fallback) const;
};

// Unknown flags, stray words and a flag without its value are errors (the
// message ends with the usage text).
absl::StatusOr<Flags> ParseFlags(const std::vector<std::string>& args,
                                 const std::set<std::string>& with_value,
                                 const std::set<std::string>& boolean);

// --backend jit|interp, or nullopt when not given.
absl::StatusOr<std::optional<Backend>> BackendFlag(const Flags& flags);

// The positive integer value of `name`, or `fallback` when not given.
absl::StatusOr<int64_t> PositiveIntFlag(const Flags& flags, const std::string& name,
                                        int64_t fallback);

}  // namespace kiln

#endif  // KILN_TOOLS_FLAGS_H_
