// Local wall-clock timestamps for taken_at when a photo has no EXIF date.
#pragma once

#include <ctime>
#include <string>

namespace sa {

// "YYYY-MM-DDTHH:MM:SS+HH:MM": `t` in the process's local time zone, with that
// zone's offset at `t` (so the day it falls on is the day the user lived it).
std::string local_iso_time(std::time_t t);

}  // namespace sa
