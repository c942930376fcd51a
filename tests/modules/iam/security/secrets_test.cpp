#include "secrets.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "jwt.hpp"

namespace {

bool is_base64url(const std::string& text) {
  return text.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
         std::string::npos;
}

}  // namespace

TEST_SUITE("iam/security/secrets") {
  TEST_CASE("a 32-byte random token is 43 base64url characters") {
    const std::string token = crm::iam::random_token();
    CHECK(token.size() == 43);
    CHECK(is_base64url(token));
    CHECK(crm::iam::base64url_decode(token)->size() == 32);
    CHECK(crm::iam::random_token(16).size() == 22);
    CHECK(crm::iam::random_token(0).empty());
  }

  TEST_CASE("random tokens do not repeat") {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) seen.insert(crm::iam::random_token());
    CHECK(seen.size() == 1000);
  }

  TEST_CASE("sha256_hex matches the FIPS 180-2 vectors") {
    CHECK(crm::iam::sha256_hex("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(crm::iam::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(crm::iam::sha256_hex(std::string("a\0b", 3)) != crm::iam::sha256_hex("a"));
  }

  TEST_CASE("constant_time_equal compares contents and length") {
    CHECK(crm::iam::constant_time_equal("", ""));
    CHECK(crm::iam::constant_time_equal("token-value", "token-value"));
    CHECK_FALSE(crm::iam::constant_time_equal("token-value", "token-valuE"));
    CHECK_FALSE(crm::iam::constant_time_equal("token-value", "token-value2"));
    CHECK_FALSE(crm::iam::constant_time_equal("token", ""));
    CHECK_FALSE(crm::iam::constant_time_equal(std::string("ab\0", 3), "ab"));
  }

  TEST_CASE("a sealed value unseals with the same key material") {
    const std::string plaintext = R"({"access_token":"a.b.c","refresh_token":"r"})";
    const std::string sealed = crm::iam::seal("previous refresh token", plaintext);
    CHECK(is_base64url(sealed));
    CHECK(sealed.find("access_token") == std::string::npos);
    CHECK(crm::iam::unseal("previous refresh token", sealed) == plaintext);
    CHECK(crm::iam::unseal("k", crm::iam::seal("k", "")) == std::string());
  }

  TEST_CASE("sealing the same value twice uses a fresh nonce") {
    const std::string a = crm::iam::seal("key", "same plaintext");
    const std::string b = crm::iam::seal("key", "same plaintext");
    CHECK(a != b);
    CHECK(crm::iam::base64url_decode(a)->substr(0, 12) !=
          crm::iam::base64url_decode(b)->substr(0, 12));
    // nonce (12) + ciphertext (14) + tag (16)
    CHECK(crm::iam::base64url_decode(a)->size() == 12 + 14 + 16);
  }

  TEST_CASE("unsealing with another key fails") {
    const std::string sealed = crm::iam::seal("right key", "secret pair");
    CHECK_FALSE(crm::iam::unseal("wrong key", sealed));
    CHECK_FALSE(crm::iam::unseal("", sealed));
  }

  TEST_CASE("unsealing a tampered, truncated or malformed blob fails") {
    const std::string sealed = crm::iam::seal("key", "secret pair");
    const std::string raw = *crm::iam::base64url_decode(sealed);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      std::string flipped = raw;
      flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
      CAPTURE(i);
      CHECK_FALSE(crm::iam::unseal("key", crm::iam::base64url_encode(flipped)));
    }
    CHECK_FALSE(crm::iam::unseal("key", crm::iam::base64url_encode(raw.substr(0, raw.size() - 1))));
    CHECK_FALSE(crm::iam::unseal("key", crm::iam::base64url_encode(raw.substr(0, 27))));
    CHECK_FALSE(crm::iam::unseal("key", crm::iam::base64url_encode(raw + "x")));
    CHECK_FALSE(crm::iam::unseal("key", ""));
    CHECK_FALSE(crm::iam::unseal("key", sealed + "="));
    CHECK_FALSE(crm::iam::unseal("key", "not base64!"));
    CHECK(crm::iam::unseal("key", sealed) == std::string("secret pair"));
  }
}
