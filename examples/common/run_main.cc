#include "examples/common/run_main.h"

#include <cstdio>
#include <string>

#include "absl/flags/parse.h"

namespace kiln {

int RunMain(int argc, char** argv, const std::function<absl::Status()>& body) {
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = body();
  if (status.ok()) return 0;
  std::string program = argc > 0 ? argv[0] : "kiln example";
  program = program.substr(program.rfind('/') + 1);
  std::fprintf(stderr, "%s: %s\n", program.c_str(), std::string(status.message()).c_str());
  return 1;
}

}  // namespace kiln
