// With an Ed25519 key configured, access tokens are EdDSA: HS256 tokens made with the shared
// secret are refused, and the public key is published as a JWK set.
#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "support/harness.hpp"
#include "support/iam_helpers.hpp"

using namespace crm::testing;
using namespace crm::testing::iam;

namespace {

std::string header_json(const std::string& token) { return b64url_decode(token.substr(0, token.find('.'))); }

}  // namespace

TEST_SUITE("integration/iam_eddsa") {
  TEST_CASE("an Ed25519 key makes access tokens EdDSA, refuses HS256 ones and publishes the public key") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      auto key = (std::filesystem::path(db.data_dir()) / "jwt-ed25519.pem").string();
      auto [rc, out] = run_command("/usr/bin/openssl", {"genpkey", "-algorithm", "ed25519", "-out", key});
      REQUIRE_MESSAGE(rc == 0, out);
      ServerProcess server(db, {{"CRM_JWT_ED25519_KEY_FILE", key}});
      HttpClient client(server.port());
      auto owner = register_tenant(client, "eddsa-co", "eddsa@example.com");
      CHECK(header_json(owner.access).find("\"alg\":\"EdDSA\"") != std::string::npos);
      CHECK(call(client, "GET", "/api/v1/auth/me", owner.access).status == 200);
      // Refresh gives EdDSA tokens too.
      auto refreshed = client.post_json("/api/v1/auth/refresh", js(bj::object{{"refresh_token", owner.refresh}}));
      REQUIRE_MESSAGE(refreshed.status == 200, refreshed.body);
      auto access = str(obj(refreshed).at("access_token"));
      CHECK(header_json(access).find("\"alg\":\"EdDSA\"") != std::string::npos);
      CHECK(call(client, "GET", "/api/v1/auth/me", access).status == 200);

      // The same claims signed with the (still configured) HS256 secret are refused.
      auto claims = jwt_claims(access);
      claims["jti"] = "hs256-under-eddsa";
      auto hs = make_jwt(bj::object{{"alg", "HS256"}, {"typ", "JWT"}}, claims, kJwtSecret);
      auto refused = call(client, "GET", "/api/v1/auth/me", hs);
      CHECK(refused.status == 401);
      CHECK(code_of(refused) == "invalid_token");

      // The JWK set holds the public key (and never the private part), without a token.
      auto jwks = client.get("/api/v1/auth/jwks");
      REQUIRE(jwks.status == 200);
      auto keys = obj(jwks).at("keys").as_array();
      REQUIRE(keys.size() == 1);
      CHECK(str(keys[0].at("kty")) == "OKP");
      CHECK(str(keys[0].at("crv")) == "Ed25519");
      CHECK(b64url_decode(str(keys[0].at("x"))).size() == 32);
      CHECK_FALSE(keys[0].as_object().contains("d"));
      CHECK(header_json(access).find("\"kid\":\"" + str(keys[0].at("kid")) + "\"") != std::string::npos);
    }
  }

  TEST_CASE("without a key the JWK set is empty, and a bad key file stops start-up naming the key") {
    TestDatabase db("sqlite");
    {
      ServerProcess server(db);
      HttpClient client(server.port());
      auto jwks = client.get("/api/v1/auth/jwks");
      REQUIRE(jwks.status == 200);
      CHECK(obj(jwks).at("keys").as_array().empty());
    }
    auto not_a_key = (std::filesystem::path(db.data_dir()) / "not-a-key.pem").string();
    { std::FILE* f = std::fopen(not_a_key.c_str(), "w"); std::fputs("hello\n", f); std::fclose(f); }
    auto [rc, out] = run_command(crm_binary_path(), {"serve", "--port", "0"},
                                 {{"CRM_DATABASE_URL", db.url()},
                                  {"CRM_JWT_SECRET", kJwtSecret},
                                  {"CRM_JWT_ED25519_KEY_FILE", not_a_key}});
    CHECK(rc != 0);
    CHECK(out.find("auth.jwt_ed25519_key_file") != std::string::npos);
  }
}
