// Lists the files of a folder tree for import.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace sa {

// Regular files under `dir`, recursively, sorted by path. Hidden entries (a name
// starting with '.') are skipped, directories that cannot be read are skipped
// silently, symlinked directories are not followed (no cycles).
// NotFound if dir does not exist, InvalidArgument if it is not a directory.
Result<std::vector<std::string>> list_files_recursive(const std::string& dir);

}  // namespace sa
