// kiln ops: the op catalog (name, arity, fusion kind, gradient).
// kiln graph FILE [--batch N]: parse a graph text file, verify and optimize
// it (DCE, CSE, folding; specialized to N) and print the result.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "graph/evaluate.h"
#include "graph/passes.h"
#include "graph/status_macros.h"
#include "graph/text.h"
#include "ops/catalog.h"
#include "tools/commands.h"

namespace kiln {

absl::Status RunOps(const std::vector<std::string>& args) {
  if (!args.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args[0], "'\n", kUsage));
  }
  std::printf("%-18s %-6s %-12s %s\n", "op", "arity", "fusion", "gradient");
  for (const OpDef* op : Ops().All()) {
    std::printf("%-18s %-6s %-12s %s\n", std::string(op->name).c_str(),
                op->arity == OpDef::kVariadic ? "n" : absl::StrCat(op->arity).c_str(),
                std::string(FusionKindName(op->fusion)).c_str(), op->grad != nullptr ? "yes" : "-");
  }
  return absl::OkStatus();
}

absl::Status RunGraph(const std::vector<std::string>& args) {
  if (args.empty()) return absl::InvalidArgumentError(kUsage);
  std::ifstream in(args[0]);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", args[0], "'"));
  std::stringstream text;
  text << in.rdbuf();
  int64_t batch = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--batch" && i + 1 < args.size() && absl::SimpleAtoi(args[i + 1], &batch) &&
        batch > 0) {
      ++i;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", args[i], "'\n", kUsage));
    }
  }
  absl::StatusOr<std::shared_ptr<Graph>> parsed = ParseGraph(text.str(), Ops());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(args[0], ": ", parsed.status().message()));
  }
  Graph& g = **parsed;
  KILN_RETURN_IF_ERROR(VerifyGraph(g));
  if (batch > 0) KILN_RETURN_IF_ERROR(SpecializeBatch(g, batch));
  KILN_RETURN_IF_ERROR(FoldConstants(g, Ops()).status());
  KILN_RETURN_IF_ERROR(EliminateCommonSubexpressions(g).status());
  KILN_RETURN_IF_ERROR(EliminateDeadCode(g).status());
  std::fputs(PrintGraph(g).c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace kiln
