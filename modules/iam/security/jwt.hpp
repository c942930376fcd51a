#pragma once
// Access tokens: JWT (RFC 7519) signed with HS256, or with EdDSA (Ed25519, RFC 8037) when a
// key is configured. The verifier pins the one algorithm the signer uses, checks the
// signature (in constant time), then issuer, audience, not-before and expiry; `alg: none`,
// any other algorithm, malformed tokens and tokens with a `crit` header are rejected.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace crm::iam {

struct AccessClaims {
  std::string issuer;           // iss
  std::string audience;         // aud
  std::string subject;          // sub: user id
  std::string tenant_id;        // tid
  std::string jti;              // token id (denylisted on logout)
  std::string session_id;       // sid: the refresh-token family the token was issued with
  std::int64_t issued_at = 0;   // iat, seconds
  std::int64_t not_before = 0;  // nbf, seconds
  std::int64_t expires_at = 0;  // exp, seconds
};

/// An Ed25519 key pair (libsodium layout: 64-byte secret key, 32-byte public key).
struct Ed25519Key {
  std::string secret_key;
  std::string public_key;
  /// The key id: base64url of the first 8 bytes of SHA-256 of the public key.
  std::string key_id;
};

/// The key pair of a 32-byte seed.
Ed25519Key ed25519_from_seed(std::string_view seed);
/// Reads a PEM private key (`openssl genpkey -algorithm ed25519`); throws
/// std::runtime_error naming the problem (missing file, not Ed25519, unreadable).
Ed25519Key load_ed25519_pem(const std::string& path);

class JwtSigner final {
 public:
  /// HS256. `secret` must be at least 32 bytes (throws std::invalid_argument otherwise).
  JwtSigner(std::string secret, std::string issuer, std::string audience);
  /// EdDSA with an Ed25519 key; HS256 tokens are then rejected.
  JwtSigner(Ed25519Key key, std::string issuer, std::string audience);

  /// "HS256" or "EdDSA".
  const char* algorithm() const noexcept { return key_ ? "EdDSA" : "HS256"; }
  /// The public key as a JWK (RFC 8037 OKP), for /auth/jwks; nullopt under HS256.
  std::optional<std::string> public_jwk() const;

  /// A token for `claims`; `iss` and `aud` are always this signer's own issuer and audience
  /// (claims.issuer and claims.audience are ignored).
  std::string sign(const AccessClaims& claims) const;
  /// The claims of a valid token at `now_seconds` (with `leeway_seconds` of clock skew
  /// allowed on nbf/exp), nullopt for anything else.
  /// A token that verified once is remembered (up to kRememberedTokens of them, keyed by the
  /// whole token): verifying it again checks only nbf and exp, skipping the signature and the
  /// JSON of its header and payload.
  std::optional<AccessClaims> verify(std::string_view token, std::int64_t now_seconds,
                                     std::int64_t leeway_seconds = 5) const;
  /// Tokens remembered now (for tests and metrics).
  std::size_t remembered_tokens() const;
  static constexpr std::size_t kRememberedTokens = 2048;

  const std::string& issuer() const noexcept { return issuer_; }
  const std::string& audience() const noexcept { return audience_; }

 private:
  struct Remembered;
  std::optional<AccessClaims> verify_token(std::string_view token, std::int64_t now_seconds,
                                           std::int64_t leeway_seconds) const;
  std::string signature_of(std::string_view signing_input) const;
  bool signature_matches(std::string_view signing_input, std::string_view signature) const;

  std::string secret_;
  std::optional<Ed25519Key> key_;
  std::string header_;  // the encoded header, fixed per algorithm
  std::string issuer_;
  std::string audience_;
  std::shared_ptr<Remembered> remembered_;
};

/// HMAC-SHA-256 of `data` under `key`, the raw 32 bytes (the HS256 signature before encoding).
std::string hmac_sha256(std::string_view key, std::string_view data);

/// Base64url without padding (RFC 4648 §5).
std::string base64url_encode(std::string_view data);
/// Nullopt when the text is not canonical unpadded base64url.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace crm::iam
