#include "csv.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace crm::customer::domain {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
/// The largest element a JSON import may have: one customer with its contacts is far less.
constexpr std::size_t kMaxJsonElement = 1024 * 1024;

bool formula_start(char c) { return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r'; }

}  // namespace

ByteSource string_source(std::string_view text, std::size_t chunk) {
  auto pos = std::make_shared<std::size_t>(0);
  return [text, chunk, pos](char* buffer, std::size_t size) -> std::size_t {
    std::size_t n = std::min({size, chunk, text.size() - *pos});
    std::memcpy(buffer, text.data() + *pos, n);
    *pos += n;
    return n;
  };
}

// ---- CSV ----

CsvReader::CsvReader(ByteSource source, std::size_t chunk) : source_(std::move(source)), chunk_(chunk ? chunk : 1) {}

bool CsvReader::fill() {
  if (eof_) return false;
  buffer_.resize(chunk_);
  std::size_t n = source_(buffer_.data(), chunk_);
  buffer_.resize(n);
  pos_ = 0;
  if (n == 0) eof_ = true;
  return n > 0;
}

int CsvReader::peek() {
  if (pos_ >= buffer_.size() && !fill()) return -1;
  return static_cast<unsigned char>(buffer_[pos_]);
}

int CsvReader::get() {
  int c = peek();
  if (c >= 0) {
    ++pos_;
    ++consumed_;
  }
  return c;
}

std::optional<CsvRecord> CsvReader::next() {
  if (!started_) {
    started_ = true;
    std::string head;
    while (head.size() < kBom.size()) {
      int c = get();
      if (c < 0) break;
      head += static_cast<char>(c);
    }
    if (head != kBom) {
      // Not a byte order mark: the bytes go back in front of the rest.
      buffer_ = head + buffer_.substr(pos_);
      pos_ = 0;
      consumed_ -= head.size();
    }
  }
  if (peek() < 0) return std::nullopt;
  CsvRecord rec;
  rec.line = line_;
  std::string field;
  bool in_quotes = false, after_quote = false;
  while (true) {
    int c = get();
    if (c < 0) {
      if (in_quotes && rec.error.empty()) rec.error = "A quoted field is not closed before the end of the file.";
      rec.fields.push_back(std::move(field));
      return rec;
    }
    if (in_quotes) {
      if (c == '"') {
        if (peek() == '"') {
          get();
          field += '"';
        } else {
          in_quotes = false;
          after_quote = true;
        }
        continue;
      }
      if (c == '\n' || (c == '\r' && peek() != '\n')) ++line_;
      field += static_cast<char>(c);
      continue;
    }
    if (c == ',') {
      rec.fields.push_back(std::move(field));
      field.clear();
      after_quote = false;
      continue;
    }
    if (c == '\r' || c == '\n') {
      if (c == '\r' && peek() == '\n') get();
      ++line_;
      rec.fields.push_back(std::move(field));
      return rec;
    }
    if (c == '"' && field.empty() && !after_quote) {
      in_quotes = true;
      rec.quoted_ = true;
      continue;
    }
    if (after_quote && rec.error.empty()) rec.error = "Text follows the closing quote of a field.";
    field += static_cast<char>(c);
  }
}

// ---- JSON arrays ----

JsonArrayReader::JsonArrayReader(ByteSource source, std::size_t chunk)
    : source_(std::move(source)), chunk_(chunk ? chunk : 1) {}

int JsonArrayReader::peek() {
  if (pos_ >= buffer_.size()) {
    if (eof_) return -1;
    buffer_.resize(chunk_);
    std::size_t n = source_(buffer_.data(), chunk_);
    buffer_.resize(n);
    pos_ = 0;
    if (n == 0) {
      eof_ = true;
      return -1;
    }
  }
  return static_cast<unsigned char>(buffer_[pos_]);
}

int JsonArrayReader::get() {
  int c = peek();
  if (c >= 0) ++pos_;
  return c;
}

void JsonArrayReader::skip_space() {
  while (true) {
    int c = peek();
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return;
    get();
  }
}

std::optional<std::string> JsonArrayReader::next() {
  if (closed_) return std::nullopt;
  auto close = [this] {
    closed_ = true;
    skip_space();
    if (peek() >= 0) throw std::invalid_argument("There is text after the array's closing bracket.");
  };
  if (!opened_) {
    // A byte order mark may lead.
    if (peek() == 0xEF) {
      for (char b : kBom) {
        if (get() != static_cast<unsigned char>(b)) throw std::invalid_argument("The body must be a JSON array.");
      }
    }
    skip_space();
    if (get() != '[') throw std::invalid_argument("The body must be a JSON array of customer objects.");
    opened_ = true;
    skip_space();
    if (peek() == ']') {
      get();
      close();
      return std::nullopt;
    }
  } else {
    skip_space();
    int c = get();
    if (c == ']') {
      close();
      return std::nullopt;
    }
    if (c != ',') {
      throw std::invalid_argument(c < 0 ? "The array is not closed: the file ends after element " +
                                              std::to_string(count_) + "."
                                        : "Element " + std::to_string(count_) + " is not followed by a comma or ].");
    }
    skip_space();
  }
  std::string out;
  int depth = 0;
  bool in_string = false, escaped = false;
  while (true) {
    int c = peek();
    if (c < 0) {
      if (depth > 0 || in_string || out.empty()) {
        throw std::invalid_argument("The array is not closed: the file ends inside element " +
                                    std::to_string(count_ + 1) + ".");
      }
      break;
    }
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) break;
      --depth;
    } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
      break;
    }
    get();
    out += static_cast<char>(c);
    if (out.size() > kMaxJsonElement) {
      throw std::invalid_argument("Element " + std::to_string(count_ + 1) + " is larger than 1 MiB.");
    }
  }
  if (out.empty()) throw std::invalid_argument("Element " + std::to_string(count_ + 1) + " is missing.");
  ++count_;
  return out;
}

// ---- writing ----

std::string csv_cell(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string neutralize_formula(std::string_view value) {
  if (!value.empty() && formula_start(value.front())) return "'" + std::string(value);
  return std::string(value);
}

std::string restore_formula(std::string_view value) {
  if (value.size() >= 2 && value.front() == '\'' && formula_start(value[1])) return std::string(value.substr(1));
  return std::string(value);
}

std::string csv_line(const std::vector<std::string>& cells) {
  std::string out;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i) out += ',';
    out += csv_cell(neutralize_formula(cells[i]));
  }
  out += "\r\n";
  return out;
}

// ---- multipart/form-data ----

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// A parameter of a header value (`name="file"`), quotes removed; "" when absent.
std::string header_parameter(std::string_view value, std::string_view key) {
  std::size_t pos = 0;
  while ((pos = value.find(';', pos)) != std::string_view::npos) {
    ++pos;
    auto rest = trim_view(value.substr(pos));
    auto eq = rest.find('=');
    if (eq == std::string_view::npos) continue;
    if (lower(trim_view(rest.substr(0, eq))) != key) continue;
    auto v = trim_view(rest.substr(eq + 1));
    if (!v.empty() && v.front() == '"') {
      auto close = v.find('"', 1);
      return std::string(v.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
    }
    return std::string(v.substr(0, v.find(';')));
  }
  return {};
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  auto type = lower(trim_view(content_type.substr(0, content_type.find(';'))));
  if (type != "multipart/form-data") return std::nullopt;
  auto b = header_parameter(content_type, "boundary");
  if (b.empty() || b.size() > 70) return std::nullopt;
  return b;
}

std::vector<MultipartPart> parse_multipart(std::string_view body, std::string_view boundary) {
  std::string delimiter = "--" + std::string(boundary);
  std::vector<MultipartPart> parts;
  auto start = body.find(delimiter);
  if (start == std::string_view::npos) throw std::invalid_argument("The multipart body has no part.");
  std::size_t pos = start + delimiter.size();
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") throw std::invalid_argument("The multipart body is malformed.");
    pos += 2;
    auto headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) throw std::invalid_argument("A part of the multipart body has no end of headers.");
    MultipartPart part;
    auto headers = body.substr(pos, headers_end - pos);
    std::size_t line_start = 0;
    while (line_start <= headers.size()) {
      auto line_end = headers.find("\r\n", line_start);
      auto line = headers.substr(line_start, line_end == std::string_view::npos ? std::string_view::npos : line_end - line_start);
      auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        auto name = lower(trim_view(line.substr(0, colon)));
        auto value = trim_view(line.substr(colon + 1));
        if (name == "content-disposition") {
          part.name = header_parameter(value, "name");
          part.filename = header_parameter(value, "filename");
        } else if (name == "content-type") {
          part.content_type = lower(trim_view(value.substr(0, value.find(';'))));
        }
      }
      if (line_end == std::string_view::npos) break;
      line_start = line_end + 2;
    }
    auto data_start = headers_end + 4;
    auto next = body.find("\r\n" + delimiter, data_start);
    if (next == std::string_view::npos) throw std::invalid_argument("The multipart body is not closed.");
    part.data = body.substr(data_start, next - data_start);
    parts.push_back(std::move(part));
    pos = next + 2 + delimiter.size();
  }
}

std::optional<std::size_t> invalid_utf8_at(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t n = text.size(), i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c == 0) return i;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += len;
  }
  return std::nullopt;
}

}  // namespace crm::customer::domain
