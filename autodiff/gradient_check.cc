#include "autodiff/gradient_check.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "autodiff/grad.h"
#include "graph/graph.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr char kCotangentName[] = "kiln.gradcheck.cotangent";

double Dot(const Buffer& a, const Buffer& r) {
  double sum = 0;
  for (int64_t i = 0; i < a.num_elements(); ++i) sum += a.GetAsDouble(i) * r.GetAsDouble(i);
  return sum;
}

}  // namespace

absl::StatusOr<GradCheckResult> CheckGradients(const Tensor& output,
                                               absl::Span<const Tensor> wrt,
                                               const Feeds& feeds,
                                               const GradCheckOptions& options) {
  if (!output.defined()) return absl::InvalidArgumentError("undefined output");
  KILN_RETURN_IF_ERROR(output.status());
  // Work on a copy so the user's graph does not grow.
  std::shared_ptr<Graph> graph = output.graph()->Clone();
  Tensor y = graph->tensor(output.id());

  KILN_ASSIGN_OR_RETURN(std::vector<Buffer> base, EvaluateTensors({y}, feeds));
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Buffer r(DType::kF32, base[0].shape());
  for (int64_t i = 0; i < r.num_elements(); ++i) r.SetFromDouble(i, uniform(rng));

  Tensor r_in = Input(graph, kCotangentName, DType::kF32, y.shape());
  Tensor loss = ReduceSum(Mul(y, r_in), [&] {
    IntList all;
    for (int i = 0; i < y.rank(); ++i) all.push_back(i);
    return all;
  }());
  std::vector<Tensor> wrt_here;
  for (const Tensor& w : wrt) {
    if (!w.ok() || w.graph() != output.graph()) {
      return absl::InvalidArgumentError("CheckGradients: wrt must come from the output's graph");
    }
    wrt_here.push_back(graph->tensor(w.id()));
  }
  KILN_ASSIGN_OR_RETURN(std::vector<Tensor> grads, Grad(loss, wrt_here));
  Feeds with_r = feeds;
  with_r[kCotangentName] = &r;
  KILN_ASSIGN_OR_RETURN(std::vector<Buffer> analytic, EvaluateTensors(grads, with_r));

  GradCheckResult result;
  double worst_excess = -1;
  for (size_t k = 0; k < wrt.size(); ++k) {
    const Node& node = wrt_here[k].node();
    const std::string name = node.attrs.GetOr<std::string>("name", "");
    auto it = feeds.find(name);
    if (node.op->fusion != FusionKind::kSource || it == feeds.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CheckGradients: wrt[", k, "] must be a fed input or variable"));
    }
    Buffer perturbed = it->second->Clone();
    Feeds local = feeds;
    local[name] = &perturbed;
    std::vector<int64_t> elements(perturbed.num_elements());
    for (int64_t i = 0; i < perturbed.num_elements(); ++i) elements[i] = i;
    if (static_cast<int64_t>(elements.size()) > options.max_elements_per_input) {
      std::shuffle(elements.begin(), elements.end(), rng);
      elements.resize(options.max_elements_per_input);
    }
    for (int64_t i : elements) {
      const double x = it->second->GetAsDouble(i);
      const double eps = options.epsilon * std::max(1.0, std::abs(x));
      perturbed.SetFromDouble(i, x + eps);
      const double x_plus = perturbed.GetAsDouble(i);
      KILN_ASSIGN_OR_RETURN(std::vector<Buffer> plus, EvaluateTensors({y}, local));
      perturbed.SetFromDouble(i, x - eps);
      const double x_minus = perturbed.GetAsDouble(i);
      KILN_ASSIGN_OR_RETURN(std::vector<Buffer> minus, EvaluateTensors({y}, local));
      perturbed.SetFromDouble(i, x);
      // The step actually taken in f32.
      const double numeric = (Dot(plus[0], r) - Dot(minus[0], r)) / (x_plus - x_minus);
      const double a = analytic[k].GetAsDouble(i);
      const double err = std::abs(a - numeric);
      const double allowed =
          options.atol + options.rtol * std::max(std::abs(a), std::abs(numeric));
      ++result.checked;
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (err - allowed > worst_excess) {
        worst_excess = err - allowed;
        result.worst = absl::StrCat(name, "[", i, "]: analytic ", a, " numeric ", numeric);
      }
      if (err > allowed) result.ok = false;
    }
  }
  return result;
}

}  // namespace kiln
