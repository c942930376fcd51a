#include "crm/platform/json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace crm::platform::json {

namespace bj = boost::json;

bj::value parse_body(std::string_view body) {
  boost::system::error_code ec;
  bj::parse_options options;
  options.max_depth = 64;
  bj::value v = bj::parse(body, ec, {}, options);
  if (ec) {
    throw Error(ErrorKind::bad_request, "malformed_json",
                "The request body is not valid JSON.",
                {FieldError{"body", "malformed_json", "The request body is not valid JSON."}});
  }
  return v;
}

bj::value parse_relaxed(std::string_view text) {
  bj::parse_options options;
  options.allow_comments = true;
  options.allow_trailing_commas = true;
  return bj::parse(text, {}, options);
}

std::string dump(const bj::value& value) { return bj::serialize(value); }

void append_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // start of the run of characters copied as they are
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text, plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(text, plain, std::string_view::npos);
  out += '"';
}

ObjectReader::ObjectReader(const bj::value& body) {
  object_ = body.if_object();
  if (!object_) add_error("body", "type", "The request body must be a JSON object.");
}

const bj::value* ObjectReader::optional_value(std::string_view field) {
  if (!object_) return nullptr;
  seen_.emplace_back(field);
  const bj::value* v = object_->if_contains(field);
  if (v && v->is_null()) return nullptr;
  return v;
}

std::optional<std::string> ObjectReader::optional_string(std::string_view field, std::size_t max_len) {
  const bj::value* v = optional_value(field);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    add_error(std::string(field), "type", "Must be a string.");
    return std::nullopt;
  }
  const auto& s = v->get_string();
  if (s.size() > max_len) {
    add_error(std::string(field), "too_long", "Must be at most " + std::to_string(max_len) + " characters.");
    return std::nullopt;
  }
  return std::string(s);
}

std::string ObjectReader::required_string(std::string_view field, std::size_t max_len) {
  bool present = object_ && object_->if_contains(field) && !object_->at(field).is_null();
  auto s = optional_string(field, max_len);
  if (!present) {
    add_error(std::string(field), "required", "Is required.");
    return {};
  }
  if (s && s->find_first_not_of(" \t\r\n") == std::string::npos) {
    add_error(std::string(field), "required", "Must not be blank.");
    return {};
  }
  return s.value_or("");
}

std::optional<bool> ObjectReader::optional_bool(std::string_view field) {
  const bj::value* v = optional_value(field);
  if (!v) return std::nullopt;
  if (!v->is_bool()) {
    add_error(std::string(field), "type", "Must be true or false.");
    return std::nullopt;
  }
  return v->get_bool();
}

std::optional<std::int64_t> ObjectReader::optional_int(std::string_view field, std::int64_t min,
                                                       std::int64_t max) {
  const bj::value* v = optional_value(field);
  if (!v) return std::nullopt;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    n = static_cast<std::int64_t>(v->get_uint64());
  } else {
    add_error(std::string(field), "type", "Must be an integer.");
    return std::nullopt;
  }
  if (n < min || n > max) {
    add_error(std::string(field), "out_of_range",
              "Must be between " + std::to_string(min) + " and " + std::to_string(max) + ".");
    return std::nullopt;
  }
  return n;
}

void ObjectReader::add_error(std::string field, std::string code, std::string message) {
  errors_.push_back(FieldError{std::move(field), std::move(code), std::move(message)});
}

void ObjectReader::finish() {
  if (object_) {
    for (const auto& kv : *object_) {
      if (std::find(seen_.begin(), seen_.end(), kv.key()) == seen_.end()) {
        add_error(std::string(kv.key()), "unknown_field", "Is not a field of this resource.");
      }
    }
  }
  if (!errors_.empty()) throw Error::validation(errors_);
}

}  // namespace crm::platform::json
