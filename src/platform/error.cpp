#include "crm/platform/error.hpp"

namespace crm::platform {

Error::Error(ErrorKind kind, std::string code, std::string detail, std::vector<FieldError> fields)
    : std::runtime_error(detail),
      kind_(kind),
      code_(code.empty() ? default_error_code(kind) : std::move(code)),
      detail_(std::move(detail)),
      fields_(std::move(fields)) {}

Error& Error::with_header(std::string name, std::string value) {
  headers_[std::move(name)] = std::move(value);
  return *this;
}

Error& Error::with_extension(std::string name, std::string value) {
  extensions_[std::move(name)] = std::move(value);
  return *this;
}

Error Error::bad_request(std::string detail, std::vector<FieldError> fields) {
  return Error(ErrorKind::bad_request, "bad_request", std::move(detail), std::move(fields));
}

Error Error::bad_parameter(const std::string& parameter, std::string message) {
  std::string detail = "Invalid query parameter '" + parameter + "': " + message;
  return Error(ErrorKind::bad_request, "invalid_parameter", detail,
               {FieldError{parameter, "invalid", std::move(message)}});
}

Error Error::unauthorized(std::string detail) {
  return Error(ErrorKind::unauthorized, "unauthorized", std::move(detail));
}

Error Error::forbidden(std::string detail) {
  return Error(ErrorKind::forbidden, "forbidden", std::move(detail));
}

Error Error::not_found(std::string detail) {
  return Error(ErrorKind::not_found, "not_found", std::move(detail));
}

Error Error::conflict(std::string code, std::string detail) {
  return Error(ErrorKind::conflict, std::move(code), std::move(detail));
}

Error Error::precondition_failed(std::string detail) {
  return Error(ErrorKind::precondition_failed, "version_mismatch", std::move(detail));
}

Error Error::validation(std::vector<FieldError> fields) {
  std::string detail = "The request has invalid fields: ";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) detail += ", ";
    detail += fields[i].field;
  }
  detail += ".";
  return Error(ErrorKind::validation, "validation_failed", std::move(detail), std::move(fields));
}

Error Error::validation(const std::string& field, std::string code, std::string message) {
  return validation({FieldError{field, std::move(code), std::move(message)}});
}

Error Error::internal() {
  return Error(ErrorKind::internal, "internal_error", "An unexpected error occurred.");
}

int http_status(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::bad_request: return 400;
    case ErrorKind::unauthorized: return 401;
    case ErrorKind::forbidden: return 403;
    case ErrorKind::not_found: return 404;
    case ErrorKind::method_not_allowed: return 405;
    case ErrorKind::conflict: return 409;
    case ErrorKind::precondition_failed: return 412;
    case ErrorKind::payload_too_large: return 413;
    case ErrorKind::unsupported_media_type: return 415;
    case ErrorKind::validation: return 422;
    case ErrorKind::rate_limited: return 429;
    case ErrorKind::internal: return 500;
    case ErrorKind::unavailable: return 503;
    case ErrorKind::timeout: return 503;
  }
  return 500;
}

const char* error_title(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::bad_request: return "Bad Request";
    case ErrorKind::unauthorized: return "Unauthorized";
    case ErrorKind::forbidden: return "Forbidden";
    case ErrorKind::not_found: return "Not Found";
    case ErrorKind::method_not_allowed: return "Method Not Allowed";
    case ErrorKind::conflict: return "Conflict";
    case ErrorKind::precondition_failed: return "Precondition Failed";
    case ErrorKind::payload_too_large: return "Payload Too Large";
    case ErrorKind::unsupported_media_type: return "Unsupported Media Type";
    case ErrorKind::validation: return "Unprocessable Content";
    case ErrorKind::rate_limited: return "Too Many Requests";
    case ErrorKind::internal: return "Internal Server Error";
    case ErrorKind::unavailable: return "Service Unavailable";
    case ErrorKind::timeout: return "Service Unavailable";
  }
  return "Internal Server Error";
}

const char* default_error_code(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::bad_request: return "bad_request";
    case ErrorKind::unauthorized: return "unauthorized";
    case ErrorKind::forbidden: return "forbidden";
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::method_not_allowed: return "method_not_allowed";
    case ErrorKind::conflict: return "conflict";
    case ErrorKind::precondition_failed: return "precondition_failed";
    case ErrorKind::payload_too_large: return "payload_too_large";
    case ErrorKind::unsupported_media_type: return "unsupported_media_type";
    case ErrorKind::validation: return "validation_failed";
    case ErrorKind::rate_limited: return "rate_limited";
    case ErrorKind::internal: return "internal_error";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::timeout: return "request_timeout";
  }
  return "internal_error";
}

}  // namespace crm::platform
