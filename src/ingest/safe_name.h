// Upload names are untrusted: they only ever become metadata (folder + base name
// shown in the UI), never a path on disk. Files on disk are named by content hash.
#pragma once

#include <string>
#include <string_view>

namespace sa {

struct SafeName {
  std::string folder;    // "trip/day1" or "" -- components joined by '/'
  std::string filename;  // base name for display, never empty ("unnamed" if nothing usable)
};

// Splits an uploaded relative name into folder and base name. Backslashes count as
// separators; empty, "." and ".." components, drive prefixes ("C:") and control
// characters are dropped; invalid UTF-8 becomes U+FFFD the way the JSON replies
// replace it (one per maximal invalid subpart; overlong forms and surrogates are
// invalid), so both parts are always valid UTF-8. Each component is capped at 255
// bytes on a code point boundary; a long base name loses the end of its stem, not
// its extension ("<long>.jpg" stays "....jpg"). The folder keeps its last 16 components.
SafeName sanitize_upload_name(std::string_view name);


// Relative on-disk locations inside the data directory, derived from the SHA-256 hex
// only: "originals/ab/abcdef....jpg", "thumbnails/ab/abcdef....jpg".
std::string original_rel_path(std::string_view hash, std::string_view ext);
std::string thumbnail_rel_path(std::string_view hash);

// True for a 64-char lower-case hex string (what the paths above require).
bool is_sha256_hex(std::string_view s);

}  // namespace sa
