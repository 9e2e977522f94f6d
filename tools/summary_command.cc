// kiln summary --model M.json: the Keras model.summary() table of a Keras
// JSON model config.
#include <cstdio>

#include "graph/status_macros.h"
#include "layers/keras_json.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace kiln {

absl::Status RunSummary(const std::vector<std::string>& args) {
  KILN_ASSIGN_OR_RETURN(Flags flags, ParseFlags(args, {"--model"}, {}));
  KILN_ASSIGN_OR_RETURN(std::string path, flags.One("--model"));
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadKerasModel(path));
  std::fputs(model->Summary().c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace kiln
