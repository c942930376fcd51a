#pragma once
// Pure rules of tenant-defined custom fields: keys, types and the checks of plain values.
// Unit tested in tests/modules/customer/domain/custom_fields_test.cpp.

#include <optional>
#include <string>
#include <string_view>

namespace crm::customer::domain {

/// The entities custom fields can be defined for: customer, lead, opportunity, deal.
bool valid_field_entity(std::string_view v);
/// text, number, integer, boolean, date, datetime, select, multi_select, url, email.
bool valid_field_type(std::string_view v);
/// A custom field key: snake_case, a-z first, then a-z, 0-9 and _, at most 64 characters.
bool valid_field_key(std::string_view v);
/// A calendar date `YYYY-MM-DD` that exists (leap years included), years 0001 to 9999.
bool valid_iso_date(std::string_view v);

}  // namespace crm::customer::domain
