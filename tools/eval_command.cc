// kiln eval: runs a Keras JSON model with .npz weights on .npy inputs and
// writes what it computed to an .npz:
//   output (output/<i> with several outputs)
//   with --cotangent R (one per output), for L = sum(output * R) + every
//   regularization loss: grad/input (grad/input/<i>) for each float input
//   and grad/<layer>/<weight> for each trainable weight;
//   reg_loss (a scalar) when the model has any regularizer;
//   with --sgd-step LR: updated/<layer>/<weight> = constraint(w - LR dL/dw).
// --training runs with the learning phase true; --seed N is the random
// step counter (Dropout masks come from (layer seed, N, stream)).
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "autodiff/grad.h"
#include "codegen/executable.h"
#include "graph/status_macros.h"
#include "layers/keras_json.h"
#include "layers/npy.h"
#include "layers/npz.h"
#include "ops/ops.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace kiln {
namespace {

std::string TypeText(DType dtype, const Shape& shape) {
  return absl::StrCat(DTypeName(dtype), shape.ToString());
}

// `b` fits `want` (N: any size, the same for every batched array).
absl::Status CheckFits(const std::string& file, const Buffer& b, DType dtype, const Shape& want,
                       const std::string& what, int64_t& batch) {
  bool fits = b.dtype() == dtype && b.shape().rank() == want.rank();
  for (int d = 0; fits && d < want.rank(); ++d) {
    if (want.dim(d) == Shape::kBatch) {
      if (batch < 0) batch = b.shape().dim(d);
      fits = b.shape().dim(d) == batch;
    } else {
      fits = b.shape().dim(d) == want.dim(d);
    }
  }
  if (fits) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(file, ": ", TypeText(b.dtype(), b.shape()),
                                                 " does not fit ", what, " (",
                                                 TypeText(dtype, want), ")"));
}

struct EvalOptions {
  std::string model, weights, out;
  std::vector<std::string> inputs, cotangents;
  std::optional<Backend> backend;
  bool training = false;
  int64_t seed = 0;
  std::optional<double> sgd_step;
};

absl::StatusOr<EvalOptions> ParseEvalArgs(const std::vector<std::string>& args) {
  KILN_ASSIGN_OR_RETURN(Flags flags, ParseFlags(args,
                                                {"--model", "--weights", "--input", "--cotangent",
                                                 "--out", "--backend", "--seed", "--sgd-step"},
                                                {"--training"}));
  EvalOptions o;
  KILN_ASSIGN_OR_RETURN(o.model, flags.One("--model"));
  KILN_ASSIGN_OR_RETURN(o.weights, flags.One("--weights"));
  KILN_ASSIGN_OR_RETURN(o.out, flags.One("--out"));
  if (!flags.Has("--input")) return absl::InvalidArgumentError("--input is required");
  o.inputs = flags.values["--input"];
  if (flags.Has("--cotangent")) o.cotangents = flags.values["--cotangent"];
  o.training = flags.Has("--training");
  KILN_ASSIGN_OR_RETURN(o.backend, BackendFlag(flags));
  if (flags.Has("--seed")) {
    KILN_ASSIGN_OR_RETURN(std::string s, flags.One("--seed"));
    if (!absl::SimpleAtoi(s, &o.seed)) {
      return absl::InvalidArgumentError(absl::StrCat("--seed '", s, "' is not an integer"));
    }
  }
  if (flags.Has("--sgd-step")) {
    KILN_ASSIGN_OR_RETURN(std::string s, flags.One("--sgd-step"));
    double lr = 0;
    if (!absl::SimpleAtod(s, &lr) || !std::isfinite(lr)) {
      return absl::InvalidArgumentError(absl::StrCat("--sgd-step '", s, "' is not a number"));
    }
    o.sgd_step = lr;
    if (o.cotangents.empty()) {
      return absl::InvalidArgumentError(
          "--sgd-step needs --cotangent (the gradient comes from it)");
    }
  }
  return o;
}

}  // namespace

absl::Status RunEval(const std::vector<std::string>& args) {
  KILN_ASSIGN_OR_RETURN(EvalOptions o, ParseEvalArgs(args));
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadKerasModel(o.model));
  KILN_RETURN_IF_ERROR(model->LoadWeights(o.weights));
  const std::vector<Tensor>& ins = model->inputs();
  const std::vector<Tensor>& outs = model->outputs();
  if (o.inputs.size() != ins.size()) {
    return absl::InvalidArgumentError(absl::StrCat(o.model, ": the model takes ", ins.size(),
                                                   " input array(s), got ", o.inputs.size(),
                                                   " --input"));
  }
  if (!o.cotangents.empty() && o.cotangents.size() != outs.size()) {
    return absl::InvalidArgumentError(absl::StrCat(o.model, ": the model has ", outs.size(),
                                                   " output(s), got ", o.cotangents.size(),
                                                   " --cotangent"));
  }
  std::shared_ptr<Graph> graph = model->graph();
  Feeds feeds = LayerFeeds(graph, o.training, o.seed);
  std::vector<Buffer> arrays;  // inputs, then cotangents
  arrays.reserve(o.inputs.size() + o.cotangents.size());
  int64_t batch = -1;
  for (size_t i = 0; i < ins.size(); ++i) {
    KILN_ASSIGN_OR_RETURN(Buffer b, ReadNpy(o.inputs[i]));
    const std::string name = ins[i].node().attrs.GetOr<std::string>("name", "");
    KILN_RETURN_IF_ERROR(CheckFits(o.inputs[i], b, ins[i].dtype(), ins[i].shape(),
                                   absl::StrCat("input '", name, "'"), batch));
    arrays.push_back(std::move(b));
    feeds[name] = &arrays.back();
  }

  const bool several = outs.size() > 1;
  std::vector<std::pair<std::string, Tensor>> results;
  for (size_t i = 0; i < outs.size(); ++i) {
    results.emplace_back(several ? absl::StrCat("output/", i) : "output", outs[i]);
  }
  const bool has_reg = model->HasRegularization();
  Tensor reg = has_reg ? model->RegularizationLoss() : Tensor();
  if (!o.cotangents.empty()) {
    Tensor loss = has_reg ? reg : Tensor();
    for (size_t i = 0; i < outs.size(); ++i) {
      KILN_ASSIGN_OR_RETURN(Buffer r, ReadNpy(o.cotangents[i]));
      const std::string what = absl::StrCat("output ", i);
      if (outs[i].dtype() != DType::kF32) {
        return absl::InvalidArgumentError(absl::StrCat(o.cotangents[i], ": ", what, " is ",
                                                       DTypeName(outs[i].dtype()),
                                                       ", which has no gradient"));
      }
      KILN_RETURN_IF_ERROR(
          CheckFits(o.cotangents[i], r, DType::kF32, outs[i].shape(), what, batch));
      const std::string feed = absl::StrCat("kiln.cotangent/", i);
      Tensor cot = Input(graph, feed, DType::kF32, outs[i].shape());
      arrays.push_back(std::move(r));
      feeds[feed] = &arrays.back();
      IntList axes;
      for (int d = 0; d < outs[i].rank(); ++d) axes.push_back(d);
      Tensor term = ReduceSum(outs[i] * cot, axes);
      loss = loss.defined() ? loss + term : term;
    }
    std::vector<Tensor> wrt;
    std::vector<std::string> names;
    for (size_t i = 0; i < ins.size(); ++i) {
      if (ins[i].dtype() != DType::kF32) continue;
      wrt.push_back(ins[i]);
      names.push_back(ins.size() > 1 ? absl::StrCat("grad/input/", i) : "grad/input");
    }
    const std::vector<Weight*> trainable = model->trainable_weights();
    for (const Weight* w : trainable) {
      wrt.push_back(model->WeightVariable(*w));
      names.push_back(absl::StrCat("grad/", w->name));
    }
    KILN_ASSIGN_OR_RETURN(std::vector<Tensor> grads, Grad(loss, wrt));
    for (size_t k = 0; k < grads.size(); ++k) results.emplace_back(names[k], grads[k]);
    if (o.sgd_step.has_value()) {
      const size_t first = wrt.size() - trainable.size();
      for (size_t k = 0; k < trainable.size(); ++k) {
        const Weight& w = *trainable[k];
        Tensor updated = wrt[first + k] - grads[first + k] * *o.sgd_step;
        if (w.constraint) updated = w.constraint(updated);
        results.emplace_back(absl::StrCat("updated/", w.name), updated);
      }
    }
  }
  if (has_reg) results.emplace_back("reg_loss", reg);

  std::vector<Tensor> program;
  for (const auto& [name, t] : results) program.push_back(t);
  KILN_RETURN_IF_ERROR(graph->status());
  ExecutableOptions exe_options;
  exe_options.backend = o.backend;
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, Executable::Compile(program, exe_options));
  KILN_ASSIGN_OR_RETURN(std::vector<Buffer> values, exe->Run(feeds));
  NpzEntries entries;
  for (size_t k = 0; k < results.size(); ++k) {
    entries.emplace_back(results[k].first, std::move(values[k]));
  }
  return WriteNpz(o.out, entries, /*compressed=*/false);
}

}  // namespace kiln
