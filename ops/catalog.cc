#include "ops/catalog.h"

#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {
namespace {

class ListedOps final : public OpCatalog {
 public:
  ListedOps() {
#define KILN_OP(def, builder) all_.push_back(&def);
#include "ops/op_list.inc"
#undef KILN_OP
    for (const OpDef* op : all_) {
      KILN_CHECK_MSG(by_name_.emplace(op->name, op).second,
                     "two ops in ops/op_list.inc share a name");
    }
  }
  const OpDef* Find(absl::string_view name) const override {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }
  absl::Span<const OpDef* const> All() const override { return all_; }

 private:
  std::vector<const OpDef*> all_;
  absl::flat_hash_map<absl::string_view, const OpDef*> by_name_;
};

}  // namespace

const OpCatalog& Ops() {
  static const ListedOps* ops = new ListedOps();
  return *ops;
}

Tensor Apply(const OpDef& op, const std::vector<Tensor>& inputs, Attrs attrs,
             SourceLoc loc) {
  for (const Tensor& t : inputs) {
    if (t.defined()) return t.graph()->Apply(op, inputs, std::move(attrs), loc);
  }
  // No graph to record the error in: an undefined tensor.
  return Tensor();
}

Tensor Apply(const OpDef& op, std::initializer_list<Tensor> inputs,
             Attrs attrs, SourceLoc loc) {
  return Apply(op, std::vector<Tensor>(inputs), std::move(attrs), loc);
}

}  // namespace kiln
