#include "server/zip_stream.h"

#include <minizip/zip.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

namespace sa {

// The byte stream minizip writes: [0, sent) went to the sink, held holds
// [sent, sent + held.size()); pos is minizip's write position. Bytes of
// [patch_base, patch_base + patch.size()) were sent and may be rewritten,
// identically, by minizip.
struct ZipStream::Io {
  Sink sink;
  uint64_t sent = 0;
  std::vector<char> held;
  uint64_t pos = 0;
  uint64_t patch_base = 0;
  std::vector<char> patch;
  bool failed = false;

  uint64_t end() const { return sent + held.size(); }
  bool flush() {
    if (failed) return false;
    if (!held.empty()) {
      if (!sink(held.data(), held.size())) {
        failed = true;
        return false;
      }
      sent += held.size();
      held.clear();
    }
    return true;
  }

  static voidpf open(voidpf opaque, const void*, int) { return opaque; }
  static uLong read(voidpf, voidpf, void*, uLong) { return 0; }
  static uLong write(voidpf, voidpf stream, const void* buf, uLong size) {
    auto* io = static_cast<Io*>(stream);
    if (io->failed) return 0;
    const char* p = static_cast<const char*>(buf);
    uLong left = size;
    if (io->pos < io->sent) {  // a rewrite of sent bytes: must repeat them exactly
      const uint64_t n = std::min<uint64_t>(left, io->sent - io->pos);
      const bool inside = io->pos >= io->patch_base &&
                          io->pos + n <= io->patch_base + io->patch.size();
      if (!inside || std::memcmp(io->patch.data() + (io->pos - io->patch_base), p, n) != 0) {
        io->failed = true;
        return 0;
      }
      io->pos += n;
      p += n;
      left -= static_cast<uLong>(n);
    }
    if (left > 0) {
      const size_t off = static_cast<size_t>(io->pos - io->sent);
      if (off + left > io->held.size()) io->held.resize(off + left);
      std::memcpy(io->held.data() + off, p, left);
      io->pos += left;
    }
    return size;
  }
  static ZPOS64_T tell(voidpf, voidpf stream) { return static_cast<Io*>(stream)->pos; }
  static long seek(voidpf, voidpf stream, ZPOS64_T offset, int origin) {
    auto* io = static_cast<Io*>(stream);
    uint64_t target = offset;
    if (origin == ZLIB_FILEFUNC_SEEK_CUR) target = io->pos + offset;
    if (origin == ZLIB_FILEFUNC_SEEK_END) target = io->end() + offset;
    if (target > io->end()) return -1;
    io->pos = target;
    return 0;
  }
  static int close(voidpf, voidpf) { return 0; }
  static int error(voidpf, voidpf stream) { return static_cast<Io*>(stream)->failed ? 1 : 0; }
};

namespace {

void put_le32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

}  // namespace

ZipStream::ZipStream(Sink sink) : io_(std::make_unique<Io>()) {
  io_->sink = std::move(sink);
  zlib_filefunc64_def f{};
  f.zopen64_file = &Io::open;
  f.zread_file = &Io::read;
  f.zwrite_file = &Io::write;
  f.ztell64_file = &Io::tell;
  f.zseek64_file = &Io::seek;
  f.zclose_file = &Io::close;
  f.zerror_file = &Io::error;
  f.opaque = io_.get();
  zip_ = zipOpen2_64("stream", APPEND_STATUS_CREATE, nullptr, &f);
}

ZipStream::~ZipStream() {
  if (zip_) zipClose(static_cast<zipFile>(zip_), nullptr);  // unfinished: just free it
}

uint64_t ZipStream::bytes_sent() const { return io_->sent; }

std::string ZipStream::unique_name(std::string_view name) {
  std::string n(name);
  for (char& c : n)
    if (c == '/' || c == '\\') c = '_';
  if (n.empty()) n = "photo";
  if (names_.insert(n).second) return n;
  const size_t dot = n.rfind('.');
  const bool has_ext = dot != std::string::npos && dot != 0;
  const std::string stem = has_ext ? n.substr(0, dot) : n;
  const std::string ext = has_ext ? n.substr(dot) : "";
  for (int i = 1;; ++i) {
    std::string cand = stem + " (" + std::to_string(i) + ")" + ext;
    if (names_.insert(cand).second) return cand;
  }
}

Status ZipStream::add_file(const std::string& name, const std::string& path, int64_t mtime) {
  if (!zip_) return Status::Internal("zip: archive could not be opened");
  std::unique_ptr<FILE, int (*)(FILE*)> in(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!in) return Status::NotFound("zip: cannot open '" + path + "'");
  std::vector<char> buf(size_t(1) << 20);
  // Pass 1: CRC-32 and size, so the local header can go out before the data.
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t size = 0;
  while (true) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), in.get());
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(n));
    size += n;
    if (n < buf.size()) break;
  }
  if (std::ferror(in.get())) return Status::IOError("zip: cannot read '" + path + "'");
  std::rewind(in.get());

  zip_fileinfo zi{};
  const std::time_t t = static_cast<std::time_t>(mtime);
  std::tm tm{};
  localtime_r(&t, &tm);
  zi.tmz_date.tm_sec = static_cast<uInt>(tm.tm_sec);
  zi.tmz_date.tm_min = static_cast<uInt>(tm.tm_min);
  zi.tmz_date.tm_hour = static_cast<uInt>(tm.tm_hour);
  zi.tmz_date.tm_mday = static_cast<uInt>(tm.tm_mday);
  zi.tmz_date.tm_mon = static_cast<uInt>(tm.tm_mon);
  zi.tmz_date.tm_year = static_cast<uInt>(tm.tm_year + 1900);
  // Zip64 fields only when this entry or its offset can pass 4 GiB.
  const bool zip64 = io_->pos + size + (uint64_t(1) << 20) >= 0xFFFFFFFFull;
  constexpr uLong kUtf8Names = 1 << 11;  // general purpose flag bit 11: the name is UTF-8
  auto* zf = static_cast<zipFile>(zip_);
  if (!io_->flush()) return Status::IOError("zip: the client went away");
  const uint64_t header_at = io_->pos;
  if (zipOpenNewFileInZip4_64(zf, name.c_str(), &zi, nullptr, 0, nullptr, 0, nullptr,
                              /*method=*/0, /*level=*/0, /*raw=*/0, -MAX_WBITS, DEF_MEM_LEVEL,
                              Z_DEFAULT_STRATEGY, nullptr, 0, /*versionMadeBy=*/0, kUtf8Names,
                              zip64 ? 1 : 0) != ZIP_OK) {
    return Status::IOError("zip: cannot start entry '" + name + "'");
  }
  if (!zip64) {
    // The local header is what is held now; fill in what the close will write.
    if (io_->held.size() < 26 || io_->sent != header_at) {
      return Status::Internal("zip: unexpected local header layout");
    }
    put_le32(io_->held.data() + 14, static_cast<uint32_t>(crc));
    put_le32(io_->held.data() + 18, static_cast<uint32_t>(size));  // stored: compressed = size
    put_le32(io_->held.data() + 22, static_cast<uint32_t>(size));
    io_->patch_base = header_at;
    io_->patch = io_->held;
    if (!io_->flush()) return Status::IOError("zip: the client went away");
  }
  uint64_t copied = 0;
  while (true) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), in.get());
    if (n > 0 && zipWriteInFileInZip(zf, buf.data(), static_cast<unsigned>(n)) != ZIP_OK) {
      return Status::IOError(io_->failed ? "zip: the client went away"
                                         : "zip: write failed for '" + name + "'");
    }
    copied += n;
    if (!zip64 && !io_->flush()) return Status::IOError("zip: the client went away");
    if (n < buf.size()) break;
  }
  if (std::ferror(in.get()) || copied != size) {
    return Status::IOError("zip: '" + path + "' changed while it was being added");
  }
  if (zipCloseFileInZip(zf) != ZIP_OK) {
    return Status::IOError(io_->failed ? "zip: the client went away or a header did not match"
                                       : "zip: cannot close entry '" + name + "'");
  }
  if (!io_->flush()) return Status::IOError("zip: the client went away");
  io_->patch.clear();
  return Status::OK();
}

Status ZipStream::finish() {
  if (!zip_) return Status::Internal("zip: archive could not be opened");
  const int rc = zipClose(static_cast<zipFile>(zip_), nullptr);
  zip_ = nullptr;
  if (rc != ZIP_OK) return Status::IOError("zip: cannot write the central directory");
  if (!io_->flush()) return Status::IOError("zip: the client went away");
  return Status::OK();
}

}  // namespace sa
