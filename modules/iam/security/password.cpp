#include "password.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common_passwords.hpp"

namespace crm::iam {
namespace {

// OWASP's Argon2id recommendation: m=19 MiB, t=2, p=1 (libsodium always uses one lane).
constexpr unsigned long long kOpsLimit = 2;
constexpr std::size_t kMemLimit = std::size_t{19456} * 1024;
constexpr std::string_view kArgon2idPrefix = "$argon2id$";

constexpr std::size_t kMinCodePoints = 12;
constexpr std::size_t kMaxCodePoints = 128;

void ensure_sodium() {
  // sodium_init() is itself thread-safe; the static makes later calls free.
  static const int result = sodium_init();
  if (result < 0) throw std::runtime_error("libsodium could not be initialised");
}

// The PHC string as libsodium wants it: NUL-terminated in a buffer of crypto_pwhash_STRBYTES.
std::optional<std::array<char, crypto_pwhash_STRBYTES>> phc_buffer(std::string_view phc) {
  if (phc.size() >= crypto_pwhash_STRBYTES || phc.find('\0') != std::string_view::npos)
    return std::nullopt;
  std::array<char, crypto_pwhash_STRBYTES> buffer{};
  std::copy(phc.begin(), phc.end(), buffer.begin());
  return buffer;
}

// Strict UTF-8 decoding (no overlong forms, surrogates or values above U+10FFFF).
std::optional<std::vector<char32_t>> decode_utf8(std::string_view text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      cp = lead & 0x1F;
      min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      cp = lead & 0x0F;
      min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      cp = lead & 0x07;
      min = 0x10000;
    } else {
      return std::nullopt;
    }
    if (text.size() - i < length) return std::nullopt;
    for (std::size_t k = 1; k < length; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cont & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    out.push_back(cp);
    i += length;
  }
  return out;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_one_repeated_code_point(const std::vector<char32_t>& code_points) {
  return !code_points.empty() && std::all_of(code_points.begin(), code_points.end(),
                                             [&](char32_t c) { return c == code_points.front(); });
}

}  // namespace

std::string hash_password(std::string_view password) {
  ensure_sodium();
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), kOpsLimit, kMemLimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("password hashing failed (out of memory)");
  }
  return std::string(out.data());
}

bool verify_password(std::string_view phc, std::string_view password) {
  ensure_sodium();
  const auto buffer = phc_buffer(phc);
  if (!buffer) return false;
  return crypto_pwhash_str_verify(buffer->data(), password.data(), password.size()) == 0;
}

bool password_needs_rehash(std::string_view phc) {
  ensure_sodium();
  // Another algorithm (argon2i, scrypt) or an unreadable string: hash again on the next login.
  if (!phc.starts_with(kArgon2idPrefix)) return true;
  const auto buffer = phc_buffer(phc);
  if (!buffer) return true;
  return crypto_pwhash_str_needs_rehash(buffer->data(), kOpsLimit, kMemLimit) != 0;
}

const std::string& dummy_password_hash() {
  static const std::string hash = [] {
    ensure_sodium();
    constexpr std::size_t kRandomBytes = 32;
    std::array<unsigned char, kRandomBytes> random{};
    randombytes_buf(random.data(), random.size());
    std::array<char, kRandomBytes * 2 + 1> hex{};
    sodium_bin2hex(hex.data(), hex.size(), random.data(), random.size());
    return hash_password(std::string_view(hex.data(), kRandomBytes * 2));
  }();
  return hash;
}

bool is_common_password(std::string_view password) {
  if (is_in_common_password_list(ascii_lower(password))) return true;
  const auto code_points = decode_utf8(password);
  return code_points && is_one_repeated_code_point(*code_points);
}

std::vector<platform::FieldError> check_password_policy(std::string_view password,
                                                        std::string_view email,
                                                        const std::string& field) {
  std::vector<platform::FieldError> problems;
  const auto code_points = decode_utf8(password);
  if (!code_points) {
    problems.push_back({field, "invalid_encoding", "The password is not valid UTF-8 text."});
    return problems;
  }
  if (code_points->size() < kMinCodePoints) {
    problems.push_back({field, "too_short", "The password must be at least 12 characters long."});
  } else if (code_points->size() > kMaxCodePoints) {
    problems.push_back({field, "too_long", "The password must be at most 128 characters long."});
  }
  if (is_common_password(password)) {
    problems.push_back({field, "too_common",
                        "This password is too common and easy to guess; choose another one."});
  }
  if (!email.empty() && ascii_lower(password) == ascii_lower(email)) {
    problems.push_back(
        {field, "same_as_email", "The password must not be the same as the email address."});
  }
  return problems;
}

}  // namespace crm::iam
