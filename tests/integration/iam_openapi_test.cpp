// The served OpenAPI document describes every IAM operation: a summary, a 2xx answer with a
// schema, and a request body schema for the operations that take a body.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <set>

#include "support/harness.hpp"
#include "support/iam_helpers.hpp"

using namespace crm::testing;
using namespace crm::testing::iam;

namespace {

// The operations that take a body although their verb usually has none, and the POSTs that
// take none.
const std::set<std::string> kDeletesWithBody = {"delete /api/v1/tenant", "delete /api/v1/roles/{id}/permissions"};
const std::set<std::string> kBodiless = {"post /api/v1/auth/logout", "post /api/v1/auth/resend-verification",
                                         "post /api/v1/users/{id}/suspend", "post /api/v1/users/{id}/activate"};

/// A schema that says something: a resolvable $ref, an object with properties, an array with
/// described items, a scalar type, or a oneOf of described schemas. A bare {"type": "object"}
/// describes nothing.
bool described(const bj::object& schema, const bj::object& components, std::string& why) {
  if (const auto* r = schema.if_contains("$ref")) {
    std::string ref = str(*r);
    const std::string prefix = "#/components/schemas/";
    if (ref.rfind(prefix, 0) != 0 || !components.contains(ref.substr(prefix.size()))) {
      why = "unresolved " + ref;
      return false;
    }
    return described(components.at(ref.substr(prefix.size())).as_object(), components, why);
  }
  if (const auto* one = schema.if_contains("oneOf")) {
    for (const auto& s : one->as_array())
      if (!described(s.as_object(), components, why)) return false;
    return true;
  }
  std::string type = schema.contains("type") ? str(schema.at("type")) : "";
  if (type == "object") {
    if (!schema.contains("properties") || schema.at("properties").as_object().empty()) {
      why = "an object schema without properties";
      return false;
    }
    return true;
  }
  if (type == "array") {
    if (!schema.contains("items")) {
      why = "an array schema without items";
      return false;
    }
    return described(schema.at("items").as_object(), components, why);
  }
  if (type == "string" || type == "integer" || type == "boolean" || type == "number" || type == "null") return true;
  why = "no type";
  return false;
}

}  // namespace

TEST_SUITE("integration/iam_openapi") {
  TEST_CASE(
      "every IAM operation in the OpenAPI document has a summary, a 2xx answer with a schema and, "
      "when it takes one, a request body schema") {
    TestDatabase db("sqlite");
    ServerProcess server(db);
    HttpClient client(server.port());
    auto r = client.get("/api/v1/openapi.json");
    REQUIRE(r.status == 200);
    auto doc = r.json().as_object();
    const auto& components = doc.at("components").at("schemas").as_object();

    std::map<std::string, int> per_area;
    const std::vector<std::string> areas = {"/api/v1/auth", "/api/v1/users", "/api/v1/roles",
                                            "/api/v1/tenants", "/api/v1/tenant", "/api/v1/audit-logs"};
    for (const auto& [path_key, item] : doc.at("paths").as_object()) {
      std::string path(path_key);
      std::string area;
      for (const auto& a : areas) {
        if (path == a || path.rfind(a + "/", 0) == 0) {
          area = a;
          break;
        }
      }
      if (area.empty()) continue;
      for (const auto& [method_key, op_value] : item.as_object()) {
        std::string op_name = std::string(method_key) + " " + path;
        CAPTURE(op_name);
        const auto& op = op_value.as_object();
        ++per_area[area];

        CHECK_MESSAGE((op.contains("summary") && str(op.at("summary")).size() > 5), "no summary");

        const auto& responses = op.at("responses").as_object();
        int success = 0;
        for (const auto& [status_key, response] : responses) {
          std::string status(status_key);
          if (status.size() != 3 || status[0] != '2') continue;
          ++success;
          if (status == "204") {
            CHECK_FALSE(response.as_object().contains("content"));
            continue;
          }
          // Every gap is reported, not only the first.
          if (!response.as_object().contains("content")) {
            FAIL_CHECK(status << " has no content");
            continue;
          }
          const auto& content = response.at("content").as_object();
          std::string media = op_name == "get /api/v1/tenant/export" ? "application/x-ndjson" : "application/json";
          if (!content.contains(media)) {
            FAIL_CHECK(status << " is not " << media);
            continue;
          }
          std::string why;
          CHECK_MESSAGE(described(content.at(media).at("schema").as_object(), components, why), status << ": " << why);
        }
        CHECK(success >= 1);

        std::string method(method_key);
        bool takes_body =
            ((method == "post" || method == "put" || method == "patch") && !kBodiless.count(op_name)) ||
            kDeletesWithBody.count(op_name);
        if (takes_body) {
          if (!op.contains("requestBody")) {
            FAIL_CHECK("no requestBody");
            continue;
          }
          const auto& content = op.at("requestBody").at("content").as_object();
          if (!content.contains("application/json")) {
            FAIL_CHECK("the request body is not application/json");
            continue;
          }
          std::string why;
          CHECK_MESSAGE(described(content.at("application/json").at("schema").as_object(), components, why), why);
        } else {
          CHECK_FALSE(op.contains("requestBody"));
        }
      }
    }
    // Every area is there (the test cannot pass on an empty document).
    CHECK(per_area["/api/v1/auth"] >= 14);
    CHECK(per_area["/api/v1/users"] >= 10);
    CHECK(per_area["/api/v1/roles"] >= 9);
    CHECK(per_area["/api/v1/tenants"] >= 10);
    CHECK(per_area["/api/v1/tenant"] >= 4);
    CHECK(per_area["/api/v1/audit-logs"] == 1);
  }
}  // TEST_SUITE
