#pragma once
// Pure rules of customer segments: names and types. Unit tested in
// tests/modules/customer/domain/segment_test.cpp.

#include <cstddef>
#include <string>
#include <string_view>

namespace crm::customer::domain {

/// Longest segment name, in characters (Unicode code points).
inline constexpr std::size_t kSegmentNameMax = 200;
/// Most customer ids one request may name (create, replace, add or remove members).
inline constexpr std::size_t kSegmentIdsPerRequest = 10000;

bool valid_segment_type(std::string_view v);  // static | dynamic

/// Code points of valid UTF-8 text.
std::size_t utf8_length(std::string_view text);
/// The name as stored: trimmed, every run of white space one space.
std::string tidy_segment_name(std::string_view name);
/// The key segment names are unique by within a tenant: the tidied name, case-folded
/// (Unicode), so "Gold  VIPs" and "gold vips" are one name.
std::string segment_name_key(std::string_view name);

}  // namespace crm::customer::domain
