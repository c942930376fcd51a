// Pure rules of tenant-defined custom fields.
#include "custom_fields.hpp"

#include <array>
#include <cctype>

namespace crm::customer::domain {

namespace {

template <std::size_t N>
bool one_of(std::string_view v, const std::array<std::string_view, N>& values) {
  for (auto x : values) {
    if (x == v) return true;
  }
  return false;
}

int digits(std::string_view s) {
  int n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

bool valid_field_entity(std::string_view v) {
  static constexpr std::array<std::string_view, 4> kEntities = {"customer", "lead", "opportunity", "deal"};
  return one_of(v, kEntities);
}

bool valid_field_type(std::string_view v) {
  static constexpr std::array<std::string_view, 10> kTypes = {"text",   "number",       "integer", "boolean", "date",
                                                              "datetime", "select", "multi_select", "url", "email"};
  return one_of(v, kTypes);
}

bool valid_field_key(std::string_view v) {
  if (v.empty() || v.size() > 64 || v[0] < 'a' || v[0] > 'z') return false;
  for (char c : v) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool valid_iso_date(std::string_view v) {
  if (v.size() != 10 || v[4] != '-' || v[7] != '-') return false;
  int y = digits(v.substr(0, 4)), m = digits(v.substr(5, 2)), d = digits(v.substr(8, 2));
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = kDays[static_cast<std::size_t>(m - 1)] + (m == 2 && leap ? 1 : 0);
  return d <= max;
}

}  // namespace crm::customer::domain
