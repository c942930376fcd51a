#pragma once
// Random tokens, hashes and sealed blobs for refresh, verification, invitation and reset
// tokens (only hashes are stored).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace crm::iam {

/// `bytes` random bytes from the OS CSPRNG, base64url-encoded (no padding).
std::string random_token(std::size_t bytes = 32);
/// SHA-256 as lower-case hex.
std::string sha256_hex(std::string_view data);
/// Constant-time equality.
bool constant_time_equal(std::string_view a, std::string_view b);
/// AES-256-GCM with a key derived (SHA-256) from `key_material`; output is base64url of
/// nonce || ciphertext || tag. Used to keep a rotated refresh pair readable only by whoever
/// holds the previous refresh token (the retry grace period).
std::string seal(std::string_view key_material, std::string_view plaintext);
/// Nullopt when the blob was not sealed with this key material or was tampered with.
std::optional<std::string> unseal(std::string_view key_material, std::string_view sealed);

}  // namespace crm::iam
