// Small filesystem helpers with Status errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sa {

// Reads a whole file. Fails with NotFound / IOError; refuses files over max_bytes
// (ResourceExhausted) so a huge file never gets slurped by accident.
Result<std::string> read_file(const std::string& path, size_t max_bytes = size_t(1) << 32);

// Writes `data` to `path` atomically: a temporary file in the same directory,
// fsync, rename over the target. Readers see the old or the new file, never half.
Status write_file_atomic(const std::string& path, std::string_view data);
// The same for a file made of several pieces written in order (no joined copy:
// the vector index writes a gigabyte of chunks this way).
Status write_file_atomic(const std::string& path, std::span<const std::string_view> parts);

// Creates a directory and its parents (ok if it exists).
Status make_dirs(const std::string& path);

bool file_exists(const std::string& path);

// A read-only memory map of a whole file. Owns the mapping (RAII, move-only).
// An empty file maps to size()==0 and data()==nullptr.
class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path);
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace sa
