// ZipStream: writes a ZIP archive (minizip, entries stored: photos are already
// compressed) to a sink as it is produced, for GET /api/photos/download.
//
// minizip writes each entry's local header with CRC and sizes zero and, when
// the entry is closed, seeks back to fill them in (zip.c,
// zipCloseFileInZipRaw64). To send the header before the data, the CRC-32 and
// size of each file are computed first (one extra read, from the page cache)
// and put into the header as minizip will write them (local header offsets
// 14, 18, 22: crc-32, compressed size, uncompressed size; APPNOTE 4.3.7); the
// I/O callbacks then accept minizip's later rewrite of those already-sent
// bytes only if it is byte-identical, and fail the archive otherwise. So the
// archive streams out as it is written: memory is a few buffers of 1 MiB
// whatever its size, and nothing touches the disk. (An entry needing Zip64
// fields, over 4 GiB in or beyond the archive, is held until it is closed.)
//
// Not thread-safe; one archive per object. A sink returning false (the client
// went away) makes every later call fail with IOError.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sa {

class ZipStream {
 public:
  using Sink = std::function<bool(const char* data, size_t len)>;
  explicit ZipStream(Sink sink);
  ~ZipStream();
  ZipStream(const ZipStream&) = delete;
  ZipStream& operator=(const ZipStream&) = delete;

  // A name not used yet in this archive: `name` itself, else "stem (1).ext",
  // "stem (2).ext", ... (compared exactly; '/' and '\' become '_').
  std::string unique_name(std::string_view name);
  // Adds the file at `path` as entry `name` (UTF-8), its bytes read in 1 MiB
  // pieces. mtime: seconds since the epoch for the entry's date.
  Status add_file(const std::string& name, const std::string& path, int64_t mtime);
  // Writes the central directory; the archive is complete after this.
  Status finish();

  uint64_t bytes_sent() const;

 private:
  struct Io;
  std::unique_ptr<Io> io_;
  void* zip_ = nullptr;  // zipFile
  std::set<std::string> names_;
};

}  // namespace sa
