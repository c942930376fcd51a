#include "jwt.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using crm::iam::AccessClaims;
using crm::iam::base64url_decode;
using crm::iam::base64url_encode;
using crm::iam::JwtSigner;

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";
constexpr std::int64_t kNow = 1'700'000'000;

JwtSigner signer() { return JwtSigner(kSecret, "https://crm.example", "crm-api"); }

AccessClaims claims() {
  AccessClaims c;
  c.issuer = "https://crm.example";
  c.audience = "crm-api";
  c.subject = "user-1";
  c.tenant_id = "tenant-1";
  c.jti = "jti-1";
  c.session_id = "family-1";
  c.issued_at = kNow;
  c.not_before = kNow;
  c.expires_at = kNow + 900;
  return c;
}

struct Parts {
  std::string header, payload, signature;
};

Parts split(const std::string& token) {
  const auto a = token.find('.');
  const auto b = token.find('.', a + 1);
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}

// A token with the given header and payload JSON, correctly signed with HMAC-SHA-256 under
// `secret` (whatever the header says).
std::string forge(const std::string& header_json, const std::string& payload_json,
                  const std::string& secret = kSecret) {
  const std::string input = base64url_encode(header_json) + "." + base64url_encode(payload_json);
  return input + "." + base64url_encode(crm::iam::hmac_sha256(secret, input));
}

const std::string kHeader = R"({"alg":"HS256","typ":"JWT"})";
const std::string kPayload =
    R"({"iss":"https://crm.example","aud":"crm-api","sub":"user-1","tid":"tenant-1","jti":"jti-1","iat":1700000000,"nbf":1700000000,"exp":1700000900})";

std::string with_payload(std::string payload_json) { return forge(kHeader, payload_json); }

}  // namespace

TEST_SUITE("iam/security/jwt") {
  TEST_CASE("a signed token verifies and gives back its claims") {
    const auto token = signer().sign(claims());
    const auto verified = signer().verify(token, kNow + 10);
    REQUIRE(verified);
    CHECK(verified->issuer == "https://crm.example");
    CHECK(verified->audience == "crm-api");
    CHECK(verified->subject == "user-1");
    CHECK(verified->tenant_id == "tenant-1");
    CHECK(verified->jti == "jti-1");
    CHECK(verified->session_id == "family-1");
    CHECK(verified->issued_at == kNow);
    CHECK(verified->not_before == kNow);
    CHECK(verified->expires_at == kNow + 900);
  }

  TEST_CASE("the header is exactly HS256/JWT and the payload holds integer times") {
    const auto parts = split(signer().sign(claims()));
    CHECK(base64url_decode(parts.header) == std::string(R"({"alg":"HS256","typ":"JWT"})"));
    const auto payload = base64url_decode(parts.payload);
    REQUIRE(payload);
    CHECK(payload->find(R"("exp":1700000900)") != std::string::npos);
    CHECK(payload->find(R"("sid":"family-1")") != std::string::npos);
  }

  TEST_CASE("an empty session id is left out of the token") {
    auto c = claims();
    c.session_id.clear();
    const auto token = signer().sign(c);
    CHECK(base64url_decode(split(token).payload)->find("sid") == std::string::npos);
    const auto verified = signer().verify(token, kNow);
    REQUIRE(verified);
    CHECK(verified->session_id.empty());
  }

  TEST_CASE("a hand-built token with the same claims verifies (the forging helper is sound)") {
    CHECK(signer().verify(with_payload(kPayload), kNow));
  }

  TEST_CASE("a tampered payload is rejected") {
    const auto parts = split(signer().sign(claims()));
    auto payload = *base64url_decode(parts.payload);
    payload.replace(payload.find("user-1"), 6, "user-2");
    CHECK_FALSE(signer().verify(
        parts.header + "." + base64url_encode(payload) + "." + parts.signature, kNow));
  }

  TEST_CASE("a tampered signature is rejected") {
    const auto token = signer().sign(claims());
    auto parts = split(token);
    auto signature = *base64url_decode(parts.signature);
    signature[0] = static_cast<char>(signature[0] ^ 1);
    CHECK_FALSE(signer().verify(
        parts.header + "." + parts.payload + "." + base64url_encode(signature), kNow));
    CHECK_FALSE(signer().verify(parts.header + "." + parts.payload + ".", kNow));
    CHECK_FALSE(signer().verify(
        parts.header + "." + parts.payload + "." + parts.signature.substr(1), kNow));
  }

  TEST_CASE("an alg none token is rejected") {
    const std::string unsigned_input =
        base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + base64url_encode(kPayload);
    CHECK_FALSE(signer().verify(unsigned_input + ".", kNow));
    CHECK_FALSE(signer().verify(forge(R"({"alg":"none","typ":"JWT"})", kPayload), kNow));
    CHECK_FALSE(signer().verify(forge(R"({"alg":"None","typ":"JWT"})", kPayload), kNow));
  }

  TEST_CASE("a token labelled with another algorithm is rejected even when its HMAC is right") {
    CHECK_FALSE(signer().verify(forge(R"({"alg":"HS512","typ":"JWT"})", kPayload), kNow));
    CHECK_FALSE(signer().verify(forge(R"({"alg":"RS256","typ":"JWT"})", kPayload), kNow));
    CHECK_FALSE(signer().verify(forge(R"({"alg":"hs256","typ":"JWT"})", kPayload), kNow));
    CHECK_FALSE(signer().verify(forge(R"({"typ":"JWT"})", kPayload), kNow));
    CHECK_FALSE(signer().verify(forge(R"({"alg":["HS256"]})", kPayload), kNow));
    CHECK_FALSE(signer().verify(forge(R"(["HS256"])", kPayload), kNow));
  }

  TEST_CASE("a header with crit is rejected") {
    CHECK(signer().verify(forge(R"({"alg":"HS256"})", kPayload), kNow));
    CHECK_FALSE(
        signer().verify(forge(R"({"alg":"HS256","crit":["exp"],"exp":1})", kPayload), kNow));
  }

  TEST_CASE("a token signed with a different key is rejected") {
    const JwtSigner other("another-secret-that-is-long-enough-123", "https://crm.example",
                          "crm-api");
    CHECK_FALSE(signer().verify(other.sign(claims()), kNow));
  }

  TEST_CASE("a token for another audience is rejected") {
    const JwtSigner other(kSecret, "https://crm.example", "other-api");
    CHECK_FALSE(other.verify(signer().sign(claims()), kNow));
    CHECK(other.verify(other.sign(claims()), kNow));
  }

  TEST_CASE("an audience array containing our audience is accepted, one without it is not") {
    const std::string base =
        R"("iss":"https://crm.example","sub":"user-1","jti":"j","iat":1700000000,"nbf":1700000000,"exp":1700000900)";
    CHECK(signer().verify(with_payload(R"({"aud":["x","crm-api"],)" + base + "}"), kNow));
    CHECK_FALSE(signer().verify(with_payload(R"({"aud":["x","y"],)" + base + "}"), kNow));
    CHECK_FALSE(signer().verify(with_payload(R"({"aud":[],)" + base + "}"), kNow));
    CHECK_FALSE(signer().verify(with_payload(R"({"aud":7,)" + base + "}"), kNow));
    CHECK_FALSE(signer().verify(with_payload("{" + base + "}"), kNow));
  }

  TEST_CASE("a token from another issuer is rejected") {
    const JwtSigner other(kSecret, "https://evil.example", "crm-api");
    CHECK_FALSE(signer().verify(other.sign(claims()), kNow));
    std::string payload = kPayload;
    payload.replace(payload.find("crm.example"), 11, "evil.example");
    CHECK_FALSE(signer().verify(with_payload(payload), kNow));
  }

  TEST_CASE("the signer stamps its own issuer and audience whatever the claims say") {
    auto c = claims();
    c.issuer = "https://evil.example";
    c.audience = "other-api";
    const auto verified = signer().verify(signer().sign(c), kNow);
    REQUIRE(verified);
    CHECK(verified->issuer == "https://crm.example");
    CHECK(verified->audience == "crm-api");
  }

  TEST_CASE("an expired token is rejected") {
    const auto token = signer().sign(claims());
    CHECK(signer().verify(token, kNow + 899, 0));
    CHECK_FALSE(signer().verify(token, kNow + 900, 0));
    CHECK_FALSE(signer().verify(token, kNow + 10'000));
  }

  TEST_CASE("a remembered token has its not-before and expiry checked again at every verification") {
    const JwtSigner s = signer();
    auto c = claims();
    c.not_before = kNow + 60;
    const auto token = s.sign(c);
    CHECK_FALSE(s.verify(token, kNow, 0));
    CHECK(s.remembered_tokens() == 0);  // a rejected token is not remembered
    auto first = s.verify(token, kNow + 60, 0);
    REQUIRE(first);
    CHECK(s.remembered_tokens() == 1);
    auto again = s.verify(token, kNow + 61, 0);
    REQUIRE(again);
    CHECK(again->subject == first->subject);
    CHECK(again->jti == first->jti);
    CHECK(again->session_id == first->session_id);
    CHECK(again->expires_at == first->expires_at);
    CHECK_FALSE(s.verify(token, kNow, 0));            // before nbf, though remembered
    CHECK(s.verify(token, kNow + 55));                 // within the leeway
    CHECK_FALSE(s.verify(token, kNow + 900, 0));       // expired, though remembered
    CHECK(s.verify(token, kNow + 902, 5));
    CHECK_FALSE(s.verify(token, kNow + 905, 5));
  }

  TEST_CASE("a changed token is rejected while the genuine one is remembered") {
    const JwtSigner s = signer();
    const auto token = s.sign(claims());
    REQUIRE(s.verify(token, kNow));
    auto parts = split(token);
    auto signature = *base64url_decode(parts.signature);
    signature[0] = static_cast<char>(signature[0] ^ 1);
    CHECK_FALSE(s.verify(parts.header + "." + parts.payload + "." + base64url_encode(signature), kNow));
    auto payload = *base64url_decode(parts.payload);
    payload.replace(payload.find("user-1"), 6, "user-2");
    CHECK_FALSE(s.verify(parts.header + "." + base64url_encode(payload) + "." + parts.signature, kNow));
    CHECK_FALSE(s.verify(token + "x", kNow));
    CHECK_FALSE(s.verify(token.substr(0, token.size() - 1), kNow));
    CHECK_FALSE(JwtSigner(kSecret + "-other", "https://crm.example", "crm-api").verify(token, kNow));
    CHECK(s.remembered_tokens() == 1);
    CHECK(s.verify(token, kNow));
  }

  TEST_CASE("the remembered tokens stay bounded and every token keeps verifying") {
    const JwtSigner s = signer();
    std::vector<std::string> tokens;
    for (std::size_t i = 0; i < JwtSigner::kRememberedTokens + 300; ++i) {
      auto c = claims();
      c.jti = "jti-" + std::to_string(i);
      tokens.push_back(s.sign(c));
    }
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (std::size_t i = static_cast<std::size_t>(t); i < tokens.size(); i += 2) {
          auto got = s.verify(tokens[i], kNow);
          if (!got || got->jti != "jti-" + std::to_string(i)) ++failed;
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(failed == 0);
    CHECK(s.remembered_tokens() <= JwtSigner::kRememberedTokens);
    CHECK(s.remembered_tokens() > 0);
    for (std::size_t i = 0; i < tokens.size(); i += 97) CHECK(s.verify(tokens[i], kNow)->jti == "jti-" + std::to_string(i));
  }

  TEST_CASE("when the remembered tokens are full, the expired ones make room first") {
    const JwtSigner s = signer();
    for (std::size_t i = 0; i < JwtSigner::kRememberedTokens; ++i) {
      auto c = claims();  // valid until kNow + 900
      c.jti = "old-" + std::to_string(i);
      REQUIRE(s.verify(s.sign(c), kNow));
    }
    CHECK(s.remembered_tokens() == JwtSigner::kRememberedTokens);
    // An hour later every one of them has expired: the first new token clears them out.
    for (int i = 0; i < 10; ++i) {
      auto c = claims();
      c.jti = "new-" + std::to_string(i);
      c.issued_at = c.not_before = kNow + 3600;
      c.expires_at = kNow + 4500;
      REQUIRE(s.verify(s.sign(c), kNow + 3600));
    }
    CHECK(s.remembered_tokens() == 10);
  }

  TEST_CASE("a token that is not yet valid is rejected") {
    auto c = claims();
    c.not_before = kNow + 60;
    const auto token = signer().sign(c);
    CHECK_FALSE(signer().verify(token, kNow, 0));
    CHECK_FALSE(signer().verify(token, kNow + 54));
    CHECK(signer().verify(token, kNow + 60, 0));
  }

  TEST_CASE("the leeway allows that much clock skew and no more") {
    auto c = claims();
    c.not_before = kNow + 60;
    c.expires_at = kNow + 120;
    const auto token = signer().sign(c);
    CHECK(signer().verify(token, kNow + 55));         // nbf 5 s ahead: default leeway of 5 s
    CHECK_FALSE(signer().verify(token, kNow + 54));   // 6 s ahead
    CHECK(signer().verify(token, kNow + 124));        // expired 4 s ago
    CHECK_FALSE(signer().verify(token, kNow + 125));  // expired 5 s ago
    CHECK(signer().verify(token, kNow + 30, 30));
    CHECK_FALSE(signer().verify(token, kNow + 29, 30));
  }

  TEST_CASE("claims of the wrong type or missing are rejected") {
    const std::vector<std::string> payloads = {
        R"({"iss":"https://crm.example","aud":"crm-api","sub":"u","jti":"j","iat":1700000000,"nbf":1700000000,"exp":1700000900.0})",
        R"({"iss":"https://crm.example","aud":"crm-api","sub":"u","jti":"j","iat":1700000000,"nbf":"1700000000","exp":1700000900})",
        R"({"iss":"https://crm.example","aud":"crm-api","sub":"u","jti":"j","iat":1700000000,"nbf":1700000000})",
        R"({"iss":"https://crm.example","aud":"crm-api","sub":7,"jti":"j","iat":1700000000,"nbf":1700000000,"exp":1700000900})",
        R"({"iss":"https://crm.example","aud":"crm-api","sub":"u","iat":1700000000,"nbf":1700000000,"exp":1700000900})",
        R"({"iss":"https://crm.example","aud":"crm-api","sub":"u","jti":"j","nbf":1700000000,"exp":1700000900})",
        R"({"aud":"crm-api","sub":"u","jti":"j","iat":1700000000,"nbf":1700000000,"exp":1700000900})",
        R"({"iss":"https://crm.example","aud":"crm-api","sub":"u","tid":1,"jti":"j","iat":1700000000,"nbf":1700000000,"exp":1700000900})",
        R"({"iss":"https://crm.example","aud":"crm-api","sub":"u","jti":"j","iat":1700000000,"nbf":1700000000,"exp":18446744073709551615})",
        R"(["not","an","object"])",
        R"(not json)",
    };
    for (const auto& payload : payloads) {
      CAPTURE(payload);
      CHECK_FALSE(signer().verify(with_payload(payload), kNow));
    }
  }

  TEST_CASE("malformed tokens are rejected") {
    const auto token = signer().sign(claims());
    const auto parts = split(token);
    for (const std::string& garbage :
         {std::string(), std::string("."), std::string(".."), std::string("a.b"),
          std::string("a.b.c"), std::string("a.b.c.d"), token + ".", token + "." + parts.signature,
          std::string("not a token at all"),
          parts.header + "." + parts.payload + "." + parts.signature + "=",
          parts.header + "=." + parts.payload + "." + parts.signature,
          "!" + parts.header.substr(1) + "." + parts.payload + "." + parts.signature,
          parts.header + "." + parts.payload + "+." + parts.signature,
          parts.header + " ." + parts.payload + "." + parts.signature}) {
      CAPTURE(garbage);
      CHECK_FALSE(signer().verify(garbage, kNow));
    }
  }

  TEST_CASE("a token longer than 8 KiB is rejected") {
    auto c = claims();
    c.subject = std::string(5500, 'u');
    CHECK(signer().verify(signer().sign(c), kNow));
    c.subject = std::string(7000, 'u');
    const auto token = signer().sign(c);
    REQUIRE(token.size() > 8192);
    CHECK_FALSE(signer().verify(token, kNow));
  }

  TEST_CASE("a secret shorter than 32 bytes is refused") {
    CHECK_THROWS_AS(JwtSigner(std::string(31, 'k'), "iss", "aud"), std::invalid_argument);
    CHECK_NOTHROW(JwtSigner(std::string(32, 'k'), "iss", "aud"));
  }

  TEST_CASE("HMAC-SHA-256 matches the jwt.io HS256 test vector") {
    const std::string input =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ";
    CHECK(base64url_encode(crm::iam::hmac_sha256("your-256-bit-secret", input)) ==
          "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
  }

  TEST_CASE("base64url round-trips every length and matches RFC 4648 vectors") {
    CHECK(base64url_encode("") == "");
    CHECK(base64url_encode("f") == "Zg");
    CHECK(base64url_encode("fo") == "Zm8");
    CHECK(base64url_encode("foo") == "Zm9v");
    CHECK(base64url_encode("foob") == "Zm9vYg");
    CHECK(base64url_encode("fooba") == "Zm9vYmE");
    CHECK(base64url_encode("foobar") == "Zm9vYmFy");
    CHECK(base64url_encode("\xfb\xff\xbf") == "-_-_");
    std::string bytes;
    for (int i = 0; i < 300; ++i) {
      CHECK(base64url_decode(base64url_encode(bytes)) == bytes);
      bytes += static_cast<char>((i * 37 + 11) & 0xFF);
    }
  }

  TEST_CASE(
      "base64url decoding rejects padding, foreign characters and non-canonical trailing bits") {
    CHECK(base64url_decode("Zg") == std::string("f"));
    CHECK_FALSE(base64url_decode("Zg=="));
    CHECK_FALSE(base64url_decode("Zm8="));
    CHECK_FALSE(base64url_decode("Z"));     // a length no encoding has
    CHECK_FALSE(base64url_decode("Zh"));    // 'h' leaves non-zero bits after the last byte
    CHECK_FALSE(base64url_decode("Zm9"));   // same for a two-byte tail
    CHECK_FALSE(base64url_decode("+/+/"));  // standard alphabet, not base64url
    CHECK_FALSE(base64url_decode("Zm 9v"));
    CHECK_FALSE(base64url_decode(std::string("Zm\0v", 4)));
  }
}
