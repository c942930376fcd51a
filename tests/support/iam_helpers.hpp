#pragma once
// Helpers for the IAM integration tests: register a tenant, sign in, invite members, call the
// API with a token, read one-time tokens from the outbox, craft JWTs by hand.
// Header-only so the test target needs no build change.

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace crm::testing::iam {

namespace bj = boost::json;

inline constexpr const char* kPassword = "indigo-canting-malam-2026";
inline constexpr const char* kJwtSecret = "integration-test-secret-0123456789abcdef";
inline constexpr const char* kUnknownId = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

inline std::string js(const bj::value& v) { return bj::serialize(v); }

inline std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

/// Any verb, with a token (may be empty) and a JSON body (may be empty).
inline HttpResult call(HttpClient& client, const std::string& method, const std::string& target,
                       const std::string& token, const std::string& body = {},
                       std::map<std::string, std::string> headers = {}) {
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  if (!body.empty()) headers.emplace("Content-Type", "application/json");
  return client.request(method, target, body, headers);
}

inline bj::object obj(const HttpResult& r) {
  auto v = r.json();
  REQUIRE_MESSAGE(v.is_object(), r.body);
  return v.as_object();
}

/// The `data` list of a collection answer (by value: safe in a range-for over a temporary).
inline bj::array data_of(const HttpResult& r) {
  auto v = r.json();
  REQUIRE_MESSAGE((v.is_object() && v.as_object().contains("data")), r.status << " " << r.body);
  return v.as_object().at("data").as_array();
}

inline std::string str(const bj::value& v) {
  return v.is_string() ? std::string(v.get_string()) : std::string();
}

/// The problem code of an error answer ("" when none).
inline std::string code_of(const HttpResult& r) {
  try {
    auto v = r.json();
    if (v.is_object() && v.as_object().contains("code")) return str(v.as_object().at("code"));
  } catch (...) {
  }
  return {};
}

/// The field names listed in a problem's `errors`.
inline std::set<std::string> error_fields(const HttpResult& r) {
  std::set<std::string> out;
  auto v = r.json();
  if (!v.is_object() || !v.as_object().contains("errors")) return out;
  for (const auto& e : v.as_object().at("errors").as_array())
    out.insert(str(e.as_object().at("field")));
  return out;
}

/// The code an error names for a field ("" when the field is not listed).
inline std::string error_code_for(const HttpResult& r, const std::string& field) {
  auto v = r.json();
  if (!v.is_object() || !v.as_object().contains("errors")) return {};
  for (const auto& e : v.as_object().at("errors").as_array()) {
    if (str(e.as_object().at("field")) == field) return str(e.as_object().at("code"));
  }
  return {};
}

struct Account {
  std::string email, password, user_id, tenant_id, tenant_slug, access, refresh;
};

inline Account account_from(const HttpResult& r, const std::string& email,
                            const std::string& password) {
  REQUIRE_MESSAGE(r.status / 100 == 2, r.status << " " << r.body);
  auto o = obj(r);
  Account a;
  a.email = email;
  a.password = password;
  a.user_id = str(o.at("user").at("id"));
  if (o.at("tenant").is_object()) {
    a.tenant_id = str(o.at("tenant").at("id"));
    a.tenant_slug = str(o.at("tenant").at("slug"));
  }
  a.access = str(o.at("access_token"));
  a.refresh = str(o.at("refresh_token"));
  return a;
}

inline HttpResult register_raw(HttpClient& client, const std::string& slug,
                               const std::string& email, const std::string& password = kPassword,
                               const std::string& name = "Owner Person") {
  return client.post_json("/api/v1/auth/register", js(bj::object{{"tenant_name", "Tenant " + slug},
                                                                 {"tenant_slug", slug},
                                                                 {"name", name},
                                                                 {"email", email},
                                                                 {"password", password}}));
}

/// Registers a tenant with its owner and returns the owner's session.
inline Account register_tenant(HttpClient& client, const std::string& slug,
                               const std::string& email, const std::string& password = kPassword) {
  auto r = register_raw(client, slug, email, password);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return account_from(r, email, password);
}

inline HttpResult login_raw(HttpClient& client, const std::string& email,
                            const std::string& password, const std::string& tenant = {},
                            std::map<std::string, std::string> headers = {}) {
  bj::object body{{"email", email}, {"password", password}};
  if (!tenant.empty()) body["tenant"] = tenant;
  return client.post_json("/api/v1/auth/login", js(body), std::move(headers));
}

inline Account login(HttpClient& client, const std::string& email,
                     const std::string& password = kPassword, const std::string& tenant = {}) {
  auto r = login_raw(client, email, password, tenant);
  REQUIRE_MESSAGE(r.status == 200, email << ": " << r.body);
  return account_from(r, email, password);
}

/// The id of a role of the caller's tenant, by name.
inline std::string role_id(HttpClient& client, const std::string& token, const std::string& name) {
  auto r = call(client, "GET", "/api/v1/roles", token);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  for (const auto& role : data_of(r)) {
    if (str(role.at("name")) == name) return str(role.at("id"));
  }
  FAIL("no role named " << name);
  return {};
}

/// Payloads (as JSON objects) of the outbox events of a type, oldest first.
inline std::vector<bj::object> outbox_payloads(TestDatabase& db, const std::string& type) {
  std::vector<bj::object> out;
  for (const auto& p :
       db.column("SELECT CAST(payload AS TEXT) FROM platform_outbox WHERE type = '" + type +
                 "' ORDER BY seq")) {
    auto v = bj::parse(p);
    if (v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

/// The newest one-time token (`field`) in an outbox event of `type` addressed to `email`.
inline std::string outbox_token(TestDatabase& db, const std::string& type, const std::string& field,
                                const std::string& email) {
  std::string token;
  for (const auto& p : outbox_payloads(db, type)) {
    if (p.contains("email") && str(p.at("email")) == email && p.contains(field))
      token = str(p.at(field));
  }
  REQUIRE_MESSAGE(!token.empty(), "no " << field << " for " << email << " in " << type);
  return token;
}

/// Invites `email` into the owner's tenant with one role; returns the invited user's id.
inline std::string invite(HttpClient& client, const Account& owner, const std::string& email,
                          const std::string& role_name) {
  auto rid = role_id(client, owner.access, role_name);
  auto r = call(
      client, "POST", "/api/v1/users", owner.access,
      js(bj::object{
          {"email", email}, {"name", "Member " + email}, {"role_ids", bj::array{bj::value(rid)}}}));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return str(obj(r).at("id"));
}

/// Invites a new person with a role, accepts the invitation with a password, returns their session.
inline Account add_member(HttpClient& client, TestDatabase& db, const Account& owner,
                          const std::string& email, const std::string& role_name) {
  invite(client, owner, email, role_name);
  auto token = outbox_token(db, "user.invited", "invitation_token", email);
  auto r = client.post_json("/api/v1/auth/accept-invitation",
                            js(bj::object{{"token", token}, {"password", kPassword}}));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto a = account_from(r, email, kPassword);
  CHECK(a.tenant_id == owner.tenant_id);
  return a;
}

/// Environment for running CLI commands of the test server against a test database.
inline std::map<std::string, std::string> command_env(const TestDatabase& db) {
  return {{"CRM_DATABASE_URL", db.url()}, {"CRM_DATA_DIR", db.data_dir()}, {"CRM_JWT_SECRET", kJwtSecret}};
}

/// Creates a platform administrator with the CLI and signs in (no tenant).
inline Account platform_admin(HttpClient& client, TestDatabase& db, const std::string& email) {
  auto [code, out] = run_command(probe_server_path(), {"create-superuser", "--email", email}, command_env(db));
  REQUIRE_MESSAGE(code == 0, out);
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(out, m, std::regex(R"(password \(shown once\): (\S+))")), out);
  auto r = login_raw(client, email, m[1].str());
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(obj(r).at("tenant").is_null());
  return account_from(r, email, m[1].str());
}

/// Moves a closed tenant's deletion_due_at (in its settings) to `when` (RFC 3339).
inline void set_deletion_due(TestDatabase& db, const std::string& tenant_id, const std::string& when) {
  auto settings = db.column("SELECT settings FROM iam_tenants WHERE id = '" + tenant_id + "'");
  REQUIRE(settings.size() == 1);
  auto s = bj::parse(settings[0]).as_object();
  REQUIRE(s.contains("deletion_due_at"));
  s["deletion_due_at"] = when;
  std::string text = js(s);
  REQUIRE(text.find('\'') == std::string::npos);
  db.exec("UPDATE iam_tenants SET settings = '" + text + "' WHERE id = '" + tenant_id + "'");
}

// ---- hand-made JWTs ----

inline std::string b64url(const std::string& data) {
  std::string out((data.size() + 2) / 3 * 4 + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

inline std::string b64url_decode(std::string text) {
  for (auto& c : text) c = c == '-' ? '+' : c == '_' ? '/' : c;
  std::size_t pad = (4 - text.size() % 4) % 4;
  text.append(pad, '=');
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  REQUIRE(n >= 0);
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

inline std::string hmac256(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

/// The payload claims of a JWT.
inline bj::object jwt_claims(const std::string& token) {
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  return bj::parse(b64url_decode(token.substr(first + 1, second - first - 1))).as_object();
}

/// header.payload.signature, HS256 under `key` (an empty key: no signature at all).
inline std::string make_jwt(const bj::object& header, const bj::object& payload,
                            const std::string& key) {
  std::string signing_input = b64url(js(header)) + "." + b64url(js(payload));
  return signing_input + "." + (key.empty() ? std::string() : b64url(hmac256(key, signing_input)));
}

}  // namespace crm::testing::iam
