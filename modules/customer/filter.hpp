#pragma once
// The structured filter language of customers (POST /customers/search, dynamic segments):
// a boolean tree of {"and":[...]}, {"or":[...]}, {"not":{...}} and leaves
// {"field","op","value"}. parse() validates a whole tree and reports every problem with its
// path; to_sql() compiles a validated tree into a WHERE fragment over `customer_customers c`
// whose values are all bound parameters (field names map through a fixed whitelist).
// `segment_id` conditions name segments, which parse() cannot look up: the caller resolves
// them (segment_conditions()) before compiling.

#include "crm/platform/error.hpp"

#include <boost/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace crm::customer::filter {

inline constexpr int kMaxDepth = 10;
inline constexpr int kMaxLeaves = 100;
/// Segments one filter may name (each dynamic one brings its own filter into the query).
inline constexpr std::size_t kMaxSegmentValues = 20;

enum class Op { eq, neq, in, nin, lt, lte, gt, gte, between, contains, starts_with, is_null, is_not_null };
/// How a field is stored and compared.
enum class Kind { enumeration, id, text, timestamp, amount, membership, custom, segment };

/// A bound value: text, integer (timestamps in ms, amounts in minor units), real or boolean.
using Scalar = std::variant<std::string, long long, double, bool>;

struct Node;

/// A segment a segment_id condition names, as the caller resolved it: a dynamic segment
/// matches its own (resolved) filter, any other id the member rows stored for it.
struct SegmentRef {
  std::string id;
  std::shared_ptr<const Node> filter;  // dynamic segments only
};

struct Leaf {
  std::string field;       // the documented name (custom fields as custom.<key>)
  Kind kind = Kind::text;
  Op op = Op::eq;
  std::string custom_key;  // Kind::custom only
  std::vector<Scalar> values;
  std::string path;                   // where the condition's value is ("filter.and[0].value")
  std::vector<SegmentRef> segments;   // Kind::segment: one per value, once resolved
};

struct Node {
  enum class Type { all, any, negation, leaf } type = Type::leaf;
  std::vector<Node> children;  // all/any: the operands; negation: one
  Leaf leaf;
};

/// The segment_id conditions of a tree, for the caller to resolve.
std::vector<Leaf*> segment_conditions(Node& node);
/// A condition "the customer is in the segment", already resolved.
Node in_segment(SegmentRef segment);

struct ParseOptions {
  /// Decimals of the tenant's currency: amounts are given in major units ("12.50").
  int amount_exponent = 2;
};

/// Validates `value` (found at `path`, e.g. "filter"); every problem is appended to `errors`.
/// Returns the tree when there were none.
std::optional<Node> parse(const boost::json::value& value, const std::string& path, const ParseOptions& options,
                          std::vector<platform::FieldError>& errors);

enum class Dialect { sqlite, postgres };
/// Returns the placeholder of a new bound parameter; called in the order the placeholders
/// appear in the text.
using Bind = std::function<std::string(const Scalar&)>;

/// A boolean SQL expression (never NULL) over the customer row `c`. Throws std::logic_error
/// on a segment_id condition that was not resolved.
std::string to_sql(const Node& node, Dialect dialect, const Bind& bind);

}  // namespace crm::customer::filter
