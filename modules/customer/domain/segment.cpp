#include "segment.hpp"

#include <unicode/unistr.h>

#include <cctype>

namespace crm::customer::domain {

bool valid_segment_type(std::string_view v) { return v == "static" || v == "dynamic"; }

std::size_t utf8_length(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;  // not a continuation byte
  }
  return n;
}

std::string tidy_segment_name(std::string_view name) {
  std::string out;
  bool space = false;
  for (char c : name) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string segment_name_key(std::string_view name) {
  std::string tidy = tidy_segment_name(name);
  std::string out;
  icu::UnicodeString::fromUTF8(icu::StringPiece(tidy.data(), static_cast<int32_t>(tidy.size())))
      .foldCase()
      .toUTF8String(out);
  return out;
}

}  // namespace crm::customer::domain
