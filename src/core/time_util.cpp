#include "core/time_util.h"

#include <cstdio>
#include <cstdlib>

namespace sa {

std::string local_iso_time(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  const long off_min = tm.tm_gmtoff / 60;
  const long a = std::labs(off_min);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                off_min < 0 ? '-' : '+', a / 60, a % 60);
  return buf;
}

}  // namespace sa
