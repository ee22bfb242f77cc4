#include "search/date_filter.h"

#include <algorithm>
#include <string>

namespace sa {
namespace {

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// The number in s[pos, pos + n) if it is all ASCII digits, else -1.
int digits(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

Status bad_date(std::string_view value, std::string_view name, std::string_view why) {
  return Status::InvalidArgument("parameter '" + std::string(name) + "' is not a valid date (" +
                                 std::string(why) + "): '" + std::string(value) + "'");
}

}  // namespace

Status check_date_prefix(std::string_view d, std::string_view name) {
  if (d.empty()) return Status::OK();
  const bool shape_ok = (d.size() == 4 || d.size() == 7 || d.size() == 10) &&
                        (d.size() < 7 || d[4] == '-') && (d.size() < 10 || d[7] == '-');
  const int year = shape_ok ? digits(d, 0, 4) : -1;
  const int month = shape_ok && d.size() >= 7 ? digits(d, 5, 2) : 1;
  const int day = shape_ok && d.size() == 10 ? digits(d, 8, 2) : 1;
  if (year < 0 || month < 0 || day < 0) {
    return bad_date(d, name, "expected YYYY, YYYY-MM or YYYY-MM-DD");
  }
  if (month < 1 || month > 12) return bad_date(d, name, "month must be 01-12");
  if (day < 1 || day > days_in_month(year, month)) {
    return bad_date(d, name, "day " + std::to_string(day) + " is not in " +
                                 std::string(d.substr(0, 7)));
  }
  return Status::OK();
}

Status check_date_range(std::string_view date_from, std::string_view date_to) {
  SA_RETURN_IF_ERROR(check_date_prefix(date_from, "date_from"));
  SA_RETURN_IF_ERROR(check_date_prefix(date_to, "date_to"));
  if (date_from.empty() || date_to.empty()) return Status::OK();
  // Valid prefixes of one format: the ranges share a day unless date_from's
  // leading fields already sort after date_to's.
  const size_t k = std::min(date_from.size(), date_to.size());
  if (date_from.substr(0, k) > date_to.substr(0, k)) {
    return Status::InvalidArgument("date_from '" + std::string(date_from) +
                                   "' is after date_to '" + std::string(date_to) + "'");
  }
  return Status::OK();
}

}  // namespace sa
