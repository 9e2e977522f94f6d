#include "tools/flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "tools/commands.h"

namespace kiln {

absl::StatusOr<std::string> Flags::One(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return absl::InvalidArgumentError(absl::StrCat(name, " is required"));
  if (it->second.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is given more than once"));
  }
  return it->second[0];
}

absl::StatusOr<std::string> Flags::OneOr(const std::string& name, std::string fallback) const {
  if (values.count(name) == 0) return fallback;
  return One(name);
}

absl::StatusOr<Flags> ParseFlags(const std::vector<std::string>& args,
                                 const std::set<std::string>& with_value,
                                 const std::set<std::string>& boolean) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (boolean.count(a) > 0) {
      flags.booleans.insert(a);
    } else if (with_value.count(a) > 0) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(a, " needs a value\n", kUsage));
      }
      flags.values[a].push_back(args[++i]);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", a, "'\n", kUsage));
    }
  }
  return flags;
}

absl::StatusOr<std::optional<Backend>> BackendFlag(const Flags& flags) {
  if (!flags.Has("--backend")) return std::nullopt;
  KILN_ASSIGN_OR_RETURN(std::string b, flags.One("--backend"));
  if (b == "jit") return Backend::kJit;
  if (b == "interp") return Backend::kInterp;
  return absl::InvalidArgumentError(
      absl::StrCat("--backend '", b, "' is not a backend (jit or interp)"));
}

absl::StatusOr<int64_t> PositiveIntFlag(const Flags& flags, const std::string& name,
                                        int64_t fallback) {
  if (!flags.Has(name)) return fallback;
  KILN_ASSIGN_OR_RETURN(std::string text, flags.One(name));
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " '", text, "' is not a positive integer"));
  }
  return value;
}

}  // namespace kiln
