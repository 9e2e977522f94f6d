#include "graph/text.h"

#include <cctype>
#include <cstdlib>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "graph/status_macros.h"

namespace kiln {

std::string PrintGraph(const Graph& graph) {
  std::string out;
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    const Node& n = graph.node(id);
    absl::StrAppend(&out, "%", id, ":", n.type.ToString(), " = ", n.op->name,
                    "(",
                    absl::StrJoin(n.inputs, ", ",
                                  [](std::string* s, NodeId in) {
                                    absl::StrAppend(s, "%", in);
                                  }),
                    ")");
    if (!n.attrs.empty()) absl::StrAppend(&out, " ", n.attrs.ToString());
    out += "\n";
  }
  if (!graph.outputs().empty()) {
    absl::StrAppend(&out, "return ",
                    absl::StrJoin(graph.outputs(), ", ",
                                  [](std::string* s, NodeId in) {
                                    absl::StrAppend(s, "%", in);
                                  }),
                    "\n");
  }
  return out;
}

namespace {

// A cursor over one line of graph text.
class Cursor {
 public:
  explicit Cursor(absl::string_view text) : rest_(text) {}
  void SkipSpace() {
    while (!rest_.empty() && std::isspace(static_cast<unsigned char>(rest_[0]))) {
      rest_.remove_prefix(1);
    }
  }
  bool Consume(absl::string_view token) {
    SkipSpace();
    return absl::ConsumePrefix(&rest_, token);
  }
  absl::Status Expect(absl::string_view token) {
    if (Consume(token)) return absl::OkStatus();
    return Error(absl::StrCat("expected '", token, "'"));
  }
  // Characters up to (not including) the first of `stops` at nesting depth 0.
  absl::string_view TakeUntil(absl::string_view stops) {
    SkipSpace();
    int depth = 0;
    bool in_string = false;
    size_t i = 0;
    for (; i < rest_.size(); ++i) {
      const char c = rest_[i];
      if (in_string) {
        if (c == '"') in_string = false;
        continue;
      }
      if (depth == 0 && stops.find(c) != absl::string_view::npos) break;
      if (c == '"') {
        in_string = true;
      } else if (c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
        --depth;
      }
    }
    absl::string_view taken = rest_.substr(0, i);
    rest_.remove_prefix(i);
    return absl::StripTrailingAsciiWhitespace(taken);
  }
  absl::StatusOr<NodeId> NodeRef() {
    SkipSpace();
    if (!absl::ConsumePrefix(&rest_, "%")) return Error("expected %id");
    size_t n = 0;
    while (n < rest_.size() && std::isdigit(static_cast<unsigned char>(rest_[n]))) ++n;
    int id;
    if (n == 0 || !absl::SimpleAtoi(rest_.substr(0, n), &id)) {
      return Error("expected a node number after %");
    }
    rest_.remove_prefix(n);
    return id;
  }
  bool AtEnd() {
    SkipSpace();
    return rest_.empty();
  }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " at '", rest_.substr(0, 30), "'"));
  }

 private:
  absl::string_view rest_;
};

absl::StatusOr<Buffer> ParseBuffer(absl::string_view text) {
  const size_t bracket = text.find('[');
  const size_t brace = text.find('{');
  if (bracket == absl::string_view::npos || brace == absl::string_view::npos ||
      text.back() != '}') {
    return absl::InvalidArgumentError(absl::StrCat("bad buffer '", text, "'"));
  }
  KILN_ASSIGN_OR_RETURN(DType dtype, ParseDType(text.substr(0, bracket)));
  KILN_ASSIGN_OR_RETURN(Shape shape,
                        Shape::Parse(text.substr(bracket, brace - bracket)));
  if (!shape.IsConcrete()) {
    return absl::InvalidArgumentError("a constant buffer needs a concrete shape");
  }
  absl::string_view body = text.substr(brace + 1, text.size() - brace - 2);
  std::vector<absl::string_view> parts;
  if (!body.empty()) parts = absl::StrSplit(body, ',');
  Buffer b(dtype, shape);
  if (static_cast<int64_t>(parts.size()) != b.num_elements()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "buffer ", shape.ToString(), " needs ", b.num_elements(),
        " values, got ", parts.size()));
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string part(absl::StripAsciiWhitespace(parts[i]));
    char* end = nullptr;
    const double v = std::strtod(part.c_str(), &end);
    if (part.empty() || *end != '\0') {
      return absl::InvalidArgumentError(absl::StrCat("bad value '", part, "'"));
    }
    b.SetFromDouble(i, v);
  }
  return b;
}

}  // namespace

absl::StatusOr<AttrValue> ParseAttrValue(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return absl::InvalidArgumentError("empty attribute value");
  if (text.front() == '"') {
    if (text.size() < 2 || text.back() != '"') {
      return absl::InvalidArgumentError(absl::StrCat("unterminated string ", text));
    }
    return AttrValue(std::string(text.substr(1, text.size() - 2)));
  }
  if (text.front() == '(') {
    if (text.back() != ')') {
      return absl::InvalidArgumentError(absl::StrCat("bad list ", text));
    }
    IntList list;
    absl::string_view body = text.substr(1, text.size() - 2);
    if (!body.empty()) {
      for (absl::string_view part : absl::StrSplit(body, ',')) {
        int64_t v;
        if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &v)) {
          return absl::InvalidArgumentError(absl::StrCat("bad integer '", part, "'"));
        }
        list.push_back(v);
      }
    }
    return AttrValue(std::move(list));
  }
  if (text.front() == '[') {
    KILN_ASSIGN_OR_RETURN(Shape s, Shape::Parse(text));
    return AttrValue(std::move(s));
  }
  if (text.find('{') != absl::string_view::npos) {
    KILN_ASSIGN_OR_RETURN(Buffer b, ParseBuffer(text));
    return AttrValue(std::make_shared<const Buffer>(std::move(b)));
  }
  if (absl::StatusOr<DType> dt = ParseDType(text); dt.ok()) return AttrValue(*dt);
  int64_t i;
  if (absl::SimpleAtoi(text, &i)) return AttrValue(i);
  std::string s(text);
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (*end == '\0') return AttrValue(d);
  return absl::InvalidArgumentError(absl::StrCat("bad attribute value '", text, "'"));
}

absl::StatusOr<std::shared_ptr<Graph>> ParseGraph(absl::string_view text,
                                                  const OpCatalog& ops) {
  auto graph = Graph::Create();
  absl::flat_hash_map<NodeId, NodeId> ids;  // text id -> graph id
  auto resolve = [&](NodeId text_id) -> absl::StatusOr<NodeId> {
    auto it = ids.find(text_id);
    if (it == ids.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("%", text_id, " is used before it is defined"));
    }
    return it->second;
  };
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    Cursor c(line);
    if (c.AtEnd()) continue;
    auto fail = [&](const absl::Status& s) {
      return absl::InvalidArgumentError(
          absl::StrCat("graph text line ", line_number, ": ", s.message()));
    };
    if (c.Consume("return")) {
      do {
        absl::StatusOr<NodeId> id = c.NodeRef();
        if (!id.ok()) return fail(id.status());
        absl::StatusOr<NodeId> resolved = resolve(*id);
        if (!resolved.ok()) return fail(resolved.status());
        graph->outputs().push_back(*resolved);
      } while (c.Consume(","));
      if (!c.AtEnd()) return fail(c.Error("unexpected text"));
      continue;
    }
    absl::StatusOr<NodeId> text_id = c.NodeRef();
    if (!text_id.ok()) return fail(text_id.status());
    if (absl::Status s = c.Expect(":"); !s.ok()) return fail(s);
    absl::string_view type_text = c.TakeUntil("=");
    if (absl::Status s = c.Expect("="); !s.ok()) return fail(s);
    absl::string_view op_name = c.TakeUntil("(");
    const OpDef* op = ops.Find(op_name);
    if (op == nullptr) return fail(absl::NotFoundError(absl::StrCat("unknown op '", op_name, "'")));
    if (absl::Status s = c.Expect("("); !s.ok()) return fail(s);
    std::vector<NodeId> inputs;
    if (!c.Consume(")")) {
      do {
        absl::StatusOr<NodeId> in = c.NodeRef();
        if (!in.ok()) return fail(in.status());
        absl::StatusOr<NodeId> resolved = resolve(*in);
        if (!resolved.ok()) return fail(resolved.status());
        inputs.push_back(*resolved);
      } while (c.Consume(","));
      if (absl::Status s = c.Expect(")"); !s.ok()) return fail(s);
    }
    Attrs attrs;
    if (c.Consume("{")) {
      while (!c.Consume("}")) {
        absl::string_view name = c.TakeUntil("=");
        if (absl::Status s = c.Expect("="); !s.ok()) return fail(s);
        absl::StatusOr<AttrValue> value = ParseAttrValue(c.TakeUntil(",}"));
        if (!value.ok()) return fail(value.status());
        attrs.Set(name, *std::move(value));
        c.Consume(",");
        if (c.AtEnd()) return fail(c.Error("unterminated attributes"));
      }
    }
    if (!c.AtEnd()) return fail(c.Error("unexpected text"));
    absl::StatusOr<NodeId> id = graph->AddNode(*op, std::move(inputs), std::move(attrs));
    if (!id.ok()) return fail(id.status());
    const std::string inferred = graph->node(*id).type.ToString();
    if (inferred != type_text) {
      return fail(absl::InvalidArgumentError(absl::StrCat(
          "%", *text_id, " is written as ", type_text, " but ", op_name,
          " gives ", inferred)));
    }
    if (!ids.emplace(*text_id, *id).second) {
      return fail(absl::InvalidArgumentError(absl::StrCat("%", *text_id, " is defined twice")));
    }
  }
  return graph;
}

}  // namespace kiln
