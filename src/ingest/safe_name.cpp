#include "ingest/safe_name.h"

#include <vector>

#include <nlohmann/json.hpp>

namespace sa {
namespace {

constexpr size_t kMaxComponentBytes = 255;
constexpr size_t kMaxFolderDepth = 16;
// Longest extension (dot included) that a shortened name keeps.
constexpr size_t kMaxExtensionBytes = 32;

// Invalid UTF-8 (stray or truncated sequences, overlong forms such as C0 80 or
// E0 80 80, UTF-16 surrogates ED A0 80, code points above U+10FFFF) becomes
// U+FFFD exactly as the JSON layer replaces it (nlohmann's error_handler_t::replace,
// one U+FFFD per maximal invalid subpart): the stored name is valid UTF-8 and the
// upload reply, which echoes the raw name through that same replacement, shows
// the name the album stored. Control characters (C0, DEL, C1) are dropped, and so are
// the bidirectional controls (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069), with which
// "\u202Egnp.exe" would display as "exe.png".
std::string clean_utf8(std::string_view s) {
  const std::string quoted = nlohmann::json(std::string(s)).dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string valid = nlohmann::json::parse(quoted).get<std::string>();
  std::string out;
  out.reserve(valid.size());
  for (size_t i = 0; i < valid.size(); ++i) {
    const auto c = static_cast<unsigned char>(valid[i]);
    const auto c1 = i + 1 < valid.size() ? static_cast<unsigned char>(valid[i + 1]) : 0;
    const auto c2 = i + 2 < valid.size() ? static_cast<unsigned char>(valid[i + 2]) : 0;
    if (c < 0x20 || c == 0x7f) continue;
    if (c == 0xC2 && c1 >= 0x80 && c1 <= 0x9F) {  // C1 controls
      ++i;
      continue;
    }
    if (c == 0xD8 && c1 == 0x9C) {  // U+061C ARABIC LETTER MARK
      ++i;
      continue;
    }
    if (c == 0xE2 && ((c1 == 0x80 && (c2 == 0x8E || c2 == 0x8F || (c2 >= 0xAA && c2 <= 0xAE))) ||
                      (c1 == 0x81 && c2 >= 0xA6 && c2 <= 0xA9))) {
      i += 2;
      continue;
    }
    out.push_back(valid[i]);
  }
  return out;
}

// The longest prefix of valid UTF-8 s that fits max_bytes, cut before a code
// point (never inside one).
std::string_view utf8_prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Caps a base name at max_bytes by shortening its stem, so "<long>.jpg" keeps
// ".jpg". An extension that leaves no room for a stem is cut like the rest.
std::string cap_file_name(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  const size_t dot = s.rfind('.');
  if (dot != std::string::npos && dot > 0 && s.size() - dot <= kMaxExtensionBytes) {
    const std::string_view ext = std::string_view(s).substr(dot);
    std::string out(utf8_prefix(std::string_view(s).substr(0, dot), max_bytes - ext.size()));
    out.append(ext);
    return out;
  }
  return std::string(utf8_prefix(s, max_bytes));
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
    parts.push_back(std::move(part));
  }
  SafeName out;
  if (parts.empty()) {
    out.filename = "unnamed";
    return out;
  }
  out.filename = cap_file_name(parts.back(), kMaxComponentBytes);
  parts.pop_back();
  size_t first = parts.size() > kMaxFolderDepth ? parts.size() - kMaxFolderDepth : 0;
  for (size_t i = first; i < parts.size(); ++i) {
    if (!out.folder.empty()) out.folder.push_back('/');
    out.folder += utf8_prefix(parts[i], kMaxComponentBytes);
  }
  return out;
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
