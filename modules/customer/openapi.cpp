// OpenAPI descriptions of the customer endpoints: request bodies, responses and schemas.
#include "customer_internal.hpp"

#include "crm/platform/openapi_schema.hpp"
#include "crm/platform/router.hpp"

namespace crm::customer {

using platform::HttpVerb;

namespace {

using namespace platform::openapi;

bj::object header(const char* name, const char* description) {
  return {{"name", name}, {"in", "header"}, {"required", false}, {"description", description}, {"schema", str()}};
}

/// The writable customer fields; `required` lists those a body must have.
bj::object customer_input(std::initializer_list<const char*> required) {
  return object({{"type", enum_of({"individual", "business"})},
                 {"name", str()},
                 {"legal_name", nullable(str())},
                 {"email", nullable(str("email"))},
                 {"phone", nullable(str())},
                 {"website", nullable(str("uri"))},
                 {"industry", nullable(str())},
                 {"status", enum_of({"lead", "prospect", "active", "inactive", "churned", "blocked"})},
                 {"tier", nullable(enum_of({"bronze", "silver", "gold", "platinum"}))},
                 {"owner_id", str("uuid")},
                 {"tags", array_of(str())},
                 {"addresses", array_of(ref("Address"))},
                 {"social_profiles", array_of(ref("SocialProfileInput"))},
                 {"custom_fields", any_object()},
                 {"credit_limit", nullable(ref("MoneyInput"))},
                 {"lifetime_value", nullable(ref("MoneyInput"))},
                 {"preferences", ref("Preferences")},
                 {"external_id", nullable(str())}},
                required);
}

}  // namespace

platform::RouteOptions route_options(const char* tag, const char* summary) {
  platform::RouteOptions o;
  o.tag = tag;
  o.openapi = {{"summary", summary}};
  return o;
}

bj::array customer_filter_parameters() {
  using namespace platform::openapi;
  return bj::array{
      query("status", "Comma-separated statuses"),
      query("tier", "Comma-separated tiers"),
      query("type", "individual or business"),
      query("owner_id", "Comma-separated owner ids"),
      query("tag", "Customers with this tag"),
      query("industry", "Industry (case-insensitive)"),
      query("country", "ISO country of any address"),
      query("created_after", "RFC 3339", str("date-time")),
      query("created_before", "RFC 3339", str("date-time")),
      query("updated_after", "RFC 3339", str("date-time")),
      query("updated_before", "RFC 3339", str("date-time")),
      query("segment_id", "Members of this segment (a dynamic one's filter evaluated now); 400 when the tenant has "
                          "no such segment", str("uuid")),
  };
}

void describe_customer_api(platform::Router& router) {
  router.add_schema("Money", object({{"amount", str()}, {"currency", str()}}, {"amount", "currency"}));
  router.add_schema("MoneyInput",
                    object({{"amount", {{"type", "string"}, {"pattern", "^-?[0-9]+(\\.[0-9]+)?$"},
                                        {"description", "Decimal string with at most the currency's decimals"}}},
                            {"currency", {{"type", "string"}, {"description", "ISO 4217; default: the tenant's"}}}},
                           {"amount"}));
  router.add_schema("Address", object({{"type", enum_of({"billing", "shipping", "other"})},
                                       {"line1", str()},
                                       {"line2", nullable(str())},
                                       {"city", nullable(str())},
                                       {"state", nullable(str())},
                                       {"postal_code", nullable(str())},
                                       {"country", {{"type", "string"}, {"description", "ISO 3166-1 alpha-2"}}}},
                                      {"type", "line1", "country"}));
  router.add_schema("SocialProfileInput",
                    object({{"platform", enum_of({"linkedin", "facebook", "instagram", "x", "twitter", "tiktok",
                                                  "youtube", "github", "telegram", "whatsapp"})},
                            {"handle", str()},
                            {"url", str("uri")}},
                           {"platform"}));
  router.add_schema("SocialProfile", object({{"platform", str()}, {"handle", str()}, {"url", str("uri")}},
                                            {"platform", "handle", "url"}));
  router.add_schema("Preferences", object({{"language", nullable(str())},
                                           {"preferred_channel",
                                            nullable(enum_of({"email", "phone", "sms", "whatsapp", "mail", "none"}))},
                                           {"marketing_opt_in", boolean()}},
                                          {}));
  router.add_schema("Customer",
                    object({{"id", str("uuid")},
                            {"tenant_id", str("uuid")},
                            {"code", {{"type", "string"}, {"description", "Per-tenant sequence, CUS-000001"}}},
                            {"slug", str()},
                            {"type", str()},
                            {"name", str()},
                            {"legal_name", nullable(str())},
                            {"email", nullable(str("email"))},
                            {"email_disposable", boolean()},
                            {"phone", nullable({{"type", "string"}, {"description", "E.164"}})},
                            {"website", nullable(str("uri"))},
                            {"industry", nullable(str())},
                            {"status", str()},
                            {"tier", nullable(str())},
                            {"owner_id", str("uuid")},
                            {"tags", array_of(str())},
                            {"addresses", array_of(ref("Address"))},
                            {"social_profiles", array_of(ref("SocialProfile"))},
                            {"custom_fields", any_object()},
                            {"credit_limit", nullable(ref("Money"))},
                            {"lifetime_value", nullable(ref("Money"))},
                            {"preferences", ref("Preferences")},
                            {"external_id", nullable(str())},
                            {"version", integer()},
                            {"created_at", str("date-time")},
                            {"updated_at", str("date-time")},
                            {"deleted_at", nullable(str("date-time"))}},
                           {"id", "tenant_id", "code", "slug", "type", "name", "status", "owner_id", "version",
                            "created_at", "updated_at"},
                           false));  // open: GET ?include= adds the embedded relations
  router.add_schema("CustomerCreate", customer_input({"name"}));
  router.add_schema("CustomerReplace", customer_input({"name"}));
  router.add_schema("CustomerPatch", customer_input({}));

  auto d = [&router](HttpVerb m, const char* path, bj::object op) { router.describe(m, path, op); };
  auto customer = response("The customer (ETag: its version)", ref("Customer"));
  auto conflict = response("Conflict: duplicate email or phone (existing_id), taken external_id, or a state "
                           "transition that is not allowed");
  auto if_match = header("If-Match", "The version (ETag) the change is based on; 412 when it moved on");
  auto include_deleted = query("include_deleted", "Also find a soft-deleted customer (needs customers:delete)",
                               boolean());

  bj::array list_params{
      query("limit", "Page size, 1 to 200 (default 25)", integer()),
      query("cursor", "next_cursor of the previous page"),
      query("include_total", "Add page.total", boolean()),
      query("q", "Full-text search (prefix matching; every word must match) over name, legal name, email, phone, "
                 "tags, contact names and notes; ranked by where the words are found: the name first (a name that "
                 "starts with the first word before other names), then legal name, email or phone, tags, contacts, "
                 "notes"),
      query("sort", "Comma-separated fields, - for descending: name, code, status, created_at, updated_at, "
                    "lifetime_value, credit_limit, relevance (with q; the default then) (default -created_at)"),
  };
  for (auto& p : customer_filter_parameters()) list_params.push_back(std::move(p));
  list_params.push_back(include_deleted);
  d(HttpVerb::get, "/api/v1/customers",
    {{"parameters", list_params}, {"responses", {{"200", response("A page of customers", page_of("Customer"))}}}});
  d(HttpVerb::post, "/api/v1/customers",
    {{"parameters", bj::array{query("allow_duplicate", "Create even when the email or phone is known", boolean())}},
     {"requestBody", body(ref("CustomerCreate"))},
     {"responses", {{"201", response("Created", ref("Customer"))}, {"409", conflict}}}});
  // The structured filter: a boolean tree whose leaves compare one field.
  bj::object value_schema{{"description", "A text, number or boolean; an array for in, nin and between "
                                          "([low, high]); absent for is_null and is_not_null. Timestamps are "
                                          "RFC 3339, amounts decimal texts or numbers in the tenant's currency"}};
  router.add_schema("CustomerFilter",
                    bj::object{{"description", "and/or (non-empty arrays), not, or a condition; at most 10 levels "
                                               "and 100 conditions"},
                               {"oneOf", bj::array{object({{"and", array_of(ref("CustomerFilter"))}}, {"and"}),
                                                   object({{"or", array_of(ref("CustomerFilter"))}}, {"or"}),
                                                   object({{"not", ref("CustomerFilter")}}, {"not"}),
                                                   ref("CustomerFilterCondition")}}});
  bj::object field_schema = str();
  field_schema["description"] =
      "status, tier, type, owner_id, industry, name, legal_name, email, phone, code, external_id, created_at, "
      "updated_at, tag (membership), country (of any address), credit_limit, lifetime_value, segment_id (eq, neq, "
      "in, nin: membership of segments; a segment's own filter may name static segments only), or custom.<key>";
  router.add_schema("CustomerFilterCondition",
                    object({{"field", field_schema},
                            {"op", enum_of({"eq", "neq", "in", "nin", "lt", "lte", "gt", "gte", "between", "contains",
                                            "starts_with", "is_null", "is_not_null"})},
                            {"value", value_schema}},
                           {"field", "op"}));
  router.add_schema("CustomerSearch",
                    object({{"filter", nullable(ref("CustomerFilter"))},
                            {"q", str()},
                            {"sort", str()},
                            {"limit", integer()},
                            {"cursor", nullable(str())}},
                           {}));
  d(HttpVerb::post, "/api/v1/customers/search",
    {{"description", "Customers matching a structured filter, with q, sort, limit and cursor as on GET "
                     "/customers (a cursor belongs to its filter). 422 lists every problem of the filter by path, "
                     "e.g. filter.and[1].op"},
     {"requestBody", body(ref("CustomerSearch"))},
     {"responses", {{"200", response("A page of customers", page_of("Customer"))}}}});
  auto include = query("include", "Embed relations, comma separated: contacts, notes, activities, timeline "
                                  "(the newest 25 of each; each needs its read permission)");
  auto embedded = response("The customer with the relations asked for (ETag: its version)",
                           bj::object{{"allOf", bj::array{ref("Customer"),
                                                          {{"type", "object"},
                                                           {"properties", {{"contacts", array_of(ref("Contact"))},
                                                                           {"notes", array_of(ref("Note"))},
                                                                           {"activities", array_of(ref("Activity"))},
                                                                           {"timeline", array_of(ref("TimelineEntry"))}}}}}}});
  router.add_schema("DuplicatePair",
                    object({{"customer_ids", array_of(str("uuid"))},
                            {"reasons", array_of(enum_of({"email", "phone", "name"}))},
                            {"customers", array_of(object({{"id", str("uuid")}, {"code", str()}, {"name", str()},
                                                            {"email", nullable(str())}, {"phone", nullable(str())}},
                                                           {"id", "code", "name"}))}},
                           {"customer_ids", "reasons", "customers"}));
  d(HttpVerb::get, "/api/v1/customers/duplicates",
    {{"parameters", bj::array{query("limit", "Page size, 1 to 200 (default 25)", integer()),
                              query("cursor", "next_cursor of the previous page")}},
     {"responses", {{"200", response("Pairs of live customers that are likely the same", page_of("DuplicatePair"))}}}});
  d(HttpVerb::get, "/api/v1/customers/by-slug/{slug}",
    {{"parameters", bj::array{include_deleted, include}}, {"responses", {{"200", embedded}}}});
  d(HttpVerb::get, "/api/v1/customers/{id}",
    {{"parameters", bj::array{include_deleted, include}}, {"responses", {{"200", embedded}}}});
  auto allow_duplicate_update =
      query("allow_duplicate", "Save even when the new email or phone is another customer's", boolean());
  d(HttpVerb::put, "/api/v1/customers/{id}",
    {{"parameters", bj::array{if_match, allow_duplicate_update}},
     {"requestBody", body(ref("CustomerReplace"))},
     {"responses", {{"200", customer}, {"409", conflict}}}});
  d(HttpVerb::patch, "/api/v1/customers/{id}",
    {{"parameters", bj::array{if_match, allow_duplicate_update}},
     {"requestBody", body(ref("CustomerPatch"))},
     {"responses", {{"200", customer}, {"409", conflict}}}});
  d(HttpVerb::delete_, "/api/v1/customers/{id}",
    {{"parameters", bj::array{if_match, query("hard", "Purge instead of soft delete (customers:purge)", boolean())}},
     {"responses", {{"204", response("Deleted")}}}});
  d(HttpVerb::post, "/api/v1/customers/{id}/merge",
    {{"parameters", bj::array{if_match}},
     {"requestBody", body(object({{"source_id", str("uuid")}}, {"source_id"}))},
     {"responses", {{"200", response("The merged customer", ref("Customer"))}, {"409", conflict}}}});
  for (const char* action : {"restore", "activate", "deactivate", "block", "unblock"}) {
    d(HttpVerb::post, (std::string("/api/v1/customers/{id}/") + action).c_str(),
      {{"parameters", bj::array{if_match}}, {"responses", {{"200", customer}, {"409", conflict}}}});
  }

  // ---- contacts, notes, activities, timeline ----
  bj::object phone_item = object({{"type", enum_of({"mobile", "work", "home", "other"})}, {"number", str()}}, {"number"});
  bj::object comm = object({{"email_opt_in", boolean()}, {"sms_opt_in", boolean()}, {"phone_opt_in", boolean()},
                            {"preferred_channel", nullable(enum_of({"email", "phone", "sms", "whatsapp", "mail", "none"}))}},
                           {});
  bj::object roles = array_of(enum_of({"decision_maker", "billing", "technical", "other"}));
  router.add_schema("ContactInput", object({{"first_name", str()},
                                            {"last_name", nullable(str())},
                                            {"email", nullable(str("email"))},
                                            {"phones", array_of(phone_item)},
                                            {"job_title", nullable(str())},
                                            {"department", nullable(str())},
                                            {"roles", roles},
                                            {"is_primary", boolean()},
                                            {"communication_preferences", comm},
                                            {"last_contacted_at", nullable(str("date-time"))}},
                                           {"first_name"}));
  router.add_schema("Contact", object({{"id", str("uuid")},
                                       {"tenant_id", str("uuid")},
                                       {"customer_id", str("uuid")},
                                       {"first_name", str()},
                                       {"last_name", nullable(str())},
                                       {"email", nullable(str("email"))},
                                       {"phones", array_of(phone_item)},
                                       {"job_title", nullable(str())},
                                       {"department", nullable(str())},
                                       {"roles", roles},
                                       {"is_primary", boolean()},
                                       {"communication_preferences", comm},
                                       {"last_contacted_at", nullable(str("date-time"))},
                                       {"version", integer()},
                                       {"created_at", str("date-time")},
                                       {"updated_at", str("date-time")}},
                                      {"id", "tenant_id", "customer_id", "first_name", "is_primary", "version",
                                       "created_at", "updated_at"}));
  router.add_schema("NoteInput", object({{"body", str()}}, {"body"}));
  router.add_schema("Note", object({{"id", str("uuid")},
                                    {"tenant_id", str("uuid")},
                                    {"customer_id", str("uuid")},
                                    {"body", str()},
                                    {"pinned", boolean()},
                                    {"pinned_at", nullable(str("date-time"))},
                                    {"author_id", nullable(str("uuid"))},
                                    {"version", integer()},
                                    {"created_at", str("date-time")},
                                    {"updated_at", str("date-time")}},
                                   {"id", "tenant_id", "customer_id", "body", "pinned", "version", "created_at",
                                    "updated_at"}));
  bj::object activity_type = enum_of({"call", "email", "meeting", "note", "task", "system"});
  auto activity_input = [&](std::initializer_list<const char*> required) {
    return object({{"type", activity_type},
                   {"subject", nullable(str())},
                   {"body", nullable(str())},
                   {"occurred_at", nullable(str("date-time"))},
                   {"duration_minutes", nullable(integer())},
                   {"outcome", nullable(str())},
                   {"contact_id", nullable(str("uuid"))}},
                  required);
  };
  router.add_schema("ActivityInput", activity_input({"type"}));
  router.add_schema("ActivityPatch", activity_input({}));
  router.add_schema("Activity", object({{"id", str("uuid")},
                                        {"tenant_id", str("uuid")},
                                        {"customer_id", str("uuid")},
                                        {"type", activity_type},
                                        {"subject", nullable(str())},
                                        {"body", nullable(str())},
                                        {"occurred_at", nullable(str("date-time"))},
                                        {"duration_minutes", nullable(integer())},
                                        {"outcome", nullable(str())},
                                        {"contact_id", nullable(str("uuid"))},
                                        {"status", enum_of({"completed", "needs_review"})},
                                        {"missing_details", array_of(str())},
                                        {"created_by", nullable(str())},
                                        {"version", integer()},
                                        {"created_at", str("date-time")},
                                        {"updated_at", str("date-time")}},
                                       {"id", "tenant_id", "customer_id", "type", "status", "missing_details",
                                        "version", "created_at", "updated_at"}));
  router.add_schema("TimelineEntry", object({{"id", str("uuid")},
                                             {"tenant_id", str("uuid")},
                                             {"customer_id", str("uuid")},
                                             {"kind", str()},
                                             {"summary", str()},
                                             {"data", any_object()},
                                             {"actor_id", nullable(str())},
                                             {"source_type", nullable(str())},
                                             {"source_id", nullable(str())},
                                             {"occurred_at", str("date-time")}},
                                            {"id", "tenant_id", "customer_id", "kind", "summary", "data",
                                             "occurred_at"}));
  bj::array paging{query("limit", "Page size, 1 to 200 (default 25)", integer()),
                   query("cursor", "next_cursor of the previous page")};
  const std::string c = "/api/v1/customers/{id}";
  auto path = [&c](const char* rest) { return c + rest; };
  d(HttpVerb::get, path("/contacts").c_str(),
    {{"responses", {{"200", response("All contacts, the primary first", page_of("Contact"))}}}});
  d(HttpVerb::post, path("/contacts").c_str(),
    {{"requestBody", body(ref("ContactInput"))},
     {"responses", {{"201", response("Added", ref("Contact"))}, {"409", response("The customer has the maximum number of contacts")}}}});
  d(HttpVerb::get, path("/contacts/{contact_id}").c_str(), {{"responses", {{"200", response("The contact", ref("Contact"))}}}});
  d(HttpVerb::put, path("/contacts/{contact_id}").c_str(),
    {{"parameters", bj::array{if_match}},
     {"requestBody", body(ref("ContactInput"))},
     {"responses", {{"200", response("The contact", ref("Contact"))}, {"409", response("The primary contact cannot be unset")}}}});
  d(HttpVerb::delete_, path("/contacts/{contact_id}").c_str(),
    {{"parameters", bj::array{if_match}}, {"responses", {{"204", response("Removed")}}}});
  d(HttpVerb::post, path("/contacts/{contact_id}/primary").c_str(),
    {{"parameters", bj::array{if_match}}, {"responses", {{"200", response("The new primary contact", ref("Contact"))}}}});
  d(HttpVerb::get, path("/notes").c_str(), {{"parameters", paging}, {"responses", {{"200", response("Notes", page_of("Note"))}}}});
  d(HttpVerb::post, path("/notes").c_str(),
    {{"requestBody", body(ref("NoteInput"))}, {"responses", {{"201", response("Added", ref("Note"))}}}});
  d(HttpVerb::put, path("/notes/{note_id}").c_str(),
    {{"parameters", bj::array{if_match}}, {"requestBody", body(ref("NoteInput"))},
     {"responses", {{"200", response("The note", ref("Note"))}}}});
  d(HttpVerb::delete_, path("/notes/{note_id}").c_str(),
    {{"parameters", bj::array{if_match}}, {"responses", {{"204", response("Deleted")}}}});
  d(HttpVerb::post, path("/notes/{note_id}/pin").c_str(),
    {{"parameters", bj::array{if_match}}, {"responses", {{"200", response("The note", ref("Note"))}}}});
  d(HttpVerb::post, path("/notes/{note_id}/unpin").c_str(),
    {{"parameters", bj::array{if_match}}, {"responses", {{"200", response("The note", ref("Note"))}}}});
  d(HttpVerb::get, path("/activities").c_str(),
    {{"parameters", paging}, {"responses", {{"200", response("Activities", page_of("Activity"))}}}});
  d(HttpVerb::post, path("/activities").c_str(),
    {{"requestBody", body(ref("ActivityInput"))}, {"responses", {{"201", response("Logged", ref("Activity"))}}}});
  d(HttpVerb::get, path("/activities/{activity_id}").c_str(),
    {{"responses", {{"200", response("The activity", ref("Activity"))}}}});
  d(HttpVerb::patch, path("/activities/{activity_id}").c_str(),
    {{"parameters", bj::array{if_match}}, {"requestBody", body(ref("ActivityPatch"))},
     {"responses", {{"200", response("The activity", ref("Activity"))}}}});
  d(HttpVerb::get, "/api/v1/activities/review-queue",
    {{"parameters", paging}, {"responses", {{"200", response("Activities that need review", page_of("Activity"))}}}});
  d(HttpVerb::get, path("/timeline").c_str(),
    {{"parameters", paging}, {"responses", {{"200", response("Timeline entries", page_of("TimelineEntry"))}}}});
}

}  // namespace crm::customer
