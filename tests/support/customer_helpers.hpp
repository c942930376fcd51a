#pragma once
// Helpers for the customer integration tests: a tenant with members of each role, customer
// creation, audit-log and outbox look-ups. Header-only, like iam_helpers.hpp.

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "support/harness.hpp"
#include "support/iam_helpers.hpp"

namespace crm::testing::customer {

using namespace crm::testing::iam;

/// POST /customers with a JSON object; returns the raw answer.
inline HttpResult create_raw(HttpClient& client, const std::string& token, const bj::object& body,
                             const std::string& query = {}) {
  return call(client, "POST", "/api/v1/customers" + query, token, js(body));
}

/// Creates a customer and returns it (REQUIREs a 201).
inline bj::object create_customer(HttpClient& client, const std::string& token, const bj::object& body,
                                  const std::string& query = {}) {
  auto r = create_raw(client, token, body, query);
  REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
  return obj(r);
}

inline std::string id_of(const bj::object& o) { return str(o.at("id")); }

/// GET of one resource; REQUIREs a 200.
inline bj::object get_ok(HttpClient& client, const std::string& token, const std::string& path) {
  auto r = call(client, "GET", path, token);
  REQUIRE_MESSAGE(r.status == 200, path << ": " << r.status << " " << r.body);
  return obj(r);
}

/// Audit-log rows (changes JSON) of an action on an entity.
inline std::vector<bj::object> audit_changes(TestDatabase& db, const std::string& action,
                                             const std::string& entity_id) {
  std::vector<bj::object> out;
  for (const auto& c : db.column("SELECT changes FROM iam_audit_log WHERE action = '" + action +
                                 "' AND entity_id = '" + entity_id + "' ORDER BY seq")) {
    auto v = bj::parse(c);
    if (v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

/// Sets tenant settings (country, currency...) as the owner.
inline void set_tenant_settings(HttpClient& client, const Account& owner, const bj::object& settings) {
  auto t = obj(call(client, "GET", "/api/v1/tenant", owner.access));
  auto r = call(client, "PUT", "/api/v1/tenant", owner.access,
                js(bj::object{{"name", t.at("name")}, {"settings", settings}}));
  REQUIRE_MESSAGE(r.status == 200, r.body);
}

}  // namespace crm::testing::customer
