#pragma once
/// HTTP types shared by the server, middleware and module handlers.

#include "crm/platform/error.hpp"
#include "crm/platform/request_context.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crm::platform {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using HttpVerb = boost::beast::http::verb;

struct Route;

/// The body of a response too large to hold in memory (exports), produced piece by piece:
/// each call returns the next piece, or nullopt at the end. It runs on a worker thread, may
/// block on the database, and may keep state (a cursor, a lease) between calls. The server
/// sends the pieces with chunked transfer encoding as they come; a producer that throws
/// after the first piece ends the connection without the final chunk, so the client sees an
/// incomplete transfer rather than a short file that looks whole.
using BodyStream = std::function<std::optional<std::string>()>;

/// One incoming request as handlers see it.
class Request final {
 public:
  explicit Request(HttpRequest raw);

  HttpRequest& raw() noexcept { return raw_; }
  const HttpRequest& raw() const noexcept { return raw_; }
  HttpVerb method() const noexcept { return raw_.method(); }
  /// The path without the query string, percent-decoding not applied.
  std::string_view path() const noexcept { return path_; }
  std::string_view query_string() const noexcept { return query_; }
  /// A decoded query parameter; nullopt when absent.
  std::optional<std::string> query(std::string_view name) const;
  /// Every decoded query parameter in order.
  const std::vector<std::pair<std::string, std::string>>& query_params() const;
  std::string_view header(std::string_view name) const;
  const std::string& body() const noexcept { return raw_.body(); }
  /// The body parsed as JSON; malformed JSON is a 400 problem.
  boost::json::value json() const;

  /// A `{name}` segment of the matched route.
  const std::string& path_param(std::string_view name) const;
  void set_path_params(std::vector<std::pair<std::string, std::string>> params) {
    path_params_ = std::move(params);
  }

  RequestContext& context() noexcept { return context_; }
  const RequestContext& context() const noexcept { return context_; }

  /// The matched route (null when none matched).
  const Route* route() const noexcept { return route_; }
  void set_route(const Route* route) noexcept { route_ = route; }
  /// The route pattern for logs and metrics ("unmatched" when none).
  std::string_view route_pattern() const noexcept;

  /// An error detected before the handler chain ran (404, 405, 413...); raised inside the
  /// chain so every middleware still applies to its response.
  const std::optional<Error>& pending_error() const noexcept { return pending_error_; }
  void set_pending_error(Error e) { pending_error_.emplace(std::move(e)); }

  std::chrono::steady_clock::time_point started_at() const noexcept { return started_at_; }

  /// Set by streamed_response(); taken by the server after the middleware chain returns.
  void set_body_stream(BodyStream stream) { body_stream_ = std::move(stream); }
  BodyStream take_body_stream() { return std::exchange(body_stream_, nullptr); }

 private:
  HttpRequest raw_;
  std::string_view path_;
  std::string_view query_;
  mutable std::optional<std::vector<std::pair<std::string, std::string>>> query_params_;
  std::vector<std::pair<std::string, std::string>> path_params_;
  RequestContext context_;
  const Route* route_ = nullptr;
  std::optional<Error> pending_error_;
  std::chrono::steady_clock::time_point started_at_;
  BodyStream body_stream_;
};

/// A JSON response with the given status.
HttpResponse json_response(unsigned status, const boost::json::value& body);
/// A 201 with the resource and a `Location` header.
HttpResponse created_response(const boost::json::value& body, std::string_view location);
/// A 204.
HttpResponse no_content_response();
/// A text response (metrics, plain health).
HttpResponse text_response(unsigned status, std::string body, std::string_view content_type);
/// A response whose body is streamed from `stream` (see BodyStream); middleware sees and may
/// add headers to the header-only response this returns.
HttpResponse streamed_response(Request& request, unsigned status, std::string_view content_type, BodyStream stream);
/// The RFC 9457 document of an error.
boost::json::object problem_document(const Error& error, std::string_view request_id);
HttpResponse problem_response(const Error& error, std::string_view request_id);

using Handler = std::function<HttpResponse(Request&)>;

/// The rest of the chain, as seen by one middleware.
class Next final {
 public:
  using Fn = HttpResponse (*)(const void* chain, std::size_t index, Request& request);
  Next(const void* chain, std::size_t index, Fn fn) : chain_(chain), index_(index), fn_(fn) {}
  HttpResponse operator()(Request& request) const { return fn_(chain_, index_, request); }

 private:
  const void* chain_;
  std::size_t index_;
  Fn fn_;
};

/// Cross-cutting request processing: `handle(request, next) -> response`.
class Middleware {
 public:
  virtual ~Middleware() = default;
  virtual HttpResponse handle(Request& request, const Next& next) = 0;
};

/// How a route is served and documented.
struct RouteOptions {
  /// Cheap, non-blocking handlers run on the I/O thread instead of the worker pool.
  bool run_inline = false;
  /// Maximum body in bytes; 0 takes the server default.
  std::int64_t body_limit = 0;
  /// Accepted request content types when a body is present.
  std::vector<std::string> content_types = {"application/json"};
  /// OpenAPI operation object (summary, requestBody, responses...).
  boost::json::object openapi;
  /// OpenAPI tag (usually the module name).
  std::string tag;
  /// Served without authentication (health, login, register...). Other routes need a valid
  /// token: the authentication middleware answers 401 before the handler runs.
  bool public_route = false;
  /// Rate-limit policy of the route: "default", or a stricter one such as "auth" or "register".
  std::string rate_limit = "default";
};

/// Where a middleware sits in the chain: after the platform's own (log, headers, CORS, error
/// mapping, content type), ordered by stage.
enum class MiddlewareStage : int {
  before_auth = 100,   // per-IP rate limits
  authenticate = 200,  // resolves the principal (IAM)
  after_auth = 300,    // per-user/tenant rate limits, idempotency
};

struct StagedMiddleware {
  MiddlewareStage stage;
  std::shared_ptr<Middleware> middleware;
};

struct Route {
  HttpVerb method;
  std::string pattern;
  Handler handler;
  RouteOptions options;
};

}  // namespace crm::platform
