// kiln profile: profiles the predict step of a Keras JSON model and prints
// the per-kernel table (codegen/profiler.h); --trace also writes a Chrome
// trace. Inputs are made up (a fixed ramp of values; integer inputs are 0),
// weights are the model's initializers unless --weights gives them.
//
//   kiln profile --model m.json --input-shape 28,28,1 --batch 64 --steps 20 \
//                --backend jit --trace step.trace.json
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "codegen/executable.h"
#include "codegen/profiler.h"
#include "graph/status_macros.h"
#include "layers/keras_json.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace kiln {
namespace {

// "28,28,1" -> {28, 28, 1}: the input's shape without its batch dimension.
absl::StatusOr<std::vector<int64_t>> ParseDims(const std::string& text) {
  std::vector<int64_t> dims;
  for (absl::string_view word : absl::StrSplit(text, ',')) {
    int64_t d = 0;
    if (!absl::SimpleAtoi(word, &d) || d <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--input-shape '", text, "' is not a list of positive sizes such as 28,28,1"));
    }
    dims.push_back(d);
  }
  return dims;
}

// A batch of `batch` made-up values fitting `input` (declared [N, dims...]).
absl::StatusOr<Buffer> MadeUpInput(const Tensor& input, const std::vector<int64_t>& dims,
                                   int64_t batch, const std::string& name) {
  const Shape& declared = input.shape();
  std::vector<int64_t> want = {batch};
  want.insert(want.end(), dims.begin(), dims.end());
  bool fits = declared.rank() == static_cast<int>(want.size()) && declared.dim(0) == Shape::kBatch;
  for (int d = 1; fits && d < declared.rank(); ++d) fits = declared.dim(d) == want[d];
  if (!fits) {
    return absl::InvalidArgumentError(absl::StrCat("--input-shape ", absl::StrJoin(dims, ","),
                                                   " does not fit input '", name, "' ",
                                                   declared.ToString()));
  }
  Buffer b(input.dtype(), Shape(want));
  const bool real = input.dtype() == DType::kF32;
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, real ? (i % 17) / 17.0 : 0);
  return b;
}

}  // namespace

absl::Status RunProfile(const std::vector<std::string>& args) {
  KILN_ASSIGN_OR_RETURN(Flags flags,
                        ParseFlags(args,
                                   {"--model", "--weights", "--input-shape", "--batch", "--steps",
                                    "--backend", "--trace"},
                                   {}));
  KILN_ASSIGN_OR_RETURN(std::string model_path, flags.One("--model"));
  if (!flags.Has("--input-shape")) {
    return absl::InvalidArgumentError("--input-shape is required (one per model input)");
  }
  KILN_ASSIGN_OR_RETURN(const int64_t batch, PositiveIntFlag(flags, "--batch", 32));
  KILN_ASSIGN_OR_RETURN(const int64_t steps, PositiveIntFlag(flags, "--steps", 10));
  ExecutableOptions options;
  KILN_ASSIGN_OR_RETURN(options.backend, BackendFlag(flags));
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadKerasModel(model_path));
  if (flags.Has("--weights")) {
    KILN_ASSIGN_OR_RETURN(std::string weights, flags.One("--weights"));
    KILN_RETURN_IF_ERROR(model->LoadWeights(weights));
  }
  const std::vector<std::string>& shapes = flags.values["--input-shape"];
  const std::vector<Tensor>& ins = model->inputs();
  if (shapes.size() != ins.size()) {
    return absl::InvalidArgumentError(absl::StrCat(model_path, ": the model takes ", ins.size(),
                                                   " input(s), got ", shapes.size(),
                                                   " --input-shape"));
  }
  Feeds feeds = LayerFeeds(model->graph(), /*training=*/false);
  std::vector<Buffer> inputs;
  inputs.reserve(ins.size());
  for (size_t i = 0; i < ins.size(); ++i) {
    const std::string name = ins[i].node().attrs.GetOr<std::string>("name", "");
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ParseDims(shapes[i]));
    KILN_ASSIGN_OR_RETURN(Buffer b, MadeUpInput(ins[i], dims, batch, name));
    inputs.push_back(std::move(b));
    feeds[name] = &inputs.back();
  }
  KILN_RETURN_IF_ERROR(model->graph()->status());
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe,
                        Executable::Compile(model->outputs(), options));
  std::vector<Buffer> outputs;
  KILN_RETURN_IF_ERROR(exe->RunInto(feeds, outputs));  // compiles and warms up
  ProfileSession session(ProfileSession::kAttachedOnly);
  exe->AttachProfiler(&session);
  for (int64_t s = 0; s < steps; ++s) KILN_RETURN_IF_ERROR(exe->RunInto(feeds, outputs));
  ProfileReport report = session.Stop();
  exe->AttachProfiler(nullptr);
  std::printf("kiln profile: %s, predict step, batch %lld, %lld steps, backend %s, %d threads\n",
              model_path.c_str(), static_cast<long long>(batch), static_cast<long long>(steps),
              std::string(BackendName(exe->backend())).c_str(), exe->num_threads());
  std::fputs(report.Table().c_str(), stdout);
  if (flags.Has("--trace")) {
    KILN_ASSIGN_OR_RETURN(std::string trace, flags.One("--trace"));
    KILN_RETURN_IF_ERROR(report.WriteChromeTrace(trace));
    std::printf("Chrome trace written to %s\n", trace.c_str());
  }
  return absl::OkStatus();
}

}  // namespace kiln
