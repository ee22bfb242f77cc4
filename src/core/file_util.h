// Small filesystem helpers with Status errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sa {

// Reads a whole file. Fails with NotFound / IOError; refuses files over max_bytes
// (ResourceExhausted) so a huge file never gets slurped by accident.
Result<std::string> read_file(const std::string& path, size_t max_bytes = size_t(1) << 32);

// Writes `data` to `path` atomically: a temporary file in the same directory,
// fsync, rename over the target. Readers see the old or the new file, never half.
Status write_file_atomic(const std::string& path, std::string_view data);
// The same with the temporary file in `tmp_dir` (same file system as `path`), named
// "<pid>.<random>.tmp", so that crash debris lives in one place (see
// remove_stale_temp_files).
Status write_file_atomic(const std::string& path, std::string_view data,
                         const std::string& tmp_dir);

// Removes what crashed writers left behind: in `tmp_dir`, every "<pid>.*.tmp" whose
// process is gone; under each of `legacy_dirs` (recursively), the ".<name>.tmp<n>"
// files of write_file_atomic without a tmp_dir that are older than an hour. Returns the
// number of files removed; errors are ignored (best effort).
int remove_stale_temp_files(const std::string& tmp_dir,
                            const std::vector<std::string>& legacy_dirs);
// The same for a file made of several pieces written in order (no joined copy:
// the vector index writes a gigabyte of chunks this way).
Status write_file_atomic(const std::string& path, std::span<const std::string_view> parts);
// Both: several pieces, the temporary file in `tmp_dir` (empty: beside `path`).
Status write_file_atomic(const std::string& path, std::span<const std::string_view> parts,
                         const std::string& tmp_dir);

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
