#pragma once
/// Small builders for the OpenAPI 3.1 fragments modules pass to Router::describe and
/// Router::add_schema, so every module writes its schemas the same way.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

namespace crm::platform::openapi {

namespace bj = boost::json;

/// `{"$ref": "#/components/schemas/<name>"}`.
inline bj::object ref(const char* name) { return {{"$ref", std::string("#/components/schemas/") + name}}; }
/// A string, with an optional format (email, uuid, date-time...).
inline bj::object str(const char* format = nullptr) {
  bj::object o{{"type", "string"}};
  if (format) o["format"] = format;
  return o;
}
inline bj::object enum_of(std::initializer_list<const char*> values) {
  bj::array a;
  for (const char* v : values) a.emplace_back(v);
  return {{"type", "string"}, {"enum", a}};
}
inline bj::object boolean() { return {{"type", "boolean"}}; }
inline bj::object integer() { return {{"type", "integer"}}; }
inline bj::object any_object() { return {{"type", "object"}}; }
inline bj::object array_of(bj::object items) { return {{"type", "array"}, {"items", std::move(items)}}; }
inline bj::object nullable(bj::object schema) {
  return {{"oneOf", bj::array{std::move(schema), bj::object{{"type", "null"}}}}};
}
/// An object schema; `closed` forbids other properties (the API refuses unknown fields).
inline bj::object object(std::initializer_list<std::pair<const char*, bj::object>> props,
                         std::initializer_list<const char*> required, bool closed = true) {
  bj::object properties;
  for (const auto& [k, v] : props) properties[k] = v;
  bj::array req;
  for (const char* r : required) req.emplace_back(r);
  bj::object o{{"type", "object"}, {"properties", properties}};
  if (!req.empty()) o["required"] = req;
  if (closed) o["additionalProperties"] = false;
  return o;
}
/// A required JSON request body.
inline bj::object body(bj::object schema) {
  return {{"required", true}, {"content", bj::object{{"application/json", bj::object{{"schema", std::move(schema)}}}}}};
}
/// A response, with a JSON schema when it has a body.
inline bj::object response(const char* description, std::optional<bj::object> schema = std::nullopt) {
  bj::object r{{"description", description}};
  if (schema) r["content"] = bj::object{{"application/json", bj::object{{"schema", std::move(*schema)}}}};
  return r;
}
/// The collection answer of SPEC section 3: {"data": [...], "page": {...}}.
inline bj::object page_of(const char* item) {
  return object({{"data", array_of(ref(item))},
                 {"page", object({{"limit", integer()}, {"next_cursor", nullable(str())}, {"total", integer()}},
                                 {"limit", "next_cursor"})}},
                {"data", "page"});
}
/// An optional query parameter.
inline bj::object query(const char* name, const char* description, bj::object schema = str()) {
  return {{"name", name}, {"in", "query"}, {"required", false}, {"description", description},
          {"schema", std::move(schema)}};
}

}  // namespace crm::platform::openapi
