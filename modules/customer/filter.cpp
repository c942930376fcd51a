// The customer filter language: validation of a whole tree, then compilation to SQL with
// bound parameters only.
#include "filter.hpp"

#include "crm/platform/time.hpp"
#include "validation.hpp"

#include <algorithm>
#include <cctype>
#include <regex>
#include <stdexcept>

namespace crm::customer::filter {

namespace bj = boost::json;
using platform::FieldError;

namespace {

struct OpName {
  const char* name;
  Op op;
};
constexpr OpName kOps[] = {
    {"eq", Op::eq},           {"neq", Op::neq},         {"in", Op::in},
    {"nin", Op::nin},         {"lt", Op::lt},           {"lte", Op::lte},
    {"gt", Op::gt},           {"gte", Op::gte},         {"between", Op::between},
    {"contains", Op::contains}, {"starts_with", Op::starts_with}, {"is_null", Op::is_null},
    {"is_not_null", Op::is_not_null},
};

const char* op_name(Op op) {
  for (const auto& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "?";
}

/// The whitelist: documented field -> how it is stored. `column` is fixed SQL text.
struct FieldSpec {
  const char* name;
  Kind kind;
  const char* column;               // the column (or the facet kind for membership)
  bool (*valid)(std::string_view);  // enumerations: the allowed values
  const char* values_hint;
};
constexpr FieldSpec kFields[] = {
    {"status", Kind::enumeration, "c.status", domain::valid_customer_status,
     "lead, prospect, active, inactive, churned or blocked"},
    {"tier", Kind::enumeration, "c.tier", domain::valid_tier, "bronze, silver, gold or platinum"},
    {"type", Kind::enumeration, "c.type", domain::valid_customer_type, "individual or business"},
    {"owner_id", Kind::id, "c.owner_id", nullptr, nullptr},
    {"industry", Kind::text, "c.industry", nullptr, nullptr},
    {"name", Kind::text, "c.name", nullptr, nullptr},
    {"legal_name", Kind::text, "c.legal_name", nullptr, nullptr},
    {"email", Kind::text, "c.email", nullptr, nullptr},
    {"phone", Kind::text, "c.phone", nullptr, nullptr},
    {"code", Kind::text, "c.code", nullptr, nullptr},
    {"external_id", Kind::text, "c.external_id", nullptr, nullptr},
    {"created_at", Kind::timestamp, "c.created_at", nullptr, nullptr},
    {"updated_at", Kind::timestamp, "c.updated_at", nullptr, nullptr},
    {"credit_limit", Kind::amount, "c.credit_limit_minor", nullptr, nullptr},
    {"lifetime_value", Kind::amount, "c.lifetime_value_minor", nullptr, nullptr},
    {"tag", Kind::membership, "tag", nullptr, nullptr},
    {"country", Kind::membership, "country", nullptr, nullptr},
    {"segment_id", Kind::segment, "", nullptr, nullptr},
};

const FieldSpec* field_spec(std::string_view name) {
  for (const auto& f : kFields) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

bool op_allowed(Kind kind, Op op) {
  switch (kind) {
    case Kind::text:
    case Kind::custom:
      return true;
    case Kind::enumeration:
    case Kind::id:
    case Kind::membership:
      return op == Op::eq || op == Op::neq || op == Op::in || op == Op::nin || op == Op::is_null ||
             op == Op::is_not_null;
    case Kind::segment:
      return op == Op::eq || op == Op::neq || op == Op::in || op == Op::nin;
    case Kind::timestamp:
    case Kind::amount:
      return op != Op::contains && op != Op::starts_with;
  }
  return false;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::enumeration: return "an enumeration";
    case Kind::id: return "an id";
    case Kind::text: return "a text";
    case Kind::timestamp: return "a timestamp";
    case Kind::amount: return "an amount";
    case Kind::membership: return "a membership";
    case Kind::custom: return "a custom";
    case Kind::segment: return "a segment";
  }
  return "a";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

class Parser {
 public:
  Parser(const ParseOptions& options, std::vector<FieldError>& errors) : options_(options), errors_(errors) {}

  std::optional<Node> node(const bj::value& v, const std::string& path, int depth) {
    if (depth > kMaxDepth) {
      error(path, "too_deep", "Filters nest at most " + std::to_string(kMaxDepth) + " levels.");
      return std::nullopt;
    }
    if (!v.is_object()) {
      error(path, "type", "Must be an object: {\"and\":[...]}, {\"or\":[...]}, {\"not\":{...}} or {\"field\",\"op\",\"value\"}.");
      return std::nullopt;
    }
    const auto& o = v.get_object();
    for (const char* group : {"and", "or"}) {
      if (const auto* items = o.if_contains(group)) {
        extra_keys(o, path, {group});
        Node n;
        n.type = std::string_view(group) == "and" ? Node::Type::all : Node::Type::any;
        std::string here = path + "." + group;
        if (!items->is_array() || items->get_array().empty()) {
          error(here, "type", "Must be a non-empty array of filters.");
          return std::nullopt;
        }
        bool ok = true;
        const auto& a = items->get_array();
        for (std::size_t i = 0; i < a.size(); ++i) {
          auto child = node(a[i], here + "[" + std::to_string(i) + "]", depth + 1);
          if (child) n.children.push_back(std::move(*child));
          else ok = false;
        }
        if (!ok) return std::nullopt;
        return n;
      }
    }
    if (const auto* inner = o.if_contains("not")) {
      extra_keys(o, path, {"not"});
      auto child = node(*inner, path + ".not", depth + 1);
      if (!child) return std::nullopt;
      Node n;
      n.type = Node::Type::negation;
      n.children.push_back(std::move(*child));
      return n;
    }
    return leaf(o, path);
  }

  int leaves() const { return leaves_; }

 private:
  void error(std::string field, std::string code, std::string message) {
    errors_.push_back(FieldError{std::move(field), std::move(code), std::move(message)});
  }

  void extra_keys(const bj::object& o, const std::string& path, std::initializer_list<std::string_view> allowed) {
    for (const auto& kv : o) {
      if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
        error(path + "." + std::string(kv.key()), "unknown_field", "Is not part of this filter node.");
      }
    }
  }

  std::optional<Node> leaf(const bj::object& o, const std::string& path) {
    ++leaves_;
    extra_keys(o, path, {"field", "op", "value"});
    bool ok = true;
    Leaf l;
    const FieldSpec* spec = nullptr;
    const auto* field = o.if_contains("field");
    if (!field || !field->is_string()) {
      error(path + ".field", field ? "type" : "required", "Name a field (or use and, or, not).");
      ok = false;
    } else {
      l.field = std::string(field->get_string());
      static const std::regex key_re("^[a-z][a-z0-9_]{0,63}$");
      if (l.field.rfind("custom.", 0) == 0) {
        l.custom_key = l.field.substr(7);
        l.kind = Kind::custom;
        if (!std::regex_match(l.custom_key, key_re)) {
          error(path + ".field", "unknown_field", "Custom field keys are snake_case: custom.<a-z, 0-9, _>.");
          ok = false;
        }
      } else if ((spec = field_spec(l.field))) {
        l.kind = spec->kind;
      } else {
        error(path + ".field", "unknown_field", "Is not a field customers are filtered on.");
        ok = false;
      }
    }
    const auto* op = o.if_contains("op");
    if (!op || !op->is_string()) {
      error(path + ".op", op ? "type" : "required", "Give an operator.");
      ok = false;
    } else {
      auto it = std::find_if(std::begin(kOps), std::end(kOps), [&](const OpName& n) { return op->get_string() == n.name; });
      if (it == std::end(kOps)) {
        error(path + ".op", "unknown_op", "Use eq, neq, in, nin, lt, lte, gt, gte, between, contains, starts_with, "
                                          "is_null or is_not_null.");
        ok = false;
      } else {
        l.op = it->op;
      }
    }
    if (!ok) return std::nullopt;
    if (!op_allowed(l.kind, l.op)) {
      error(path + ".op", "op_not_allowed",
            std::string(op_name(l.op)) + " does not apply to " + l.field + " (" + kind_name(l.kind) + " field).");
      return std::nullopt;
    }
    const auto* value = o.if_contains("value");
    std::string vpath = path + ".value";
    l.path = vpath;
    if (l.op == Op::is_null || l.op == Op::is_not_null) {
      if (value && !value->is_null()) {
        error(vpath, "unexpected", std::string(op_name(l.op)) + " takes no value.");
        return std::nullopt;
      }
    } else if (!value) {
      error(vpath, "required", std::string(op_name(l.op)) + " needs a value.");
      return std::nullopt;
    } else if (l.op == Op::in || l.op == Op::nin) {
      if (!value->is_array()) {
        error(vpath, "type", "Must be an array of values.");
        return std::nullopt;
      }
      const auto& a = value->get_array();
      if (a.empty()) {
        error(vpath, "empty", std::string(op_name(l.op)) + " needs at least one value.");
        return std::nullopt;
      }
      std::size_t most = l.kind == Kind::segment ? kMaxSegmentValues : 100;
      if (a.size() > most) {
        error(vpath, "too_many", "At most " + std::to_string(most) + " values.");
        return std::nullopt;
      }
      for (std::size_t i = 0; i < a.size(); ++i) ok = scalar(l, spec, a[i], vpath + "[" + std::to_string(i) + "]") && ok;
    } else if (l.op == Op::between) {
      if (!value->is_array() || value->get_array().size() != 2) {
        error(vpath, "between", "between needs two values: [low, high].");
        return std::nullopt;
      }
      const auto& a = value->get_array();
      ok = scalar(l, spec, a[0], vpath + "[0]") && ok;
      ok = scalar(l, spec, a[1], vpath + "[1]") && ok;
      if (ok && l.kind == Kind::custom && l.values[0].index() != l.values[1].index()) {
        error(vpath, "type", "Both ends must be of one type.");
        ok = false;
      }
    } else {
      ok = scalar(l, spec, *value, vpath);
    }
    if (!ok) return std::nullopt;
    // Ordering and pattern matching of custom fields: numbers or text only.
    if (l.kind == Kind::custom) {
      bool ordered = l.op == Op::lt || l.op == Op::lte || l.op == Op::gt || l.op == Op::gte || l.op == Op::between;
      bool pattern = l.op == Op::contains || l.op == Op::starts_with;
      for (const auto& v : l.values) {
        if ((ordered && std::holds_alternative<bool>(v)) || (pattern && !std::holds_alternative<std::string>(v))) {
          error(vpath, "type", std::string(op_name(l.op)) + (pattern ? " needs a text." : " needs a number or a text."));
          return std::nullopt;
        }
      }
    }
    Node n;
    n.type = Node::Type::leaf;
    n.leaf = std::move(l);
    return n;
  }

  /// One value of the leaf's field, appended to its values.
  bool scalar(Leaf& l, const FieldSpec* spec, const bj::value& v, const std::string& path) {
    auto fail = [&](const char* code, std::string message) {
      error(path, code, std::move(message));
      return false;
    };
    bool pattern = l.op == Op::contains || l.op == Op::starts_with;
    switch (l.kind) {
      case Kind::enumeration: {
        if (!v.is_string()) return fail("type", "Must be a text.");
        std::string s(v.get_string());
        if (!spec->valid(s)) return fail("enum", std::string("Must be ") + spec->values_hint + ".");
        l.values.emplace_back(std::move(s));
        return true;
      }
      case Kind::id: {
        if (!v.is_string()) return fail("type", "Must be a text.");
        if (!platform::is_uuid(v.get_string())) return fail("invalid", "Must be a user id.");
        l.values.emplace_back(std::string(v.get_string()));
        return true;
      }
      case Kind::text: {
        if (!v.is_string()) return fail("type", "Must be a text.");
        if (v.get_string().size() > 500) return fail("too_long", "At most 500 characters.");
        if (pattern && v.get_string().empty()) return fail("invalid", "Must not be empty.");
        l.values.emplace_back(std::string(v.get_string()));
        return true;
      }
      case Kind::timestamp: {
        if (!v.is_string()) return fail("type", "Must be an RFC 3339 timestamp text.");
        auto t = platform::parse_rfc3339(v.get_string());
        if (!t) return fail("invalid", "Must be an RFC 3339 timestamp such as 2026-01-31T00:00:00Z.");
        l.values.emplace_back(static_cast<long long>(*t));
        return true;
      }
      case Kind::amount: {
        std::string text;
        if (v.is_string()) text = std::string(v.get_string());
        else if (v.is_int64()) text = std::to_string(v.get_int64());
        else if (v.is_uint64()) text = std::to_string(v.get_uint64());
        else if (v.is_double()) text = bj::serialize(v);
        else return fail("type", "Must be an amount: a decimal text such as \"12.50\" or a number.");
        auto m = domain::parse_money(text, options_.amount_exponent);
        if (!m.minor) return fail("invalid", "Must be an amount with at most " + std::to_string(options_.amount_exponent) +
                                                 " decimals.");
        l.values.emplace_back(static_cast<long long>(*m.minor));
        return true;
      }
      case Kind::membership: {
        if (!v.is_string()) return fail("type", "Must be a text.");
        std::string s(v.get_string());
        if (l.field == "country") {
          s = upper(s);
          if (!domain::valid_country(s)) return fail("invalid", "Must be an ISO 3166-1 alpha-2 code.");
        } else {
          s = lower(s);
          if (s.empty() || s.size() > 50) return fail("invalid", "Must be 1 to 50 characters.");
        }
        l.values.emplace_back(std::move(s));
        return true;
      }
      case Kind::segment: {
        if (!v.is_string()) return fail("type", "Must be a text.");
        if (!platform::is_uuid(v.get_string())) return fail("invalid", "Must be a segment id.");
        l.values.emplace_back(std::string(v.get_string()));
        return true;
      }
      case Kind::custom: {
        if (v.is_string()) {
          if (v.get_string().size() > 2000) return fail("too_long", "At most 2000 characters.");
          if (pattern && v.get_string().empty()) return fail("invalid", "Must not be empty.");
          l.values.emplace_back(std::string(v.get_string()));
        } else if (v.is_bool()) {
          l.values.emplace_back(v.get_bool());
        } else if (v.is_number()) {
          l.values.emplace_back(v.to_number<double>());
        } else {
          return fail("type", "Custom field values are texts, numbers or booleans.");
        }
        return true;
      }
    }
    return false;
  }

  const ParseOptions& options_;
  std::vector<FieldError>& errors_;
  int leaves_ = 0;
};

// ---- compilation ----

/// LIKE pattern of a text with %, _ and the escape character escaped.
std::string like_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

class Compiler {
 public:
  Compiler(Dialect dialect, const Bind& bind) : dialect_(dialect), bind_(bind) {}

  std::string node(const Node& n) {
    switch (n.type) {
      case Node::Type::all:
      case Node::Type::any: {
        std::string out = "(";
        for (std::size_t i = 0; i < n.children.size(); ++i) {
          if (i) out += n.type == Node::Type::all ? " AND " : " OR ";
          out += node(n.children[i]);
        }
        out += ")";
        return out;
      }
      case Node::Type::negation: {
        std::string out = "(NOT ";
        out += node(n.children.front());
        out += ")";
        return out;
      }
      case Node::Type::leaf: return leaf(n.leaf);
    }
    return "(1 = 0)";
  }

 private:
  /// A generator of the value expression: called once per appearance, so each appearance
  /// binds its own parameters.
  using Expr = std::function<std::string()>;

  std::string leaf(const Leaf& l) {
    if (l.kind == Kind::membership) return membership(l);
    if (l.kind == Kind::segment) return segment(l);
    if (l.kind == Kind::custom) return custom(l);
    std::string column = field_spec(l.field)->column;
    return compare(l, [column] { return column; }, [this](const Scalar& v) { return bind_(v); });
  }

  /// The comparison of a value expression (NULL when absent) with the leaf's values; the
  /// result is never NULL, so NOT is exact.
  template <class BindValue>
  std::string compare(const Leaf& l, const Expr& x, const BindValue& value) {
    auto cmp = [&](const char* op, const Scalar& v) {
      std::string out = "(";
      out += x();
      out += " IS NOT NULL AND ";
      out += x();
      out += op;
      out += value(v);
      out += ")";
      return out;
    };
    auto any_of = [&]() {
      std::string out = "(";
      for (std::size_t i = 0; i < l.values.size(); ++i) {
        if (i) out += " OR ";
        out += cmp(" = ", l.values[i]);
      }
      out += ")";
      return out;
    };
    auto pattern = [&](bool prefix) {
      const auto& s = std::get<std::string>(l.values.front());
      std::string p = prefix ? like_escape(s) + "%" : "%" + like_escape(s) + "%";
      std::string out = "(";
      out += x();
      out += " IS NOT NULL AND LOWER(";
      out += x();
      out += ") LIKE LOWER(";
      out += bind_(Scalar(p));
      out += ") ESCAPE '\\')";
      return out;
    };
    switch (l.op) {
      case Op::eq: return cmp(" = ", l.values.front());
      case Op::neq: return "(NOT " + cmp(" = ", l.values.front()) + ")";
      case Op::in: return any_of();
      case Op::nin: return "(NOT " + any_of() + ")";
      case Op::lt: return cmp(" < ", l.values.front());
      case Op::lte: return cmp(" <= ", l.values.front());
      case Op::gt: return cmp(" > ", l.values.front());
      case Op::gte: return cmp(" >= ", l.values.front());
      case Op::between: {
        std::string out = "(";
        out += cmp(" >= ", l.values[0]);
        out += " AND ";
        out += cmp(" <= ", l.values[1]);
        out += ")";
        return out;
      }
      case Op::contains: return pattern(false);
      case Op::starts_with: return pattern(true);
      case Op::is_null: {
        std::string out = "(";
        out += x();
        out += " IS NULL)";
        return out;
      }
      case Op::is_not_null: {
        std::string out = "(";
        out += x();
        out += " IS NOT NULL)";
        return out;
      }
    }
    return "(1 = 0)";
  }

  std::string membership(const Leaf& l) {
    // The facet kind is a whitelisted constant; the values are bound.
    auto exists = [&](bool with_values) {
      std::string out = "EXISTS (SELECT 1 FROM customer_customer_facets f WHERE f.tenant_id = c.tenant_id"
                        " AND f.customer_id = c.id AND f.kind = '";
      out += field_spec(l.field)->column;
      out += "'";
      if (with_values) {
        out += " AND f.value IN (";
        for (std::size_t i = 0; i < l.values.size(); ++i) {
          if (i) out += ", ";
          out += bind_(l.values[i]);
        }
        out += ")";
      }
      out += ")";
      return out;
    };
    switch (l.op) {
      case Op::eq:
      case Op::in: return "(" + exists(true) + ")";
      case Op::neq:
      case Op::nin: return "(NOT " + exists(true) + ")";
      case Op::is_null: return "(NOT " + exists(false) + ")";
      case Op::is_not_null: return "(" + exists(false) + ")";
      default: break;
    }
    return "(1 = 0)";
  }

  /// In any of the segments: a dynamic one's filter inline, else its stored member rows.
  std::string segment(const Leaf& l) {
    if (l.segments.size() != l.values.size()) throw std::logic_error("filter: an unresolved segment_id condition");
    std::string any = "(";
    for (std::size_t i = 0; i < l.segments.size(); ++i) {
      if (i) any += " OR ";
      const auto& s = l.segments[i];
      if (s.filter) {
        any += node(*s.filter);
      } else {
        any += "EXISTS (SELECT 1 FROM customer_segment_members m WHERE m.tenant_id = c.tenant_id AND m.segment_id = ";
        any += bind_(Scalar(s.id));
        any += " AND m.customer_id = c.id)";
      }
    }
    any += ")";
    return l.op == Op::neq || l.op == Op::nin ? "(NOT " + any + ")" : any;
  }

  enum class JsonType { text, number, boolean };

  static JsonType type_of(const Scalar& v) {
    if (std::holds_alternative<std::string>(v)) return JsonType::text;
    if (std::holds_alternative<bool>(v)) return JsonType::boolean;
    return JsonType::number;
  }

  /// The custom field's value when it has the JSON type, else NULL.
  Expr typed(const std::string& key, JsonType type) {
    std::string path = dialect_ == Dialect::sqlite ? "$." + key : key;
    return [this, path, type]() {
      std::string out;
      if (dialect_ == Dialect::sqlite) {
        out = "(CASE WHEN json_type(c.custom_fields, ";
        out += bind_(Scalar(path));
        out += type == JsonType::text     ? ") = 'text'"
               : type == JsonType::number ? ") IN ('integer', 'real')"
                                          : ") IN ('true', 'false')";
        out += " THEN ";
        if (type == JsonType::boolean) {
          out += "json_type(c.custom_fields, ";
          out += bind_(Scalar(path));
          out += ")";
        } else {
          out += "json_extract(c.custom_fields, ";
          out += bind_(Scalar(path));
          out += ")";
        }
        out += " END)";
      } else {
        out = "(CASE WHEN jsonb_typeof(CAST(c.custom_fields AS jsonb) -> CAST(";
        out += bind_(Scalar(path));
        out += type == JsonType::text     ? " AS text)) = 'string'"
               : type == JsonType::number ? " AS text)) = 'number'"
                                          : " AS text)) = 'boolean'";
        out += " THEN ";
        if (type == JsonType::number) out += "CAST(";
        out += "CAST(c.custom_fields AS jsonb) ->> CAST(";
        out += bind_(Scalar(path));
        out += " AS text)";
        if (type == JsonType::number) out += " AS DOUBLE PRECISION)";
        out += " END)";
      }
      return out;
    };
  }

  std::string custom(const Leaf& l) {
    auto value = [this](const Scalar& v) {
      if (std::holds_alternative<bool>(v)) return bind_(Scalar(std::string(std::get<bool>(v) ? "true" : "false")));
      if (dialect_ == Dialect::postgres && std::holds_alternative<double>(v)) {
        return "CAST(" + bind_(v) + " AS DOUBLE PRECISION)";
      }
      return bind_(v);
    };
    if (l.op == Op::is_null || l.op == Op::is_not_null) {
      std::string path = dialect_ == Dialect::sqlite ? "$." + l.custom_key : l.custom_key;
      std::string out = l.op == Op::is_null ? "(COALESCE(" : "(NOT COALESCE(";
      if (dialect_ == Dialect::sqlite) {
        out += "json_type(c.custom_fields, ";
        out += bind_(Scalar(path));
        out += ")";
      } else {
        out += "jsonb_typeof(CAST(c.custom_fields AS jsonb) -> CAST(";
        out += bind_(Scalar(path));
        out += " AS text))";
      }
      out += ", 'null') = 'null')";
      return out;
    }
    if (l.op == Op::in || l.op == Op::nin) {
      // Values may mix types: one typed equality each.
      std::string out = l.op == Op::nin ? "(NOT (" : "((";
      for (std::size_t i = 0; i < l.values.size(); ++i) {
        if (i) out += " OR ";
        Leaf one = l;
        one.op = Op::eq;
        one.values = {l.values[i]};
        out += compare(one, typed(l.custom_key, type_of(l.values[i])), value);
      }
      out += "))";
      return out;
    }
    return compare(l, typed(l.custom_key, type_of(l.values.front())), value);
  }

  Dialect dialect_;
  const Bind& bind_;
};

}  // namespace

std::optional<Node> parse(const bj::value& value, const std::string& path, const ParseOptions& options,
                          std::vector<FieldError>& errors) {
  std::size_t before = errors.size();
  Parser p(options, errors);
  auto n = p.node(value, path, 1);
  if (p.leaves() > kMaxLeaves) {
    errors.push_back(FieldError{path, "too_many_leaves",
                                "A filter has at most " + std::to_string(kMaxLeaves) + " conditions."});
  }
  if (errors.size() != before) return std::nullopt;
  return n;
}

namespace {

void collect_segments(Node& n, std::vector<Leaf*>& out) {
  if (n.type == Node::Type::leaf) {
    if (n.leaf.kind == Kind::segment) out.push_back(&n.leaf);
    return;
  }
  for (auto& child : n.children) collect_segments(child, out);
}

}  // namespace

std::vector<Leaf*> segment_conditions(Node& node) {
  std::vector<Leaf*> out;
  collect_segments(node, out);
  return out;
}

Node in_segment(SegmentRef segment) {
  Node n;
  n.type = Node::Type::leaf;
  n.leaf.field = "segment_id";
  n.leaf.kind = Kind::segment;
  n.leaf.op = Op::eq;
  n.leaf.values.emplace_back(segment.id);
  n.leaf.segments.push_back(std::move(segment));
  return n;
}

std::string to_sql(const Node& node, Dialect dialect, const Bind& bind) {
  Compiler c(dialect, bind);
  return c.node(node);
}

}  // namespace crm::customer::filter
