#pragma once
/// JSON helpers shared by modules: strict request-body reading with field-named errors.

#include "crm/platform/error.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crm::platform::json {

/// Parses a request body; malformed JSON is a 400 problem.
boost::json::value parse_body(std::string_view body);
/// Parses JSON text that may contain comments and trailing commas (configuration files).
boost::json::value parse_relaxed(std::string_view text);
/// Compact serialization.
std::string dump(const boost::json::value& value);

/// Appends `text` as a JSON string literal, quoted and escaped as dump() escapes it: for
/// responses written as text rather than built as a value.
void append_string(std::string& out, std::string_view text);

/// Reads fields of a JSON object body and collects every problem before failing once with a
/// 422 that lists them all. Unknown fields are rejected (no mass assignment).
class ObjectReader final {
 public:
  /// A body that is not an object is a 422 on field "body".
  explicit ObjectReader(const boost::json::value& body);

  std::optional<std::string> optional_string(std::string_view field, std::size_t max_len = 10000);
  std::string required_string(std::string_view field, std::size_t max_len = 10000);
  std::optional<bool> optional_bool(std::string_view field);
  std::optional<std::int64_t> optional_int(std::string_view field, std::int64_t min,
                                           std::int64_t max);
  const boost::json::value* optional_value(std::string_view field);

  void add_error(std::string field, std::string code, std::string message);
  /// Throws a 422 listing every collected error, including unknown fields.
  void finish();

 private:
  const boost::json::object* object_ = nullptr;
  std::vector<std::string> seen_;
  std::vector<FieldError> errors_;
};

}  // namespace crm::platform::json
