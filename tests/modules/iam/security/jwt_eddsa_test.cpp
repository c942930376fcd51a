#include "jwt.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace {

using crm::iam::AccessClaims;
using crm::iam::base64url_decode;
using crm::iam::base64url_encode;
using crm::iam::JwtSigner;

// RFC 8037 appendix A.1 (the key of RFC 8032's first test vector).
constexpr const char* kSeed = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr const char* kPublic = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

crm::iam::Ed25519Key rfc_key() { return crm::iam::ed25519_from_seed(*base64url_decode(kSeed)); }

AccessClaims claims(std::int64_t now) {
  AccessClaims c;
  c.subject = "user-1";
  c.tenant_id = "tenant-1";
  c.jti = "jti-1";
  c.session_id = "session-1";
  c.issued_at = now;
  c.not_before = now;
  c.expires_at = now + 900;
  return c;
}

std::string header_of(const std::string& token) { return *base64url_decode(token.substr(0, token.find('.'))); }

// A PEM file holding the given private key (OpenSSL's own writer, as `openssl genpkey` makes).
std::string write_pem(EVP_PKEY* key) {
  auto path = (std::filesystem::temp_directory_path() / ("crm-eddsa-" + std::to_string(::getpid()) + "-" +
                                                         std::to_string(reinterpret_cast<std::uintptr_t>(key)) + ".pem"))
                  .string();
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "w"), &std::fclose);
  REQUIRE(f);
  REQUIRE(PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  return path;
}

}  // namespace

TEST_SUITE("iam/security/jwt_eddsa") {
  TEST_CASE("the RFC 8037 key pair and signature are reproduced") {
    auto key = rfc_key();
    CHECK(base64url_encode(key.public_key) == kPublic);
    const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    unsigned char sig[crypto_sign_ed25519_BYTES];
    crypto_sign_ed25519_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                                 reinterpret_cast<const unsigned char*>(key.secret_key.data()));
    CHECK(base64url_encode(std::string(reinterpret_cast<const char*>(sig), sizeof sig)) ==
          "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  }

  TEST_CASE("an EdDSA token verifies and names its algorithm and key id") {
    JwtSigner signer(rfc_key(), "https://crm.example", "crm-api");
    CHECK(std::string(signer.algorithm()) == "EdDSA");
    auto token = signer.sign(claims(1'800'000'000));
    auto header = header_of(token);
    CHECK(header.find("\"alg\":\"EdDSA\"") != std::string::npos);
    CHECK(header.find("\"kid\":\"" + rfc_key().key_id + "\"") != std::string::npos);
    auto verified = signer.verify(token, 1'800'000'010);
    REQUIRE(verified);
    CHECK(verified->subject == "user-1");
    CHECK(verified->tenant_id == "tenant-1");
    CHECK(verified->session_id == "session-1");
    // Its signature is 64 bytes of Ed25519, not an HMAC.
    CHECK(base64url_decode(token.substr(token.rfind('.') + 1))->size() == 64);
  }

  TEST_CASE("the algorithm is pinned both ways: an EdDSA signer refuses HS256 and the reverse") {
    const std::string secret(40, 's');
    JwtSigner hs(secret, "https://crm.example", "crm-api");
    JwtSigner ed(rfc_key(), "https://crm.example", "crm-api");
    auto now = 1'800'000'000;
    CHECK_FALSE(ed.verify(hs.sign(claims(now)), now));
    CHECK_FALSE(hs.verify(ed.sign(claims(now)), now));
  }

  TEST_CASE("a tampered EdDSA token and one signed with another key are rejected") {
    JwtSigner ed(rfc_key(), "https://crm.example", "crm-api");
    auto now = 1'800'000'000;
    auto token = ed.sign(claims(now));
    auto dot = token.find('.');
    auto payload = *base64url_decode(token.substr(dot + 1, token.rfind('.') - dot - 1));
    auto forged_payload = payload;
    forged_payload.replace(forged_payload.find("user-1"), 6, "user-2");
    auto forged = token.substr(0, dot + 1) + base64url_encode(forged_payload) + token.substr(token.rfind('.'));
    CHECK_FALSE(ed.verify(forged, now));
    std::string flipped = token;
    flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
    CHECK_FALSE(ed.verify(flipped, now));

    std::string other_seed(32, '\x07');
    JwtSigner stranger(crm::iam::ed25519_from_seed(other_seed), "https://crm.example", "crm-api");
    CHECK_FALSE(ed.verify(stranger.sign(claims(now)), now));
    CHECK(stranger.verify(stranger.sign(claims(now)), now));
  }

  TEST_CASE("the public JWK carries the public key, and HS256 has none") {
    JwtSigner ed(rfc_key(), "https://crm.example", "crm-api");
    auto jwk = ed.public_jwk();
    REQUIRE(jwk);
    CHECK(jwk->find("\"x\":\"" + std::string(kPublic) + "\"") != std::string::npos);
    CHECK(jwk->find("\"crv\":\"Ed25519\"") != std::string::npos);
    CHECK(jwk->find("\"d\"") == std::string::npos);
    JwtSigner hs(std::string(40, 's'), "https://crm.example", "crm-api");
    CHECK_FALSE(hs.public_jwk());
  }

  TEST_CASE("a PEM Ed25519 key is loaded, and other keys or missing files are refused") {
    auto seed = *base64url_decode(kSeed);
    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> ed(
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()),
                                     seed.size()),
        &EVP_PKEY_free);
    REQUIRE(ed);
    auto path = write_pem(ed.get());
    auto loaded = crm::iam::load_ed25519_pem(path);
    CHECK(base64url_encode(loaded.public_key) == kPublic);
    std::filesystem::remove(path);

    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> ec(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    REQUIRE(ec);
    auto ec_path = write_pem(ec.get());
    CHECK_THROWS_WITH_AS(crm::iam::load_ed25519_pem(ec_path), doctest::Contains("not an Ed25519 key"), std::runtime_error);
    std::filesystem::remove(ec_path);
    CHECK_THROWS_AS(crm::iam::load_ed25519_pem("/nonexistent/key.pem"), std::runtime_error);
  }
}
