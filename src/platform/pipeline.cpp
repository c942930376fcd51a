#include "pipeline.hpp"

#include "crm/platform/router.hpp"

namespace crm::platform {

HttpResponse Pipeline::run(Request& request) const { return step(this, 0, request); }

HttpResponse Pipeline::step(const void* self, std::size_t index, Request& request) {
  const auto* pipeline = static_cast<const Pipeline*>(self);
  if (index < pipeline->middlewares_.size()) {
    return pipeline->middlewares_[index]->handle(request, Next(self, index + 1, &Pipeline::step));
  }
  if (request.pending_error()) throw *request.pending_error();
  if (!request.route()) throw Error::not_found("No such endpoint.");
  return request.route()->handler(request);
}

}  // namespace crm::platform
