#include "ingest/safe_name.h"

#include <vector>

namespace sa {
namespace {

constexpr size_t kMaxComponentBytes = 255;
constexpr size_t kMaxFolderDepth = 16;

// Replaces invalid UTF-8 sequences by '?' and drops control characters, so a
// name is always printable and valid JSON once stored.
std::string clean_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c >= 0x20 && c != 0x7f) out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    // Overlong 2-byte forms (C0, C1) and code points above U+10FFFF are invalid.
    if (ok && (c == 0xC0 || c == 0xC1 || c > 0xF4)) ok = false;
    if (!ok) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

// Cuts at a code-point boundary at or below max_bytes.
std::string cap_bytes(std::string s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(' ');
  return s.substr(b, e - b + 1);
}

}  // namespace

SafeName sanitize_upload_name(std::string_view name) {
  std::string s = clean_utf8(name);
  for (char& c : s) {
    if (c == '\\') c = '/';
  }
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t next = s.find('/', pos);
    if (next == std::string::npos) next = s.size();
    std::string part = trim(s.substr(pos, next - pos));
    pos = next + 1;
    if (part.empty() || part == "." || part == "..") continue;
    // A Windows drive prefix ("C:") says nothing about the photo.
    if (parts.empty() && part.size() == 2 && part[1] == ':') continue;
    parts.push_back(cap_bytes(std::move(part), kMaxComponentBytes));
  }
  SafeName out;
  if (parts.empty()) {
    out.filename = "unnamed";
    return out;
  }
  out.filename = parts.back();
  parts.pop_back();
  size_t first = parts.size() > kMaxFolderDepth ? parts.size() - kMaxFolderDepth : 0;
  for (size_t i = first; i < parts.size(); ++i) {
    if (!out.folder.empty()) out.folder.push_back('/');
    out.folder += parts[i];
  }
  return out;
}

std::string extension_for_format(std::string_view format) {
  if (format == "jpeg" || format == "jpg") return "jpg";
  if (format == "png") return "png";
  if (format == "webp") return "webp";
  if (format == "heif" || format == "heic") return "heic";
  if (format == "gif") return "gif";
  if (format == "tiff" || format == "tif") return "tif";
  return "bin";
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string original_rel_path(std::string_view hash, std::string_view ext) {
  std::string p = "originals/";
  p.append(hash.substr(0, 2));
  p.push_back('/');
  p.append(hash);
  p.push_back('.');
  p.append(ext);
  return p;
}

std::string thumbnail_rel_path(std::string_view hash) {
  std::string p = "thumbnails/";
  p.append(hash.substr(0, 2));
  p.push_back('/');
  p.append(hash);
  p.append(".jpg");
  return p;
}

}  // namespace sa
