#pragma once
/// Explicit routes with `{param}` segments and method matching.

#include "crm/platform/http.hpp"

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crm::platform {

class Router final {
 public:
  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  /// Registers a route; a duplicate (method, pattern) or a malformed pattern throws.
  void add(HttpVerb method, std::string pattern, Handler handler, RouteOptions options = {});
  void get(std::string p, Handler h, RouteOptions o = {}) { add(HttpVerb::get, std::move(p), std::move(h), std::move(o)); }
  void post(std::string p, Handler h, RouteOptions o = {}) { add(HttpVerb::post, std::move(p), std::move(h), std::move(o)); }
  void put(std::string p, Handler h, RouteOptions o = {}) { add(HttpVerb::put, std::move(p), std::move(h), std::move(o)); }
  void patch(std::string p, Handler h, RouteOptions o = {}) { add(HttpVerb::patch, std::move(p), std::move(h), std::move(o)); }
  void del(std::string p, Handler h, RouteOptions o = {}) { add(HttpVerb::delete_, std::move(p), std::move(h), std::move(o)); }

  struct Match {
    enum class Status { found, not_found, method_not_allowed } status = Status::not_found;
    const Route* route = nullptr;
    std::vector<std::pair<std::string, std::string>> params;
    std::string allow;  // for 405: "GET, POST"
  };

  /// Finds the route for a method and a path (no query string). Literal segments win over
  /// parameters; HEAD matches GET routes.
  Match match(HttpVerb method, std::string_view path) const;

  /// Every route in registration order.
  const std::deque<Route>& routes() const noexcept { return routes_; }

  /// Merges OpenAPI operation fields (requestBody, responses, parameters...) into a registered
  /// route's description; throws when the route does not exist.
  void describe(HttpVerb method, std::string_view pattern, const boost::json::object& operation);
  /// Named schemas for the OpenAPI document's components (`#/components/schemas/<name>`).
  void add_schema(const std::string& name, boost::json::object schema);
  const boost::json::object& schemas() const noexcept { return schemas_; }

 private:
  struct Node;
  std::deque<Route> routes_;
  std::unique_ptr<Node> root_;
  boost::json::object schemas_;
};

}  // namespace crm::platform
