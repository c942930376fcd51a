// OpenAPI descriptions of the segment endpoints: request bodies, responses and schemas.
#include "customer_internal.hpp"

#include "crm/platform/openapi_schema.hpp"
#include "crm/platform/router.hpp"

namespace crm::customer {

using platform::HttpVerb;

namespace {

using namespace platform::openapi;

bj::object described(bj::object schema, const char* description) {
  schema["description"] = description;
  return schema;
}

bj::object customer_ids() {
  bj::object ids = array_of(str("uuid"));
  ids["maxItems"] = 10000;
  ids["description"] = "Ids of live customers of the tenant (at most 10,000; one named twice counts once)";
  return ids;
}

/// The writable segment fields; `required` lists those a body must have.
bj::object segment_input(std::initializer_list<const char*> required, const char* ids_description,
                         const char* type_description) {
  return object({{"name", described(str(), "1 to 200 characters, unique in the tenant (ignoring case and spacing)")},
                 {"description", nullable(described(str(), "At most 2000 characters"))},
                 {"type", described(enum_of({"static", "dynamic"}), type_description)},
                 {"customer_ids", described(customer_ids(), ids_description)},
                 {"filter", described(ref("CustomerFilter"),
                                      "Dynamic segments only (required there): the filter of POST /customers/search; "
                                      "it may name static segments (segment_id) but not dynamic ones")}},
                required);
}

}  // namespace

void describe_segment_api(platform::Router& router) {
  bj::object segment = object(
      {{"id", str("uuid")},
       {"tenant_id", str("uuid")},
       {"name", str()},
       {"description", nullable(str())},
       {"type", enum_of({"static", "dynamic"})},
       {"filter", nullable(described(ref("CustomerFilter"), "Dynamic segments: the stored filter"))},
       {"member_count", described(integer(), "Static: its live members now; dynamic: its members at refreshed_at")},
       {"refreshed_at", nullable(str("date-time"))},
       {"created_by", nullable(str("uuid"))},
       {"version", integer()},
       {"created_at", str("date-time")},
       {"updated_at", str("date-time")}},
      {"id", "tenant_id", "name", "type", "member_count", "version", "created_at", "updated_at"});
  router.add_schema("Segment", segment);
  bj::object change = segment;
  change["properties"].as_object()["added"] = described(integer(), "Customers that became members");
  change["properties"].as_object()["removed"] = described(integer(), "Customers that stopped being members");
  router.add_schema("SegmentChange", change);
  router.add_schema("SegmentCreate",
                    segment_input({"name", "type"}, "Static segments only: the members",
                                  "static (explicit members) or dynamic (a filter)"));
  router.add_schema("SegmentReplace",
                    segment_input({"name"}, "Static segments only: when given, the members become exactly these",
                                  "Cannot change (422); may be repeated"));
  router.add_schema("SegmentMembers", object({{"customer_ids", customer_ids()}}, {"customer_ids"}));

  auto d = [&router](HttpVerb m, const char* path, bj::object op) { router.describe(m, path, op); };
  bj::object if_match{{"name", "If-Match"},
                      {"in", "header"},
                      {"required", false},
                      {"description", "The version (ETag) the change is based on; 412 when it moved on"},
                      {"schema", str()}};
  bj::array paging{query("limit", "Page size, 1 to 200 (default 25)", integer()),
                   query("cursor", "next_cursor of the previous page"),
                   query("include_total", "Add page.total", boolean())};
  auto one = response("The segment (ETag: its version)", ref("Segment"));
  auto taken = response("Another segment of the tenant has the name (existing_id)");

  bj::array list_params = paging;
  list_params.push_back(query("type", "static or dynamic", enum_of({"static", "dynamic"})));
  list_params.push_back(query("q", "Segments whose name contains this (ignoring case)"));
  list_params.push_back(query("sort", "name, created_at or updated_at, - for descending (default name)"));
  d(HttpVerb::get, "/api/v1/segments",
    {{"parameters", list_params}, {"responses", {{"200", response("A page of segments", page_of("Segment"))}}}});
  d(HttpVerb::post, "/api/v1/segments",
    {{"description", "A static segment with a filter, or a dynamic one with customer_ids, is 422 naming the field; "
                     "unknown or other tenants' customers are 422 naming customer_ids[i]; filter problems are 422 "
                     "by path (filter.and[0].op)"},
     {"requestBody", body(ref("SegmentCreate"))},
     {"responses", {{"201", response("Created (ETag: its version)", ref("Segment"))}, {"409", taken}}}});
  d(HttpVerb::get, "/api/v1/segments/{id}", {{"responses", {{"200", one}}}});
  d(HttpVerb::put, "/api/v1/segments/{id}",
    {{"parameters", bj::array{if_match}},
     {"requestBody", body(ref("SegmentReplace"))},
     {"responses", {{"200", one}, {"409", taken}}}});
  d(HttpVerb::delete_, "/api/v1/segments/{id}",
    {{"parameters", bj::array{if_match}}, {"responses", {{"204", response("Deleted")}}}});
  d(HttpVerb::post, "/api/v1/segments/{id}/refresh",
    {{"responses", {{"200", response("The segment with the changes of its member snapshot", ref("SegmentChange"))},
                    {"409", response("The stored filter no longer applies (the tenant's currency changed)")}}}});
  for (const char* path : {"/api/v1/segments/{id}/members", "/api/v1/segments/{id}/members/remove"}) {
    d(HttpVerb::post, path,
      {{"parameters", bj::array{if_match}},
       {"requestBody", body(ref("SegmentMembers"))},
       {"responses", {{"200", response("The segment with the number of members added or removed", ref("SegmentChange"))},
                      {"409", response("A dynamic segment's members follow its filter")}}}});
  }
  bj::array member_params = paging;
  member_params.push_back(query("sort", "As on GET /customers: name, code, status, created_at, updated_at, "
                                        "lifetime_value, credit_limit, - for descending (default -created_at)"));
  d(HttpVerb::get, "/api/v1/segments/{id}/customers",
    {{"parameters", member_params}, {"responses", {{"200", response("A page of the members", page_of("Customer"))}}}});
}

}  // namespace crm::customer
