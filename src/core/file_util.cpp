#include "core/file_util.h"

#include <cstdlib>

#include <chrono>

#include <signal.h>
#include <algorithm>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

namespace sa {
namespace {

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

// Closes a file descriptor on scope exit.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() { if (fd_ >= 0) ::close(fd_); }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }

 private:
  int fd_;
};

}  // namespace

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound("no such file '" + path + "'");
    return Status::IOError(errno_text("cannot open", path));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::IOError(errno_text("cannot stat", path));
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument("'" + path + "' is a directory");
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status::ResourceExhausted("file '" + path + "' is " + std::to_string(st.st_size) +
                                     " bytes, over the limit of " + std::to_string(max_bytes));
  }
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(errno_text("cannot read", path));
    }
    if (n == 0) break;  // file shrank while reading
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Status write_file_atomic(const std::string& path, std::string_view data) {
  return write_file_atomic(path, std::span<const std::string_view>(&data, 1), "");
}

Status write_file_atomic(const std::string& path, std::string_view data,
                         const std::string& tmp_dir) {
  return write_file_atomic(path, std::span<const std::string_view>(&data, 1), tmp_dir);
}

Status write_file_atomic(const std::string& path, std::span<const std::string_view> parts) {
  return write_file_atomic(path, parts, "");
}

Status write_file_atomic(const std::string& path, std::span<const std::string_view> parts,
                         const std::string& tmp_dir) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::random_device rd;
  std::string tmp =
      tmp_dir.empty()
          ? (dir / ("." + target.filename().string() + ".tmp" + std::to_string(rd()))).string()
          : (fs::path(tmp_dir) / (std::to_string(::getpid()) + "." + std::to_string(rd()) + ".tmp"))
                .string();
  {
    FdGuard fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return Status::IOError(errno_text("cannot create", tmp));
    for (std::string_view data : parts) {
      size_t done = 0;
      while (done < data.size()) {
        // At most 256 MiB per call: Linux writes at most ~2 GiB at once anyway.
        ssize_t n = ::write(fd.get(), data.data() + done, std::min<size_t>(data.size() - done, size_t{1} << 28));
        if (n < 0) {
          if (errno == EINTR) continue;
          Status s = Status::IOError(errno_text("cannot write", tmp));
          ::unlink(tmp.c_str());
          return s;
        }
        done += static_cast<size_t>(n);
      }
    }
    if (::fsync(fd.get()) != 0) {
      Status s = Status::IOError(errno_text("cannot fsync", tmp));
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Status::IOError(errno_text("cannot rename onto", path));
    ::unlink(tmp.c_str());
    return s;
  }
  // Make the rename itself durable.
  FdGuard dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());
  return Status::OK();
}

int remove_stale_temp_files(const std::string& tmp_dir,
                            const std::vector<std::string>& legacy_dirs) {
  namespace fs = std::filesystem;
  int removed = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(tmp_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.ends_with(".tmp")) continue;
    const long pid = std::strtol(name.c_str(), nullptr, 10);
    const bool alive = pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    std::error_code rm;
    if (!alive && fs::remove(it->path(), rm)) ++removed;
  }
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(1);
  for (const std::string& d : legacy_dirs) {
    std::error_code wec;
    for (auto it = fs::recursive_directory_iterator(d, wec);
         !wec && it != fs::recursive_directory_iterator(); it.increment(wec)) {
      const std::string name = it->path().filename().string();
      if (name.size() < 2 || name[0] != '.' || name.find(".tmp") == std::string::npos) continue;
      std::error_code tec, rm;
      auto t = fs::last_write_time(it->path(), tec);
      if (!tec && t < cutoff && fs::remove(it->path(), rm)) ++removed;
    }
  }
  return removed;
}

Status make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Status::IOError("cannot create directory '" + path + "': " + ec.message());
  return Status::OK();
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

Result<MappedFile> MappedFile::open(const std::string& path) {
  FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound("no such file '" + path + "'");
    return Status::IOError(errno_text("cannot open", path));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::IOError(errno_text("cannot stat", path));
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument("'" + path + "' is a directory");
  MappedFile mf;
  mf.path_ = path;
  mf.size_ = static_cast<size_t>(st.st_size);
  if (mf.size_ == 0) return mf;
  void* p = ::mmap(nullptr, mf.size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED) return Status::IOError(errno_text("cannot mmap", path));
  mf.data_ = static_cast<const uint8_t*>(p);
  return mf;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(o.data_), size_(o.size_), path_(std::move(o.path_)) {
  o.data_ = nullptr;
  o.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    data_ = o.data_;
    size_ = o.size_;
    path_ = std::move(o.path_);
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace sa
