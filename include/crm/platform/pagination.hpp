#pragma once
/// Cursor pagination shared by every collection: `?limit=` (default 25, max 200) and an
/// opaque, tamper-proof `?cursor=` (HMAC-signed; a forged cursor is a 400).

#include "crm/platform/http.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>

namespace crm::platform {

/// Sets the key cursors are signed with (the composition root derives it from the JWT secret).
void set_cursor_key(std::string key);
/// An opaque cursor for a position (e.g. {"id": "..."}), bound to a scope (tenant + route)
/// so a cursor from one collection or tenant is refused by another.
std::string encode_cursor(const boost::json::object& position, std::string_view scope);
/// The position of a cursor; throws 400 naming `cursor` when it was not made by this server
/// for this scope.
boost::json::object decode_cursor(std::string_view cursor, std::string_view scope);

struct PageRequest {
  int limit = 25;
  std::optional<boost::json::object> after;  // decoded cursor position
  bool include_total = false;
};

/// Reads limit, cursor and include_total; bad values are 400 naming the parameter.
PageRequest page_request(const Request& request, std::string_view scope);

/// The "page" member of a page: {"limit", "next_cursor", "total"?}.
boost::json::object page_meta(const PageRequest& page, const std::optional<boost::json::object>& next_position,
                              std::string_view scope, std::optional<std::int64_t> total = std::nullopt);
/// {"data": items, "page": page_meta(...)}.
boost::json::object page_response(boost::json::array items, const PageRequest& page,
                                  const std::optional<boost::json::object>& next_position, std::string_view scope,
                                  std::optional<std::int64_t> total = std::nullopt);

}  // namespace crm::platform
