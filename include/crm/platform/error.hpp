#pragma once
/// The one error model of the product: domain and application code throw `crm::platform::Error`;
/// only the HTTP edge turns it into an RFC 9457 problem document.

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace crm::platform {

/// What went wrong, independent of transport. Each kind maps to exactly one HTTP status.
enum class ErrorKind {
  bad_request,             // 400 malformed JSON, bad query parameter
  unauthorized,            // 401
  forbidden,               // 403
  not_found,               // 404 (also: another tenant's id)
  method_not_allowed,      // 405
  conflict,                // 409
  precondition_failed,     // 412
  payload_too_large,       // 413
  unsupported_media_type,  // 415
  validation,              // 422
  rate_limited,            // 429
  internal,                // 500
  unavailable,             // 503
  timeout,                 // 503 with code request_timeout
};

/// One invalid field of a request.
struct FieldError {
  std::string field;
  std::string code;
  std::string message;
};

/// A typed, user-facing error. `detail` and field messages are shown to clients, so they never
/// carry internals (SQL, paths, stack traces).
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string code, std::string detail, std::vector<FieldError> fields = {});

  ErrorKind kind() const noexcept { return kind_; }
  const std::string& code() const noexcept { return code_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::vector<FieldError>& fields() const noexcept { return fields_; }
  /// Extra response headers (`Allow`, `Retry-After`, ...).
  const std::map<std::string, std::string>& headers() const noexcept { return headers_; }
  Error& with_header(std::string name, std::string value);
  /// Extra members of the problem document (`existing_id` of a duplicate, ...); string values.
  const std::map<std::string, std::string>& extensions() const noexcept { return extensions_; }
  Error& with_extension(std::string name, std::string value);

  static Error bad_request(std::string detail, std::vector<FieldError> fields = {});
  static Error bad_parameter(const std::string& parameter, std::string message);
  static Error unauthorized(std::string detail = "Authentication is required.");
  static Error forbidden(std::string detail = "You do not have permission to do this.");
  static Error not_found(std::string detail = "The resource does not exist.");
  static Error conflict(std::string code, std::string detail);
  static Error precondition_failed(std::string detail);
  static Error validation(std::vector<FieldError> fields);
  static Error validation(const std::string& field, std::string code, std::string message);
  static Error internal();

 private:
  ErrorKind kind_;
  std::string code_;
  std::string detail_;
  std::vector<FieldError> fields_;
  std::map<std::string, std::string> headers_;
  std::map<std::string, std::string> extensions_;
};

/// HTTP status code of a kind.
int http_status(ErrorKind kind) noexcept;
/// Short human title of a kind ("Not Found").
const char* error_title(ErrorKind kind) noexcept;
/// Default machine code of a kind ("not_found").
const char* default_error_code(ErrorKind kind) noexcept;

}  // namespace crm::platform
