#include "secrets.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <climits>
#include <memory>
#include <stdexcept>

#include "jwt.hpp"

namespace crm::iam {
namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherContext new_cipher_context() {
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
  return ctx;
}

std::array<unsigned char, EVP_MAX_MD_SIZE> sha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != kKeyBytes) {
    throw std::runtime_error("SHA-256 failed");
  }
  return digest;
}

// The AES key derived from the key material; wiped when it goes out of scope.
class DerivedKey final {
 public:
  explicit DerivedKey(std::string_view key_material) : bytes_(sha256(key_material)) {}
  ~DerivedKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }
  DerivedKey(const DerivedKey&) = delete;
  DerivedKey& operator=(const DerivedKey&) = delete;
  const unsigned char* data() const noexcept { return bytes_.data(); }

 private:
  std::array<unsigned char, EVP_MAX_MD_SIZE> bytes_;
};

const unsigned char* bytes(std::string_view s) noexcept {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) noexcept { return reinterpret_cast<unsigned char*>(s.data()); }

}  // namespace

std::string random_token(std::size_t bytes_count) {
  if (bytes_count > static_cast<std::size_t>(INT_MAX))
    throw std::invalid_argument("random_token: too many bytes");
  std::string raw(bytes_count, '\0');
  if (bytes_count > 0 && RAND_bytes(bytes(raw), static_cast<int>(bytes_count)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return base64url_encode(raw);
}

std::string sha256_hex(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto digest = sha256(data);
  std::string out;
  out.reserve(kKeyBytes * 2);
  for (std::size_t i = 0; i < kKeyBytes; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0F];
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // The length is not secret (tokens have a fixed length); only the contents are compared in
  // constant time.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string seal(std::string_view key_material, std::string_view plaintext) {
  if (plaintext.size() > static_cast<std::size_t>(INT_MAX) - kNonceBytes - kTagBytes) {
    throw std::invalid_argument("seal: plaintext too large");
  }
  const DerivedKey key(key_material);
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  unsigned char* nonce = bytes(out);
  unsigned char* ciphertext = nonce + kNonceBytes;
  unsigned char* tag = ciphertext + plaintext.size();
  if (RAND_bytes(nonce, static_cast<int>(kNonceBytes)) != 1)
    throw std::runtime_error("RAND_bytes failed");

  auto ctx = new_cipher_context();
  int length = 0;
  int final_length = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ciphertext, &length, bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ciphertext + length, &final_length) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), tag) != 1) {
    throw std::runtime_error("AES-256-GCM encryption failed");
  }
  return base64url_encode(out);
}

std::optional<std::string> unseal(std::string_view key_material, std::string_view sealed) {
  auto blob = base64url_decode(sealed);
  if (!blob || blob->size() < kNonceBytes + kTagBytes ||
      blob->size() > static_cast<std::size_t>(INT_MAX)) {
    return std::nullopt;
  }
  const DerivedKey key(key_material);
  const std::size_t text_size = blob->size() - kNonceBytes - kTagBytes;
  unsigned char* nonce = bytes(*blob);
  unsigned char* ciphertext = nonce + kNonceBytes;
  unsigned char* tag = ciphertext + text_size;

  std::string plaintext(text_size, '\0');
  auto ctx = new_cipher_context();
  int length = 0;
  int final_length = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), bytes(plaintext), &length, ciphertext,
                        static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), bytes(plaintext) + length, &final_length) <= 0) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return std::nullopt;
  }
  return plaintext;
}

}  // namespace crm::iam
