#pragma once
// Password hashing (Argon2id, PHC strings, via libsodium) and the password policy.

#include <string>
#include <string_view>
#include <vector>

#include "crm/platform/error.hpp"

namespace crm::iam {

/// Argon2id with OWASP parameters (19 MiB memory, 2 iterations, 1 lane), as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$...`). Takes tens of milliseconds: call it on a worker.
std::string hash_password(std::string_view password);
/// Constant-time check of a password against a PHC string; false for a malformed string.
bool verify_password(std::string_view phc, std::string_view password);
/// True when the hash was made with weaker parameters than the current ones.
bool password_needs_rehash(std::string_view phc);
/// A hash of a random password: verifying against it costs what a real check costs, so an
/// unknown email takes as long as a wrong password.
const std::string& dummy_password_hash();

/// The policy of SPEC §4: 12–128 characters (Unicode code points; any characters), not in the
/// bundled list of common passwords (case-insensitive), not equal to the email
/// (case-insensitive). Returns the problems found for `field` (empty when acceptable).
std::vector<platform::FieldError> check_password_policy(std::string_view password,
                                                        std::string_view email,
                                                        const std::string& field = "password");

/// True when the password (compared case-insensitively) is in the bundled list of common
/// passwords or is one character repeated.
bool is_common_password(std::string_view password);

}  // namespace crm::iam
