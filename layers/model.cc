// Model construction: which layer calls of the graph form the model, their
// Keras order and depths; weights and regularization losses.
#include "layers/model.h"

#include <algorithm>
#include <climits>
#include <functional>
#include <map>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "layers/model_training_internal.h"
#include "ops/ops.h"

namespace kiln {
namespace {

bool IsInputOp(const Node& node) { return node.op == &kInputOp; }

std::string InputName(const Node& node) { return node.attrs.GetOr<std::string>("name", ""); }

}  // namespace

Model::Model(std::vector<Tensor> inputs, std::vector<Tensor> outputs, std::string name)
    : inputs_(std::move(inputs)),
      outputs_(std::move(outputs)),
      name_(name.empty() ? UniqueLayerName("Model") : std::move(name)) {
  Init();
}

Model::Model(const Tensor& input, const Tensor& output, std::string name)
    : Model(std::vector<Tensor>{input}, std::vector<Tensor>{output}, std::move(name)) {}

Model::Model(std::string name, bool sequential) : name_(std::move(name)), sequential_(sequential) {}


void Model::Init() {
  ResetCompiled();
  status_ = BuildTopology();
}

absl::Status Model::BuildTopology() {
  nodes_.clear();
  layers_.clear();
  if (inputs_.empty()) return absl::InvalidArgumentError("a model needs at least one input");
  if (outputs_.empty()) return absl::InvalidArgumentError("a model needs at least one output");
  graph_ = inputs_[0].graph();
  for (const std::vector<Tensor>* list : {&inputs_, &outputs_}) {
    const char* what = list == &inputs_ ? "input" : "output";
    for (size_t i = 0; i < list->size(); ++i) {
      const Tensor& t = (*list)[i];
      if (!t.defined())
        return absl::InvalidArgumentError(absl::StrCat(what, " ", i, " is undefined"));
      if (t.graph() != graph_) {
        return absl::InvalidArgumentError(
            "the model's inputs and outputs come from different graphs");
      }
      if (!t.ok()) return t.status();
    }
  }
  const std::vector<LayerCall>& calls = graph_->Attachment<LayerGraphState>().calls;

  // Which calls produced each node, in call order.
  absl::flat_hash_map<NodeId, std::vector<int>> producers;
  absl::flat_hash_map<const Layer*, int> calls_so_far;
  std::vector<int> layer_node_index(calls.size());
  for (int k = 0; k < static_cast<int>(calls.size()); ++k) {
    producers[calls[k].output].push_back(k);
    layer_node_index[k] = calls_so_far[calls[k].layer]++;
  }
  // The last call before `before` that produced `id`, or -1.
  auto producer_before = [&](NodeId id, int before) {
    auto it = producers.find(id);
    if (it == producers.end()) return -1;
    auto pos = std::lower_bound(it->second.begin(), it->second.end(), before);
    return pos == it->second.begin() ? -1 : *(pos - 1);
  };
  // The calls a value depends on directly: its producer, or through plain
  // ops those of the values they read.
  auto sources = [&](NodeId id, int before, std::vector<int>& out) {
    absl::flat_hash_set<NodeId> seen;
    std::function<void(NodeId)> walk = [&](NodeId n) {
      if (!seen.insert(n).second) return;
      const int p = producer_before(n, before);
      if (p >= 0) {
        out.push_back(p);
        return;
      }
      for (NodeId in : graph_->node(n).inputs) walk(in);
    };
    walk(id);
  };

  // Model inputs must be Input() tensors.
  absl::flat_hash_set<std::string> input_names;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Node& node = inputs_[i].node();
    if (!IsInputOp(node) || InputLayerOf(inputs_[i]) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("model input ", i, " does not come from Input() (it is a '", node.op->name,
                       "' node", node.layer.empty() ? "" : " of layer '" + node.layer + "'", ")"));
    }
    if (!input_names.insert(InputName(node)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", InputName(node), "' is given twice"));
    }
  }
  // Every input the outputs need must be a model input (Keras: "Graph
  // disconnected").
  {
    std::vector<std::pair<NodeId, std::string>> stack;  // node, the layer reading it
    absl::flat_hash_set<NodeId> seen;
    for (const Tensor& t : outputs_) stack.emplace_back(t.id(), "");
    while (!stack.empty()) {
      const auto [n, reader] = stack.back();
      stack.pop_back();
      if (!seen.insert(n).second) continue;
      const Node& node = graph_->node(n);
      if (IsInputOp(node)) {
        const std::string name = InputName(node);
        if (!input_names.contains(name) && name != kLearningPhaseName && name != kStepCounterName) {
          return absl::InvalidArgumentError(
              absl::StrCat("graph disconnected: the outputs need input '", name,
                           "', which is not an input of the model",
                           reader.empty() ? "" : " (read by layer '" + reader + "')"));
        }
      }
      for (NodeId in : node.inputs) stack.emplace_back(in, node.layer);
    }
  }

  // Keras _map_graph_network: a depth-first walk back from the outputs.
  absl::flat_hash_map<int, int> node_of_call;  // call -> index in nodes_
  absl::flat_hash_map<const Layer*, int> layer_index;
  std::vector<std::vector<int>> inbound_calls;  // per node, calls it reads
  std::function<int(int)> visit = [&](int call) -> int {
    auto done = node_of_call.find(call);
    if (done != node_of_call.end()) return done->second;
    const LayerCall& c = calls[call];
    layer_index.emplace(c.layer, static_cast<int>(layer_index.size()));
    std::vector<int> parents;
    for (NodeId in : c.inputs) sources(in, call, parents);
    std::vector<int> parent_nodes;
    for (int p : parents) parent_nodes.push_back(visit(p));
    ModelNode node;
    node.layer = c.layer;
    node.call = call;
    node.layer_node_index = layer_node_index[call];
    node.parents = std::move(parent_nodes);
    nodes_.push_back(std::move(node));
    node_of_call[call] = static_cast<int>(nodes_.size()) - 1;
    return static_cast<int>(nodes_.size()) - 1;
  };
  for (const Tensor& t : outputs_) {
    std::vector<int> out_calls;
    sources(t.id(), INT_MAX, out_calls);
    for (int call : out_calls) visit(call);
  }

  // Depths: outputs 0, a node's parents one more than the node; a layer
  // takes the largest depth of its nodes.
  absl::flat_hash_map<const Layer*, int> layer_depth;
  std::vector<int> depth(nodes_.size(), 0);
  for (int i = static_cast<int>(nodes_.size()) - 1; i >= 0; --i) {
    int d = std::max(depth[i], layer_depth[nodes_[i].layer]);
    layer_depth[nodes_[i].layer] = d;
    depth[i] = d;
    for (int p : nodes_[i].parents) depth[p] = std::max(depth[p], d + 1);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i].depth = depth[i];
  // Inputs no output depends on still belong to the model.
  for (const Tensor& t : inputs_) {
    InputLayer* input = InputLayerOf(t);
    if (layer_depth.contains(input)) continue;
    layer_depth[input] = 0;
    layer_index[input] = -1;
    int call = -1;
    for (int k : producers[t.id()]) {
      if (calls[k].layer == input) call = k;
    }
    ModelNode node;
    node.layer = input;
    node.call = call;
    node.layer_node_index = 0;
    nodes_.push_back(std::move(node));
  }

  // Layers by decreasing depth, ties in walk order.
  std::vector<const Layer*> order;
  for (const auto& [layer, d] : layer_depth) order.push_back(layer);
  std::sort(order.begin(), order.end(), [&](const Layer* a, const Layer* b) {
    if (layer_depth[a] != layer_depth[b]) return layer_depth[a] > layer_depth[b];
    return layer_index[a] < layer_index[b];
  });
  absl::flat_hash_map<const Layer*, std::shared_ptr<Layer>> owners;
  for (const std::shared_ptr<Layer>& l : graph_->Attachment<LayerGraphState>().layers) {
    owners[l.get()] = l;
  }
  std::map<std::string, int> name_counts;
  for (const Layer* l : order) {
    layers_.push_back(owners.at(l));
    ++name_counts[l->name()];
  }
  for (const auto& [layer_name, count] : name_counts) {
    if (count > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("the name '", layer_name, "' is used ", count,
                       " times in the model; all layer names should be unique"));
    }
  }
  return absl::OkStatus();
}

std::vector<int> Model::NodesOf(const Layer* layer) const {
  std::vector<int> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].layer == layer) out.push_back(static_cast<int>(i));
  }
  std::sort(out.begin(), out.end(), [&](int a, int b) { return nodes_[a].call < nodes_[b].call; });
  return out;
}

absl::StatusOr<std::shared_ptr<Layer>> Model::GetLayer(absl::string_view name) const {
  std::vector<std::string> names;
  for (const std::shared_ptr<Layer>& l : layers_) {
    if (l->name() == name) return l;
    names.push_back(l->name());
  }
  return absl::NotFoundError(absl::StrCat("model '", name_, "' has no layer '", name,
                                          "'; its layers are: ", absl::StrJoin(names, ", ")));
}

std::vector<Weight*> Model::trainable_weights() const {
  std::vector<Weight*> out;
  for (const std::shared_ptr<Layer>& l : layers_) {
    for (Weight& w : l->weights()) {
      if (w.trainable) out.push_back(&w);
    }
  }
  return out;
}

std::vector<Weight*> Model::non_trainable_weights() const {
  std::vector<Weight*> out;
  for (const std::shared_ptr<Layer>& l : layers_) {
    for (Weight& w : l->weights()) {
      if (!w.trainable) out.push_back(&w);
    }
  }
  return out;
}

std::vector<Weight*> Model::weights() const {
  std::vector<Weight*> out = trainable_weights();
  for (Weight* w : non_trainable_weights()) out.push_back(w);
  return out;
}

int64_t Model::CountParams() const {
  int64_t n = 0;
  for (const Weight* w : weights()) n += w->value.num_elements();
  return n;
}

Tensor Model::WeightVariable(const Weight& weight) const {
  LayerGraphState& state = graph_->Attachment<LayerGraphState>();
  auto it = state.variables.find(weight.name);
  if (it != state.variables.end()) return graph_->tensor(it->second);
  Tensor v = Variable(graph_, weight.name, weight.value.dtype(), weight.value.shape());
  if (v.ok()) state.variables[weight.name] = v.id();
  return v;
}

Tensor Model::RegularizationLoss() const {
  if (graph_ == nullptr) return Tensor();
  Tensor total;
  auto add = [&](const Tensor& t) { total = total.defined() ? total + t : t; };
  for (const Weight* w : weights()) {
    if (w->regularizer) add(w->regularizer(WeightVariable(*w)));
  }
  const std::vector<LayerCall>& calls = graph_->Attachment<LayerGraphState>().calls;
  for (const ModelNode& node : nodes_) {
    if (node.call >= 0 && calls[node.call].activity_loss != kNoNode) {
      add(graph_->tensor(calls[node.call].activity_loss));
    }
  }
  if (!total.defined()) total = Constant(graph_, Buffer::Scalar(DType::kF32, 0.0));
  return total;
}

bool Model::HasRegularization() const {
  for (const Weight* w : weights()) {
    if (w->regularizer) return true;
  }
  if (graph_ == nullptr) return false;
  const std::vector<LayerCall>& calls = graph_->Attachment<LayerGraphState>().calls;
  for (const ModelNode& node : nodes_) {
    if (node.call >= 0 && calls[node.call].activity_loss != kNoNode) return true;
  }
  return false;
}

// ---- Sequential --------------------------------------------------------------

Sequential::Sequential(std::string name)
    : Model(name.empty() ? UniqueLayerName("Sequential") : std::move(name), true) {
  set_status(absl::FailedPreconditionError(absl::StrCat(
      "model '", this->name(),
      "' has not been built yet: give it an input with Build(shape) or Add(Input(shape))")));
}

Sequential::Sequential(std::vector<std::shared_ptr<Layer>> layers, std::string name)
    : Sequential(std::move(name)) {
  for (std::shared_ptr<Layer>& l : layers) Add(std::move(l));
}

Sequential& Sequential::Add(std::shared_ptr<Layer> layer, SourceLoc loc) {
  if (layer == nullptr) {
    if (add_error_.ok())
      add_error_ = absl::InvalidArgumentError("Sequential::Add: the layer is null");
    set_status(add_error_);
    return *this;
  }
  added_.push_back(layer);
  if (built()) {
    outputs_ = {(*layer)(outputs_[0], loc)};
    Rebuild();
  } else {
    layers_ = added_;
  }
  return *this;
}

Sequential& Sequential::Add(const Tensor& input) {
  if (built() || !added_.empty()) {
    if (add_error_.ok()) {
      add_error_ = absl::FailedPreconditionError(
          absl::StrCat("model '", name(), "': an input can only be added first, before any layer"));
    }
    set_status(add_error_);
    return *this;
  }
  inputs_ = {input};
  outputs_ = {input};
  Rebuild();
  return *this;
}

absl::Status Sequential::Build(const std::vector<int64_t>& shape, InputOptions options,
                               SourceLoc loc) {
  if (built()) {
    return absl::FailedPreconditionError(absl::StrCat("model '", name(), "' is already built"));
  }
  if (options.name.empty() && !added_.empty()) options.name = added_[0]->name() + "_input";
  Tensor x = Input(shape, std::move(options), loc);
  if (!x.ok()) return x.status();
  inputs_ = {x};
  Tensor y = x;
  for (const std::shared_ptr<Layer>& l : added_) y = (*l)(y, loc);
  outputs_ = {y};
  Rebuild();
  return status();
}

void Sequential::Rebuild() {
  Init();
  layers_ = added_;
  if (!add_error_.ok()) set_status(add_error_);
}

}  // namespace kiln
