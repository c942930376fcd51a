#include "jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <cstdio>
#include <memory>

#include <array>
#include <boost/json.hpp>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
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

constexpr std::size_t kEd25519SignatureBytes = crypto_sign_ed25519_BYTES;

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

struct JwtSigner::Remembered {
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::mutex mutex;
  std::unordered_map<std::string, AccessClaims, Hash, std::equal_to<>> tokens;
};

namespace {

bool in_time(const AccessClaims& c, std::int64_t now_seconds, std::int64_t leeway_seconds) {
  return c.not_before <= now_seconds + leeway_seconds && c.expires_at > now_seconds - leeway_seconds;
}

}  // namespace

JwtSigner::JwtSigner(std::string secret, std::string issuer, std::string audience)
    : secret_(std::move(secret)),
      header_(base64url_encode(R"({"alg":"HS256","typ":"JWT"})")),
      issuer_(std::move(issuer)),
      audience_(std::move(audience)),
      remembered_(std::make_shared<Remembered>()) {
  if (secret_.size() < kMinSecretBytes) {
    throw std::invalid_argument("the JWT secret must be at least 32 bytes long");
  }
}

JwtSigner::JwtSigner(Ed25519Key key, std::string issuer, std::string audience)
    : key_(std::move(key)),
      issuer_(std::move(issuer)),
      audience_(std::move(audience)),
      remembered_(std::make_shared<Remembered>()) {
  if (key_->secret_key.size() != crypto_sign_ed25519_SECRETKEYBYTES ||
      key_->public_key.size() != crypto_sign_ed25519_PUBLICKEYBYTES) {
    throw std::invalid_argument("an Ed25519 key pair has a 64-byte secret key and a 32-byte public key");
  }
  header_ = base64url_encode(bj::serialize(bj::object{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", key_->key_id}}));
}

std::optional<std::string> JwtSigner::public_jwk() const {
  if (!key_) return std::nullopt;
  return bj::serialize(bj::object{{"kty", "OKP"}, {"crv", "Ed25519"}, {"use", "sig"}, {"alg", "EdDSA"},
                                  {"kid", key_->key_id}, {"x", base64url_encode(key_->public_key)}});
}

std::string JwtSigner::signature_of(std::string_view input) const {
  if (!key_) return hmac_sha256(secret_, input);
  unsigned char sig[kEd25519SignatureBytes];
  crypto_sign_ed25519_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                               reinterpret_cast<const unsigned char*>(key_->secret_key.data()));
  return std::string(reinterpret_cast<const char*>(sig), sizeof sig);
}

bool JwtSigner::signature_matches(std::string_view input, std::string_view signature) const {
  if (!key_) {
    if (signature.size() != kSignatureBytes) return false;
    const std::string expected = hmac_sha256(secret_, input);
    return CRYPTO_memcmp(expected.data(), signature.data(), kSignatureBytes) == 0;
  }
  if (signature.size() != kEd25519SignatureBytes) return false;
  return crypto_sign_ed25519_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                             reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                                             reinterpret_cast<const unsigned char*>(key_->public_key.data())) == 0;
}

Ed25519Key ed25519_from_seed(std::string_view seed) {
  if (seed.size() != crypto_sign_ed25519_SEEDBYTES) throw std::invalid_argument("an Ed25519 seed is 32 bytes");
  unsigned char pk[crypto_sign_ed25519_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_ed25519_SECRETKEYBYTES];
  crypto_sign_ed25519_seed_keypair(pk, sk, reinterpret_cast<const unsigned char*>(seed.data()));
  Ed25519Key key;
  key.secret_key.assign(reinterpret_cast<const char*>(sk), sizeof sk);
  key.public_key.assign(reinterpret_cast<const char*>(pk), sizeof pk);
  sodium_memzero(sk, sizeof sk);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, pk, sizeof pk);
  key.key_id = base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), 8));
  return key;
}

Ed25519Key load_ed25519_pem(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "r"), &std::fclose);
  if (!file) throw std::runtime_error("cannot read " + path);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pkey(PEM_read_PrivateKey(file.get(), nullptr, nullptr, nullptr),
                                                       &EVP_PKEY_free);
  if (!pkey) throw std::runtime_error(path + " is not a PEM private key");
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) throw std::runtime_error(path + " is not an Ed25519 key");
  unsigned char seed[crypto_sign_ed25519_SEEDBYTES];
  std::size_t length = sizeof seed;
  if (EVP_PKEY_get_raw_private_key(pkey.get(), seed, &length) != 1 || length != sizeof seed) {
    throw std::runtime_error("cannot read the Ed25519 key in " + path);
  }
  auto key = ed25519_from_seed(std::string_view(reinterpret_cast<const char*>(seed), sizeof seed));
  sodium_memzero(seed, sizeof seed);
  return key;
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

  std::string token = header_;
  token += '.';
  token += base64url_encode(bj::serialize(payload));
  const std::string signature = signature_of(token);
  token += '.';
  token += base64url_encode(signature);
  return token;
}

std::optional<AccessClaims> JwtSigner::verify(std::string_view token, std::int64_t now_seconds,
                                              std::int64_t leeway_seconds) const {
  if (token.size() > kMaxTokenBytes) return std::nullopt;
  {
    std::lock_guard lock(remembered_->mutex);
    if (auto it = remembered_->tokens.find(token); it != remembered_->tokens.end()) {
      if (!in_time(it->second, now_seconds, leeway_seconds)) return std::nullopt;
      return it->second;
    }
  }
  auto claims = verify_token(token, now_seconds, leeway_seconds);
  if (claims) {
    std::lock_guard lock(remembered_->mutex);
    auto& tokens = remembered_->tokens;
    if (tokens.size() >= kRememberedTokens) {
      // Full: expired tokens go first (they can never verify again).
      std::erase_if(tokens, [&](const auto& kv) { return kv.second.expires_at <= now_seconds - leeway_seconds; });
    }
    // Still full of live tokens: one goes, from a bucket picked by the new token's hash, so
    // that the ones remembered keep changing (a remembered token that goes is verified in
    // full when it comes back).
    for (std::size_t b = Remembered::Hash{}(token), i = 0; tokens.size() >= kRememberedTokens && i < tokens.bucket_count();
         ++i) {
      std::size_t bucket = (b + i) % tokens.bucket_count();
      if (tokens.bucket_size(bucket) == 0) continue;
      std::string key = tokens.begin(bucket)->first;
      tokens.erase(key);
    }
    tokens.emplace(std::string(token), *claims);
  }
  return claims;
}

std::size_t JwtSigner::remembered_tokens() const {
  std::lock_guard lock(remembered_->mutex);
  return remembered_->tokens.size();
}

std::optional<AccessClaims> JwtSigner::verify_token(std::string_view token, std::int64_t now_seconds,
                                                    std::int64_t leeway_seconds) const {
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
  if (alg == nullptr || !alg->is_string() || alg->get_string() != algorithm()) return std::nullopt;
  if (header->contains("crit")) return std::nullopt;

  // The signature is checked before anything in the payload is looked at.
  const auto signature = base64url_decode(signature_part);
  if (!signature || !signature_matches(token.substr(0, second_dot), *signature)) return std::nullopt;

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
  if (!in_time(claims, now_seconds, leeway_seconds)) return std::nullopt;
  return claims;
}

}  // namespace crm::iam
