#include "jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <boost/json.hpp>
#include <limits>
#include <stdexcept>
#include <utility>

namespace crm::iam {
namespace {

namespace bj = boost::json;

constexpr std::size_t kMinSecretBytes = 32;
constexpr std::size_t kMaxTokenBytes = 8 * 1024;
constexpr std::size_t kSignatureBytes = 32;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// The fixed header, encoded once: {"alg":"HS256","typ":"JWT"}.
const std::string& encoded_header() {
  static const std::string header = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  return header;
}

std::optional<bj::object> decode_json_object(std::string_view part) {
  const auto text = base64url_decode(part);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  bj::value value = bj::parse(*text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

std::optional<std::string> string_claim(const bj::object& payload, std::string_view name) {
  const auto* value = payload.if_contains(name);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return std::string(value->as_string());
}

// Integers only: 1.5, "1", true and out-of-range numbers are not timestamps.
std::optional<std::int64_t> integer_claim(const bj::object& payload, std::string_view name) {
  const auto* value = payload.if_contains(name);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64() &&
      value->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return static_cast<std::int64_t>(value->get_uint64());
  }
  return std::nullopt;
}

bool audience_matches(const bj::value& aud, std::string_view expected) {
  if (aud.is_string()) return aud.get_string() == expected;
  if (!aud.is_array()) return false;
  for (const auto& entry : aud.get_array()) {
    if (entry.is_string() && entry.get_string() == expected) return true;
  }
  return false;
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
  // libsodium's HMAC runs straight from the key; OpenSSL 3's one-shot HMAC() looks the
  // algorithm up on every call, which showed in every authenticated request.
  crypto_auth_hmacsha256_state state;
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  crypto_auth_hmacsha256_final(&state, out);
  sodium_memzero(&state, sizeof state);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string base64url_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(data[i]) << 16) |
                            (static_cast<unsigned char>(data[i + 1]) << 8) |
                            static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const std::uint32_t n = static_cast<unsigned char>(data[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t n = (static_cast<unsigned char>(data[i]) << 16) |
                            (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const int value = decode_char(c);
    if (value < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  // Canonical form only: the bits left over after the last whole byte must be zero, so every
  // byte string has exactly one encoding.
  if ((buffer & ((1U << bits) - 1)) != 0) return std::nullopt;
  return out;
}

JwtSigner::JwtSigner(std::string secret, std::string issuer, std::string audience)
    : secret_(std::move(secret)), issuer_(std::move(issuer)), audience_(std::move(audience)) {
  if (secret_.size() < kMinSecretBytes) {
    throw std::invalid_argument("the JWT secret must be at least 32 bytes long");
  }
}

std::string JwtSigner::sign(const AccessClaims& claims) const {
  bj::object payload;
  payload["iss"] = issuer_;
  payload["aud"] = audience_;
  payload["sub"] = claims.subject;
  payload["tid"] = claims.tenant_id;
  payload["jti"] = claims.jti;
  if (!claims.session_id.empty()) payload["sid"] = claims.session_id;
  payload["iat"] = claims.issued_at;
  payload["nbf"] = claims.not_before;
  payload["exp"] = claims.expires_at;

  std::string token = encoded_header();
  token += '.';
  token += base64url_encode(bj::serialize(payload));
  const std::string signature = hmac_sha256(secret_, token);
  token += '.';
  token += base64url_encode(signature);
  return token;
}

std::optional<AccessClaims> JwtSigner::verify(std::string_view token, std::int64_t now_seconds,
                                              std::int64_t leeway_seconds) const {
  if (token.size() > kMaxTokenBytes) return std::nullopt;
  const auto first_dot = token.find('.');
  if (first_dot == std::string_view::npos) return std::nullopt;
  const auto second_dot = token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      token.find('.', second_dot + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view header_part = token.substr(0, first_dot);
  const std::string_view payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_part = token.substr(second_dot + 1);

  // The algorithm is pinned: whatever the header claims, only HS256 is accepted.
  const auto header = decode_json_object(header_part);
  if (!header) return std::nullopt;
  const auto* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "HS256") return std::nullopt;
  if (header->contains("crit")) return std::nullopt;

  // The signature is checked before anything in the payload is looked at.
  const auto signature = base64url_decode(signature_part);
  if (!signature || signature->size() != kSignatureBytes) return std::nullopt;
  const std::string expected = hmac_sha256(secret_, token.substr(0, second_dot));
  if (CRYPTO_memcmp(expected.data(), signature->data(), kSignatureBytes) != 0) return std::nullopt;

  const auto payload = decode_json_object(payload_part);
  if (!payload) return std::nullopt;
  AccessClaims claims;
  auto iss = string_claim(*payload, "iss");
  auto sub = string_claim(*payload, "sub");
  auto jti = string_claim(*payload, "jti");
  const auto iat = integer_claim(*payload, "iat");
  const auto nbf = integer_claim(*payload, "nbf");
  const auto exp = integer_claim(*payload, "exp");
  const auto* aud = payload->if_contains("aud");
  if (!iss || !sub || !jti || !iat || !nbf || !exp || aud == nullptr) return std::nullopt;
  if (*iss != issuer_ || !audience_matches(*aud, audience_)) return std::nullopt;
  if (*nbf > now_seconds + leeway_seconds || *exp <= now_seconds - leeway_seconds)
    return std::nullopt;

  if (const auto* tid = payload->if_contains("tid")) {
    if (!tid->is_string()) return std::nullopt;
    claims.tenant_id = std::string(tid->get_string());
  }
  if (const auto* sid = payload->if_contains("sid")) {
    if (!sid->is_string()) return std::nullopt;
    claims.session_id = std::string(sid->get_string());
  }
  claims.issuer = std::move(*iss);
  claims.audience = audience_;
  claims.subject = std::move(*sub);
  claims.jti = std::move(*jti);
  claims.issued_at = *iat;
  claims.not_before = *nbf;
  claims.expires_at = *exp;
  return claims;
}

}  // namespace crm::iam
