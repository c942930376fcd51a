#include "crm/platform/http.hpp"

#include "crm/platform/json.hpp"
#include "crm/platform/router.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse_query.hpp>

namespace crm::platform {

namespace http = boost::beast::http;

Request::Request(HttpRequest raw) : raw_(std::move(raw)), started_at_(std::chrono::steady_clock::now()) {
  std::string_view target(raw_.target().data(), raw_.target().size());
  auto q = target.find('?');
  path_ = target.substr(0, q);
  if (q != std::string_view::npos) query_ = target.substr(q + 1);
}

const std::vector<std::pair<std::string, std::string>>& Request::query_params() const {
  if (!query_params_) {
    // Boost.URL 1.81 parse_query reads on to a NUL (boostorg/url#757): parse a terminated copy.
    std::string text(query_);
    auto parsed = boost::urls::parse_query(text);
    if (!parsed) throw Error::bad_request("The query string is malformed.");
    std::vector<std::pair<std::string, std::string>> params;
    for (auto p : *parsed) {
      params.emplace_back(p.key.decode({true}), p.has_value ? p.value.decode({true}) : std::string());
    }
    query_params_ = std::move(params);
  }
  return *query_params_;
}

std::optional<std::string> Request::query(std::string_view name) const {
  for (const auto& [k, v] : query_params())
    if (k == name) return v;
  return std::nullopt;
}

std::string_view Request::header(std::string_view name) const {
  auto it = raw_.find(boost::beast::string_view(name.data(), name.size()));
  if (it == raw_.end()) return {};
  return {it->value().data(), it->value().size()};
}

boost::json::value Request::json() const { return json::parse_body(raw_.body()); }

const std::string& Request::path_param(std::string_view name) const {
  for (const auto& [k, v] : path_params_)
    if (k == name) return v;
  throw std::logic_error("route has no such parameter");
}

std::string_view Request::route_pattern() const noexcept {
  return route_ ? std::string_view(route_->pattern) : std::string_view("unmatched");
}

HttpResponse streamed_response(Request& request, unsigned status, std::string_view content_type, BodyStream stream) {
  HttpResponse res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, content_type);
  res.chunked(true);
  request.set_body_stream(std::move(stream));
  return res;
}

HttpResponse json_response(unsigned status, const boost::json::value& body) {
  HttpResponse res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = boost::json::serialize(body);
  res.prepare_payload();
  return res;
}

HttpResponse created_response(const boost::json::value& body, std::string_view location) {
  HttpResponse res = json_response(201, body);
  res.set(http::field::location, location);
  return res;
}

HttpResponse no_content_response() {
  HttpResponse res{http::status::no_content, 11};
  res.prepare_payload();
  return res;
}

HttpResponse text_response(unsigned status, std::string body, std::string_view content_type) {
  HttpResponse res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

boost::json::object problem_document(const Error& error, std::string_view request_id) {
  int status = http_status(error.kind());
  boost::json::object doc;
  doc["type"] = "https://batik-crm.dev/problems/" + error.code();
  doc["title"] = error_title(error.kind());
  doc["status"] = status;
  doc["detail"] = error.detail();
  doc["code"] = error.code();
  doc["request_id"] = request_id;
  boost::json::array fields;
  for (const auto& f : error.fields()) {
    fields.push_back(boost::json::object{{"field", f.field}, {"code", f.code}, {"message", f.message}});
  }
  doc["errors"] = std::move(fields);
  // Extensions never replace the standard members.
  for (const auto& [k, v] : error.extensions()) {
    if (!doc.contains(k)) doc[k] = v;
  }
  return doc;
}

HttpResponse problem_response(const Error& error, std::string_view request_id) {
  HttpResponse res = json_response(static_cast<unsigned>(http_status(error.kind())),
                                   problem_document(error, request_id));
  res.set(http::field::content_type, "application/problem+json");
  for (const auto& [k, v] : error.headers()) res.set(k, v);
  return res;
}

}  // namespace crm::platform
