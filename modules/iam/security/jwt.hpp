#pragma once
// Access tokens: JWT (RFC 7519) signed with HS256. The verifier pins the algorithm, checks the
// signature in constant time, then issuer, audience, not-before and expiry; `alg: none`,
// other algorithms, malformed tokens and tokens with a `crit` header are rejected.

#include <cstdint>
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

class JwtSigner final {
 public:
  /// `secret` must be at least 32 bytes (throws std::invalid_argument otherwise).
  JwtSigner(std::string secret, std::string issuer, std::string audience);

  /// A token for `claims`; `iss` and `aud` are always this signer's own issuer and audience
  /// (claims.issuer and claims.audience are ignored).
  std::string sign(const AccessClaims& claims) const;
  /// The claims of a valid token at `now_seconds` (with `leeway_seconds` of clock skew
  /// allowed on nbf/exp), nullopt for anything else.
  std::optional<AccessClaims> verify(std::string_view token, std::int64_t now_seconds,
                                     std::int64_t leeway_seconds = 5) const;

  const std::string& issuer() const noexcept { return issuer_; }
  const std::string& audience() const noexcept { return audience_; }

 private:
  std::string secret_;
  std::string issuer_;
  std::string audience_;
};

/// HMAC-SHA-256 of `data` under `key`, the raw 32 bytes (the HS256 signature before encoding).
std::string hmac_sha256(std::string_view key, std::string_view data);

/// Base64url without padding (RFC 4648 §5).
std::string base64url_encode(std::string_view data);
/// Nullopt when the text is not canonical unpadded base64url.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace crm::iam
