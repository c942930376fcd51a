#include "idempotency.hpp"

#include "crm/platform/db.hpp"
#include "crm/platform/log.hpp"
#include "periodic_task.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <openssl/evp.h>
#include <soci/soci.h>

namespace crm::platform {

namespace http = boost::beast::http;
namespace bj = boost::json;

namespace {

constexpr const char* kHeader = "Idempotency-Key";
// Response headers a replay repeats (besides status and body).
constexpr http::field kReplayed[] = {http::field::content_type, http::field::location, http::field::etag};

struct Scope {
  std::string tenant_id;  // empty when unauthenticated
  std::string principal;  // user:<id>, api_key:<id> or ip:<address>
  std::string key;
};

Scope scope_of(const Request& request, std::string key) {
  const auto& ctx = request.context();
  const Principal& p = ctx.principal;
  if (!p.authenticated) return Scope{"", "ip:" + ctx.remote_ip, std::move(key)};
  return Scope{p.tenant_id, !p.user_id.empty() ? "user:" + p.user_id : "api_key:" + p.api_key_id, std::move(key)};
}

struct Stored {
  std::string request_hash;
  std::string state;
  int status = 0;
  std::string headers;
  std::string body;
  long long created_at = 0;
  long long expires_at = 0;
};

constexpr const char* kWhere = " WHERE tenant_id = :t AND principal = :p AND idempotency_key = :k";

bool try_claim(Database& db, const Scope& s, const std::string& hash, TimestampMs now) {
  auto lease = db.acquire();
  long long created = now;
  long long expires = now + IdempotencyMiddleware::kRetentionMs;
  soci::statement st = (lease->prepare << "INSERT INTO platform_idempotency_keys"
                                          " (tenant_id, principal, idempotency_key, request_hash, state, created_at,"
                                          " expires_at) VALUES (:t, :p, :k, :h, 'in_progress', :c, :e)"
                                          " ON CONFLICT DO NOTHING",
                        soci::use(s.tenant_id), soci::use(s.principal), soci::use(s.key), soci::use(hash),
                        soci::use(created), soci::use(expires));
  st.execute(true);
  return st.get_affected_rows() == 1;
}

std::optional<Stored> load(Database& db, const Scope& s) {
  auto lease = db.acquire();
  Stored r;
  *lease << std::string("SELECT request_hash, state, COALESCE(response_status, 0), COALESCE(response_headers, ''),"
                        " COALESCE(response_body, ''), created_at, expires_at FROM platform_idempotency_keys") +
                kWhere,
      soci::use(s.tenant_id), soci::use(s.principal), soci::use(s.key), soci::into(r.request_hash),
      soci::into(r.state), soci::into(r.status), soci::into(r.headers), soci::into(r.body), soci::into(r.created_at),
      soci::into(r.expires_at);
  if (!lease->got_data()) return std::nullopt;
  return r;
}

// Deletes the key; with `created_at`, only that claim (not a newer one that took its place).
void release(Database& db, const Scope& s, std::optional<long long> created_at = std::nullopt) {
  auto lease = db.acquire();
  if (created_at) {
    long long c = *created_at;
    *lease << std::string("DELETE FROM platform_idempotency_keys") + kWhere + " AND created_at = :c",
        soci::use(s.tenant_id), soci::use(s.principal), soci::use(s.key), soci::use(c);
  } else {
    *lease << std::string("DELETE FROM platform_idempotency_keys") + kWhere + " AND state = 'in_progress'",
        soci::use(s.tenant_id), soci::use(s.principal), soci::use(s.key);
  }
}

void store(Database& db, const Scope& s, const HttpResponse& response) {
  bj::object headers;
  for (auto field : kReplayed) {
    if (auto it = response.find(field); it != response.end()) headers[std::string(http::to_string(field))] = it->value();
  }
  std::string headers_text = bj::serialize(headers);
  int status = static_cast<int>(response.result_int());
  auto lease = db.acquire();
  *lease << std::string("UPDATE platform_idempotency_keys SET state = 'completed', response_status = :s,"
                        " response_headers = :h, response_body = :b") +
                kWhere,
      soci::use(status), soci::use(headers_text), soci::use(response.body()), soci::use(s.tenant_id),
      soci::use(s.principal), soci::use(s.key);
}

HttpResponse replay(const Stored& stored) {
  HttpResponse res{static_cast<http::status>(stored.status), 11};
  if (!stored.headers.empty()) {
    bj::value headers = bj::parse(stored.headers);
    for (const auto& [name, value] : headers.as_object()) res.set(name, value.as_string());
  }
  res.set("Idempotent-Replayed", "true");
  res.body() = stored.body;
  res.prepare_payload();
  return res;
}

}  // namespace

std::optional<std::string> idempotency_key_problem(std::string_view key) {
  if (key.empty()) return "must not be empty";
  if (key.size() > 255) return "must be at most 255 characters";
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) return "must be printable ASCII";
  }
  return std::nullopt;
}

std::string idempotency_request_hash(std::string_view method, std::string_view target, std::string_view body) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) throw std::bad_alloc();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // Lengths first, so "a" + "bc" and "ab" + "c" hash differently.
  std::string framing = std::to_string(method.size()) + ':' + std::to_string(target.size()) + ':' +
                        std::to_string(body.size()) + '\n';
  bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, framing.data(), framing.size()) == 1 &&
            EVP_DigestUpdate(ctx, method.data(), method.size()) == 1 &&
            EVP_DigestUpdate(ctx, target.data(), target.size()) == 1 &&
            EVP_DigestUpdate(ctx, body.data(), body.size()) == 1 && EVP_DigestFinal_ex(ctx, digest, &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

IdempotencyMiddleware::IdempotencyMiddleware(Database& db, std::chrono::milliseconds stale_after)
    : db_(db), stale_after_(stale_after) {}

IdempotencyMiddleware::~IdempotencyMiddleware() { stop(); }

HttpResponse IdempotencyMiddleware::handle(Request& request, const Next& next) {
  if (request.method() != HttpVerb::post || request.pending_error()) return next(request);
  auto field = request.raw().find(kHeader);
  if (field == request.raw().end()) return next(request);
  std::string_view key(field->value().data(), field->value().size());
  if (auto problem = idempotency_key_problem(key)) {
    throw Error::bad_request("The Idempotency-Key header " + *problem + ".",
                             {FieldError{kHeader, "invalid", "Must be 1 to 255 printable ASCII characters."}});
  }
  Scope scope = scope_of(request, std::string(key));
  std::string_view target(request.raw().target().data(), request.raw().target().size());
  std::string hash = idempotency_request_hash("POST", target, request.body());

  bool claimed = false;
  for (int attempt = 0; attempt < 3 && !claimed; ++attempt) {
    TimestampMs now = now_ms();
    if (try_claim(db_, scope, hash, now)) {
      claimed = true;
      break;
    }
    auto stored = load(db_, scope);
    if (!stored) continue;  // released meanwhile: claim again
    bool abandoned = stored->state == "in_progress" && stored->created_at < now - stale_after_.count();
    if (stored->expires_at <= now || abandoned) {
      release(db_, scope, stored->created_at);
      continue;
    }
    if (stored->request_hash != hash) {
      throw Error(ErrorKind::validation, "idempotency_key_reused",
                  "This Idempotency-Key was used for a different request.",
                  {FieldError{kHeader, "reused", "Use a new key for a different request."}});
    }
    if (stored->state != "completed") break;
    return replay(*stored);
  }
  if (!claimed) {
    throw Error::conflict("idempotency_key_in_use", "A request with this Idempotency-Key is still being processed.")
        .with_header("Retry-After", "1");
  }

  HttpResponse response;
  try {
    response = next(request);
  } catch (...) {
    try {
      release(db_, scope);
    } catch (const std::exception& e) {
      log_warn("idempotency key release failed", {{"error", e.what()}});
    }
    throw;
  }
  try {
    if (response.result_int() >= 500) {
      release(db_, scope);
    } else {
      store(db_, scope, response);
    }
  } catch (const std::exception& e) {
    // The work is done; the client gets its answer. A retry may run it again.
    log_error("idempotency key could not be stored", {{"error", e.what()}});
    try {
      release(db_, scope);
    } catch (const std::exception&) {
    }
  }
  return response;
}

std::int64_t IdempotencyMiddleware::purge(TimestampMs now) {
  auto lease = db_.acquire();
  long long cutoff = now;
  soci::statement st =
      (lease->prepare << "DELETE FROM platform_idempotency_keys WHERE expires_at <= :n", soci::use(cutoff));
  st.execute(true);
  return st.get_affected_rows();
}

void IdempotencyMiddleware::start(std::chrono::milliseconds interval) {
  if (task_) return;
  auto run = [this] {
    try {
      if (auto n = purge(now_ms()); n > 0) log_info("expired idempotency keys purged", {{"count", n}});
    } catch (const std::exception& e) {
      log_warn("idempotency key purge failed", {{"error", e.what()}});
    }
  };
  task_ = std::make_unique<PeriodicTask>(interval, run);
  task_->start();
}

void IdempotencyMiddleware::stop() {
  if (!task_) return;
  task_->stop();
  task_.reset();
}

}  // namespace crm::platform
