// Segments as filter conditions: resolving the segment_id conditions of a filter, and a
// segment as the condition "the customer is a member" that listings and refreshes compile.
#include "customer_internal.hpp"

#include "validation.hpp"

namespace crm::customer {

using namespace crm::platform;

namespace {

/// Where the i-th value of a condition is: `path[i]` for the array of in/nin.
std::string value_path(const filter::Leaf& l, std::size_t i) {
  return l.op == filter::Op::in || l.op == filter::Op::nin ? l.path + "[" + std::to_string(i) + "]" : l.path;
}

}  // namespace

filter::ParseOptions filter_options(CustomerContext& cc, const std::string& tenant_id) {
  filter::ParseOptions options;
  options.amount_exponent = domain::currency_exponent(cc.defaults(tenant_id).currency).value_or(2);
  return options;
}

void resolve_segments(soci::session& sql, const std::string& tenant_id, filter::Node& tree,
                      const filter::ParseOptions& options, bool for_segment, std::vector<FieldError>& problems) {
  // Each dynamic segment brings its own filter into the query: a filter names a few at most.
  std::size_t named = 0;
  for (filter::Leaf* l : filter::segment_conditions(tree)) {
    l->segments.clear();
    for (std::size_t i = 0; i < l->values.size(); ++i) {
      if (++named > filter::kMaxSegmentValues) {
        problems.push_back({value_path(*l, i), "too_many",
                            "A filter names at most " + std::to_string(filter::kMaxSegmentValues) + " segments."});
        return;
      }
      const auto& id = std::get<std::string>(l->values[i]);
      auto s = store::segment(sql, tenant_id, id);
      if (!s) {
        problems.push_back({value_path(*l, i), "not_found", "No such segment."});
        continue;
      }
      if (for_segment && s->dynamic()) {
        problems.push_back({value_path(*l, i), "dynamic_segment",
                            "A segment's filter may name static segments only."});
        continue;
      }
      l->segments.push_back(segment_ref(*s, options));
    }
  }
}

filter::SegmentRef segment_ref(const SegmentRow& s, const filter::ParseOptions& options) {
  filter::SegmentRef ref{s.id, nullptr};
  if (!s.dynamic() || !s.filter) return ref;
  std::vector<FieldError> problems;
  auto tree = filter::parse(json::parse_relaxed(*s.filter), "filter", options, problems);
  if (tree) {
    // A stored filter names static segments only (checked when it was written): each one
    // is its member rows, and one deleted since has none.
    for (filter::Leaf* l : filter::segment_conditions(*tree)) {
      l->segments.clear();
      for (const auto& v : l->values) l->segments.push_back({std::get<std::string>(v), nullptr});
    }
  }
  if (!tree) {
    // Valid when stored; only a change of the tenant's currency (amount decimals) undoes that.
    throw Error(ErrorKind::conflict, "segment_filter_invalid",
                "The filter of segment " + s.name + " no longer applies; replace it with PUT /segments/" + s.id + ".",
                problems);
  }
  ref.filter = std::make_shared<const filter::Node>(std::move(*tree));
  return ref;
}

std::shared_ptr<const filter::Node> segment_condition(CustomerContext& cc, const std::string& tenant_id,
                                                      const std::string& segment_id) {
  if (!is_uuid(segment_id)) throw Error::bad_parameter("segment_id", "Must be a segment id.");
  auto options = filter_options(cc, tenant_id);  // before the lease: it may ask IAM
  auto lease = cc.db.acquire();
  auto s = store::segment(*lease, tenant_id, segment_id);
  if (!s) throw Error::bad_parameter("segment_id", "No such segment.");
  return std::make_shared<const filter::Node>(filter::in_segment(segment_ref(*s, options)));
}

}  // namespace crm::customer
