#include "crm/platform/pagination.hpp"

#include "crm/platform/json.hpp"

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <mutex>

namespace crm::platform {

namespace {

std::mutex g_key_mutex;
std::string g_key = "batik-crm-cursor-key-unset-000000";

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  while (i + 2 < in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> unb64url(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

std::string mac(std::string_view data) {
  std::string key;
  {
    std::lock_guard lock(g_key_mutex);
    key = g_key;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), 16);  // 128 bits is plenty for a cursor
}

[[noreturn]] void forged() { throw Error::bad_parameter("cursor", "The cursor is not valid for this collection."); }

}  // namespace

void set_cursor_key(std::string key) {
  std::lock_guard lock(g_key_mutex);
  g_key = std::move(key);
}

std::string encode_cursor(const boost::json::object& position, std::string_view scope) {
  std::string body = json::dump(position);
  std::string tag = mac(std::string(scope) + '\n' + body);
  return b64url(body) + "." + b64url(tag);
}

boost::json::object decode_cursor(std::string_view cursor, std::string_view scope) {
  if (cursor.size() > 2048) forged();
  auto dot = cursor.find('.');
  if (dot == std::string_view::npos) forged();
  auto body = unb64url(cursor.substr(0, dot));
  auto tag = unb64url(cursor.substr(dot + 1));
  if (!body || !tag || tag->size() != 16) forged();
  std::string expected = mac(std::string(scope) + '\n' + *body);
  if (CRYPTO_memcmp(expected.data(), tag->data(), 16) != 0) forged();
  boost::system::error_code ec;
  auto v = boost::json::parse(*body, ec);
  if (ec || !v.is_object()) forged();
  return v.get_object();
}

PageRequest page_request(const Request& request, std::string_view scope) {
  PageRequest page;
  if (auto limit = request.query("limit")) {
    int n = 0;
    auto [ptr, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (ec != std::errc() || ptr != limit->data() + limit->size() || n < 1 || n > 200) {
      throw Error::bad_parameter("limit", "Must be an integer from 1 to 200.");
    }
    page.limit = n;
  }
  if (auto cursor = request.query("cursor"); cursor && !cursor->empty()) page.after = decode_cursor(*cursor, scope);
  if (auto total = request.query("include_total")) {
    if (*total == "true") page.include_total = true;
    else if (*total != "false") throw Error::bad_parameter("include_total", "Must be true or false.");
  }
  return page;
}

boost::json::object page_meta(const PageRequest& page, const std::optional<boost::json::object>& next_position,
                              std::string_view scope, std::optional<std::int64_t> total) {
  boost::json::object meta{{"limit", page.limit},
                           {"next_cursor", next_position ? boost::json::value(encode_cursor(*next_position, scope))
                                                         : boost::json::value(nullptr)}};
  if (page.include_total && total) meta["total"] = *total;
  return meta;
}

boost::json::object page_response(boost::json::array items, const PageRequest& page,
                                  const std::optional<boost::json::object>& next_position, std::string_view scope,
                                  std::optional<std::int64_t> total) {
  return boost::json::object{{"data", std::move(items)}, {"page", page_meta(page, next_position, scope, total)}};
}

}  // namespace crm::platform
