#include "ingest/folder_scan.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace sa {
namespace {

namespace fs = std::filesystem;

std::string why(const std::error_code& ec) { return ec.message(); }

// Sorts one directory entry into files, sub-folders to visit or skipped.
void classify(const fs::directory_entry& e, FolderScan* out, std::vector<fs::path>* dirs) {
  std::error_code ec;
  const fs::path& p = e.path();
  const fs::file_status own = e.symlink_status(ec);
  if (ec) {
    out->skipped.emplace_back(p.string(), "cannot stat: " + why(ec));
    return;
  }
  if (fs::is_directory(own)) {
    dirs->push_back(p);
    return;
  }
  if (fs::is_regular_file(own)) {
    out->files.push_back(p.string());
    return;
  }
  if (!fs::is_symlink(own)) {
    out->skipped.emplace_back(p.string(), "not a regular file");
    return;
  }
  const fs::file_status target = fs::status(p, ec);
  if (ec || !fs::exists(target)) {
    out->skipped.emplace_back(p.string(), ec && ec != std::errc::no_such_file_or_directory
                                              ? "symbolic link cannot be followed: " + why(ec)
                                              : "broken symbolic link (its target does not exist)");
  } else if (fs::is_regular_file(target)) {
    out->files.push_back(p.string());
  } else if (fs::is_directory(target)) {
    out->skipped.emplace_back(p.string(), "symbolic link to a folder (not followed)");
  } else {
    out->skipped.emplace_back(p.string(), "symbolic link to something that is not a regular file");
  }
}

}  // namespace

Result<FolderScan> scan_folder(const std::string& dir) {
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) {
    return Status::IOError("cannot read folder '" + dir + "': " + why(ec));
  }
  if (!fs::exists(st)) return Status::NotFound("no such folder '" + dir + "'");
  if (!fs::is_directory(st)) return Status::InvalidArgument("'" + dir + "' is not a folder");

  FolderScan out;
  fs::path root = fs::absolute(dir, ec);
  if (ec) return Status::IOError("cannot resolve folder '" + dir + "': " + why(ec));
  root = root.lexically_normal();
  if (root.filename().empty() && root.has_relative_path()) root = root.parent_path();
  out.root = root.string();

  // Depth-first with an explicit stack: a folder that cannot be opened, or
  // whose listing fails half-way, costs that folder only.
  std::vector<fs::path> todo = {root};
  bool first = true;
  while (!todo.empty()) {
    const fs::path d = std::move(todo.back());
    todo.pop_back();
    fs::directory_iterator it(d, ec);
    if (ec) {
      if (first) return Status::IOError("cannot read folder '" + dir + "': " + why(ec));
      out.skipped.emplace_back(d.string(), "cannot read folder: " + why(ec));
      continue;
    }
    first = false;
    std::vector<fs::path> sub;
    while (it != fs::directory_iterator()) {
      const std::string name = it->path().filename().string();
      if (name.empty() || name[0] != '.') classify(*it, &out, &sub);
      it.increment(ec);
      if (ec) {
        out.skipped.emplace_back(d.string(), "listing stopped early: " + why(ec));
        break;
      }
    }
    todo.insert(todo.end(), sub.begin(), sub.end());
  }
  std::sort(out.files.begin(), out.files.end());
  std::sort(out.skipped.begin(), out.skipped.end());
  return out;
}

Result<std::vector<std::string>> list_files_recursive(const std::string& dir) {
  SA_ASSIGN_OR_RETURN(FolderScan scan, scan_folder(dir));
  return std::move(scan.files);
}

}  // namespace sa
