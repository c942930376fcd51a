#pragma once
// The middleware chain every request goes through, ending in the matched route's handler.

#include "crm/platform/http.hpp"

#include <memory>
#include <vector>

namespace crm::platform {

class Pipeline final {
 public:
  void use(std::shared_ptr<Middleware> middleware) { middlewares_.push_back(std::move(middleware)); }
  /// Runs every middleware and then the handler (or raises the request's pending error).
  HttpResponse run(Request& request) const;

 private:
  static HttpResponse step(const void* self, std::size_t index, Request& request);
  std::vector<std::shared_ptr<Middleware>> middlewares_;
};

}  // namespace crm::platform
