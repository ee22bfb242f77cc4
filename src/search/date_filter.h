// The date filters of a search (date_from, date_to): "YYYY", "YYYY-MM" or
// "YYYY-MM-DD", compared as inclusive prefixes of a photo's taken_at.
#pragma once

#include <string_view>

#include "core/status.h"

namespace sa {

// OK for "" (no filter) or a real calendar date prefix: month 01-12, day within
// its month (29 February only in leap years, Gregorian rules). Otherwise
// InvalidArgument with a message that names `name` (the parameter) and the value.
Status check_date_prefix(std::string_view value, std::string_view name);

// Both prefixes checked as above ("date_from", "date_to"), and, when both are
// given, InvalidArgument unless some day matches both: date_from's first day is
// not after date_to's last day ("2023-05" .. "2023" is fine, "2024" .. "2023-12" is not).
Status check_date_range(std::string_view date_from, std::string_view date_to);

}  // namespace sa
