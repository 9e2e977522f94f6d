// The `kiln` subcommands, one file each; kiln_main.cc dispatches to them.
// Each takes the arguments after the command name and returns a Status
// whose message main prints as "kiln: <message>" (non-zero exit).
//
//   absl::Status s = kiln::RunEval({"--model", "m.json", "--weights", "w.npz", ...});
#ifndef KILN_TOOLS_COMMANDS_H_
#define KILN_TOOLS_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace kiln {

inline constexpr char kUsage[] =
    "usage: kiln ops\n"
    "       kiln graph FILE [--batch N]\n"
    "       kiln summary --model M.json\n"
    "       kiln eval --model M.json --weights W.npz --input X.npy [--input X2.npy ...]\n"
    "                 [--cotangent R.npy ...] --out OUT.npz [--backend jit|interp]\n"
    "                 [--training] [--seed N] [--sgd-step LR]\n"
    "       kiln show FILE.npz|FILE.npy\n"
    "       kiln profile --model M.json --input-shape D1,D2,... [--input-shape ...]\n"
    "                    [--weights W.npz] [--batch N] [--steps K] [--backend jit|interp]\n"
    "                    [--trace PATH] [--train [--loss NAME] [--optimizer NAME]]\n";

absl::Status RunOps(const std::vector<std::string>& args);      // graph_commands.cc
absl::Status RunGraph(const std::vector<std::string>& args);    // graph_commands.cc
absl::Status RunSummary(const std::vector<std::string>& args);  // summary_command.cc
absl::Status RunEval(const std::vector<std::string>& args);     // eval_command.cc
absl::Status RunShow(const std::vector<std::string>& args);     // show_command.cc
absl::Status RunProfile(const std::vector<std::string>& args);  // profile_command.cc

}  // namespace kiln

#endif  // KILN_TOOLS_COMMANDS_H_
