// kiln profile: profiles the predict step of a Keras JSON model, or with
// --train its training step (forward in training mode, loss, gradients,
// optimizer update: the one program Model::TrainOnBatch compiles), and
// prints the per-kernel table (codegen/profiler.h); --trace also writes a
// Chrome trace. Inputs and labels are made up (tools/made_up_data.h);
// weights are the model's initializers unless --weights gives them.
//
//   kiln profile --model m.json --input-shape 28,28,1 --batch 64 --steps 20
//                --backend jit --trace step.trace.json
//   kiln profile --model m.json --input-shape 28,28,1 --train --loss mse
//   --optimizer sgd
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen/executable.h"
#include "codegen/profiler.h"
#include "graph/status_macros.h"
#include "layers/keras_json.h"
#include "layers/optimizers.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/made_up_data.h"

namespace kiln {
namespace {

// The seed of the made-up labels.
constexpr uint64_t kLabelSeed = 1;

struct Profiled {
  std::string step;  // what was profiled, for the title line
  ProfileReport report;
  std::string backend;
  int threads = 0;
};

// `steps` predict steps after one warm-up run that compiles.
absl::StatusOr<Profiled> ProfilePredict(Model &model, Feeds feeds, std::optional<Backend> backend,
                                        int64_t steps) {
  ExecutableOptions options;
  options.backend = backend;
  KILN_RETURN_IF_ERROR(model.graph()->status());
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe,
                        Executable::Compile(model.outputs(), options));
  std::vector<Buffer> outputs;
  KILN_RETURN_IF_ERROR(exe->RunInto(feeds, outputs));
  ProfileSession session(ProfileSession::kAttachedOnly);
  exe->AttachProfiler(&session);
  for (int64_t s = 0; s < steps; ++s) KILN_RETURN_IF_ERROR(exe->RunInto(feeds, outputs));
  Profiled p{"predict step", session.Stop(), std::string(BackendName(exe->backend())),
             exe->num_threads()};
  exe->AttachProfiler(nullptr);
  return p;
}

// `steps` training steps (TrainOnBatch) after one warm-up step that compiles.
absl::StatusOr<Profiled> ProfileTraining(Model &model, const Flags &flags,
                                         const std::vector<const Buffer *> &x,
                                         std::optional<Backend> backend, int64_t batch,
                                         int64_t steps) {
  KILN_ASSIGN_OR_RETURN(std::string optimizer_name, flags.OneOr("--optimizer", "adam"));
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<Optimizer> optimizer, OptimizerFromName(optimizer_name));
  const std::vector<std::string> names = model.output_names();
  std::vector<OutputTraining> outputs;
  std::vector<Buffer> labels;
  labels.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const Tensor &out = model.outputs()[i];
    KILN_ASSIGN_OR_RETURN(std::string loss_name, flags.OneOr("--loss", DefaultLossFor(out)));
    KILN_ASSIGN_OR_RETURN(Loss loss, LossFromName(loss_name));
    KILN_ASSIGN_OR_RETURN(Buffer y, MadeUpLabels(loss, out, names[i], batch, kLabelSeed + i));
    labels.push_back(std::move(y));
    outputs.push_back(OutputTraining{.loss = loss});
  }
  const std::string losses = outputs.size() == 1 ? outputs[0].loss.name() : "per output";
  KILN_RETURN_IF_ERROR(
      model.Compile(optimizer, std::move(outputs), CompileOptions{.backend = backend}));
  std::vector<const Buffer *> y;
  for (const Buffer &b : labels) y.push_back(&b);
  KILN_RETURN_IF_ERROR(model.TrainOnBatch(x, y).status());
  ProfileSession session(ProfileSession::kEveryExecutable);
  for (int64_t s = 0; s < steps; ++s) KILN_RETURN_IF_ERROR(model.TrainOnBatch(x, y).status());
  Profiled p{absl::StrCat("training step (loss ", losses, ", optimizer ", optimizer_name, ")"),
             session.Stop(), "", 0};
  KILN_ASSIGN_OR_RETURN(const Backend used,
                        backend.has_value() ? *backend : BackendFromEnvironment());
  p.backend = std::string(BackendName(used));
  return p;
}

}  // namespace

absl::Status RunProfile(const std::vector<std::string> &args) {
  KILN_ASSIGN_OR_RETURN(Flags flags,
                        ParseFlags(args,
                                   {"--model", "--weights", "--input-shape", "--batch", "--steps",
                                    "--backend", "--trace", "--loss", "--optimizer"},
                                   {"--train"}));
  KILN_ASSIGN_OR_RETURN(std::string model_path, flags.One("--model"));
  if (!flags.Has("--input-shape")) {
    return absl::InvalidArgumentError("--input-shape is required (one per model input)");
  }
  const bool train = flags.Has("--train");
  if (!train && (flags.Has("--loss") || flags.Has("--optimizer"))) {
    return absl::InvalidArgumentError("--loss and --optimizer need --train");
  }
  KILN_ASSIGN_OR_RETURN(const int64_t batch, PositiveIntFlag(flags, "--batch", 32));
  KILN_ASSIGN_OR_RETURN(const int64_t steps, PositiveIntFlag(flags, "--steps", 10));
  KILN_ASSIGN_OR_RETURN(const std::optional<Backend> backend, BackendFlag(flags));
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadKerasModel(model_path));
  if (flags.Has("--weights")) {
    KILN_ASSIGN_OR_RETURN(std::string weights, flags.One("--weights"));
    KILN_RETURN_IF_ERROR(model->LoadWeights(weights));
  }
  const std::vector<std::string> &shapes = flags.values["--input-shape"];
  const std::vector<Tensor> &ins = model->inputs();
  if (shapes.size() != ins.size()) {
    return absl::InvalidArgumentError(absl::StrCat(model_path, ": the model takes ", ins.size(),
                                                   " input(s), got ", shapes.size(),
                                                   " --input-shape"));
  }
  Feeds feeds = LayerFeeds(model->graph(), /*training=*/false);
  std::vector<Buffer> inputs;
  inputs.reserve(ins.size());
  std::vector<const Buffer *> x;
  for (size_t i = 0; i < ins.size(); ++i) {
    const std::string name = ins[i].node().attrs.GetOr<std::string>("name", "");
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ParseDims(shapes[i]));
    KILN_ASSIGN_OR_RETURN(Buffer b, MadeUpInput(ins[i], dims, batch, name));
    inputs.push_back(std::move(b));
    feeds[name] = &inputs.back();
    x.push_back(&inputs.back());
  }
  KILN_ASSIGN_OR_RETURN(Profiled p, train ? ProfileTraining(*model, flags, x, backend, batch, steps)
                                          : ProfilePredict(*model, feeds, backend, steps));
  std::printf("kiln profile: %s, %s, batch %lld, %lld steps, backend %s", model_path.c_str(),
              p.step.c_str(), static_cast<long long>(batch), static_cast<long long>(steps),
              p.backend.c_str());
  if (p.threads > 0) std::printf(", %d threads", p.threads);
  std::printf("\n");
  std::fputs(p.report.Table().c_str(), stdout);
  if (flags.Has("--trace")) {
    KILN_ASSIGN_OR_RETURN(std::string trace, flags.One("--trace"));
    KILN_RETURN_IF_ERROR(p.report.WriteChromeTrace(trace));
    std::printf("Chrome trace written to %s\n", trace.c_str());
  }
  return absl::OkStatus();
}

}  // namespace kiln
