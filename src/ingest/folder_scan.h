// Lists the files of a folder tree for import.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace sa {

struct FolderScan {
  // The folder as an absolute, lexically normal path without a trailing
  // separator ("." and "photos/" name the folder itself, as "/abs/photos" does).
  std::string root;
  std::vector<std::string> files;  // regular files under root, sorted by path
  // Entries that were not listed, with the reason: folders that cannot be read,
  // broken symbolic links, symbolic links to folders (not followed), sockets ...
  std::vector<std::pair<std::string, std::string>> skipped;
};

// Scans `dir` recursively. Hidden entries (a name starting with '.') are left
// out without a report; symlinked files are listed, symlinked folders are not
// followed (no cycles). A folder that cannot be read is reported in `skipped`
// and the scan goes on with the rest of the tree.
// NotFound if dir does not exist, InvalidArgument if it is not a directory,
// IOError if dir itself cannot be read.
Result<FolderScan> scan_folder(const std::string& dir);

// scan_folder(dir).files, for callers that do not report skipped entries.
Result<std::vector<std::string>> list_files_recursive(const std::string& dir);

}  // namespace sa
