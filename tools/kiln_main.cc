// kiln: the command-line program (see tools/commands.h for the commands).
//
//   kiln summary --model model.json
//   kiln eval --model model.json --weights w.npz --input x.npy --out out.npz
//   kiln profile --model model.json --input-shape 28,28,1 --trace step.json
//
// Any bad input ends with a one-line message and a non-zero exit status.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kiln::kUsage, stderr);
    return 2;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  absl::Status status;
  if (command == "ops") {
    status = kiln::RunOps(args);
  } else if (command == "graph") {
    status = kiln::RunGraph(args);
  } else if (command == "summary") {
    status = kiln::RunSummary(args);
  } else if (command == "eval") {
    status = kiln::RunEval(args);
  } else if (command == "show") {
    status = kiln::RunShow(args);
  } else if (command == "profile") {
    status = kiln::RunProfile(args);
  } else {
    status =
        absl::InvalidArgumentError(absl::StrCat("unknown command '", command, "'\n", kiln::kUsage));
  }
  if (!status.ok()) {
    std::fprintf(stderr, "kiln: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
