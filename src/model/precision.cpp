#include "model/precision.h"

#include <cstdio>

namespace sa {

const char* precision_name(Precision p) { return p == Precision::kInt8 ? "int8" : "fp32"; }

Result<Precision> parse_precision(std::string_view s) {
  if (s.empty() || s == "fp32") return Precision::kFp32;
  if (s == "int8") return Precision::kInt8;
  return Status::InvalidArgument("precision '" + std::string(s) + "' is not fp32 or int8");
}

std::string Int8Check::summary() const {
  if (!ran) return "fp32";
  char buf[160];
  if (passed) {
    std::snprintf(buf, sizeof buf, "int8 (%s; self-check: worst cosine %.4f over %d inputs)",
                  kernel.c_str(), worst_cosine, samples);
  } else {
    std::snprintf(buf, sizeof buf, "fp32 (int8 refused: worst cosine %.4f < %.2f over %d inputs)",
                  worst_cosine, kInt8MinCosine, samples);
  }
  return buf;
}

}  // namespace sa
