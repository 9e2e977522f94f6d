// The main() every tutorial shares: parses the absl flags, runs the
// tutorial's body and turns an error Status into a message and exit code 1.
//
//   absl::Status Main() { ...; return absl::OkStatus(); }
//   int main(int argc, char** argv) { return kiln::RunMain(argc, argv, Main); }
//   // on error: "keras_mlp: <message>" on stderr, exit code 1
#ifndef KILN_EXAMPLES_COMMON_RUN_MAIN_H_
#define KILN_EXAMPLES_COMMON_RUN_MAIN_H_

#include <functional>

#include "absl/status/status.h"

namespace kiln {

int RunMain(int argc, char** argv, const std::function<absl::Status()>& body);

}  // namespace kiln

#endif  // KILN_EXAMPLES_COMMON_RUN_MAIN_H_
