#include "model/precision.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

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

std::string Int8Check::short_summary() const {
  if (!ran) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s %.4f", passed ? "ok" : "refused", worst_cosine);
  return buf;
}

std::string int8_check_record_path(const std::string& model_path) {
  std::error_code ec;
  if (std::filesystem::is_directory(model_path, ec)) {
    return (std::filesystem::path(model_path) / ".int8-check").string();
  }
  return model_path + ".int8-check";
}

void save_int8_check(const std::string& model_path, const Int8Check& c) {
  if (!c.ran) return;
  const std::string path = int8_check_record_path(model_path);
  std::ofstream f(path, std::ios::trunc);
  if (!f) return;
  f << (c.passed ? 1 : 0) << ' ' << c.worst_cosine << ' ' << c.samples << ' ' << c.kernel << '\n';
}

Int8Check load_int8_check(const std::string& model_path) {
  Int8Check c;
  std::ifstream f(int8_check_record_path(model_path));
  int passed = 0;
  if (f >> passed >> c.worst_cosine >> c.samples >> c.kernel) {
    c.ran = true;
    c.passed = passed == 1;
  }
  return c;
}

}  // namespace sa
