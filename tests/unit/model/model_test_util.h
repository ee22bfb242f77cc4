// Helpers shared by the model tests: whole-file reads and a scratch directory
// for corrupt copies of the test checkpoints.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "model/ops.h"
#include "model/weights.h"

namespace sa::testutil {

// A small BERT whose hidden size is not a multiple of 8 (scalar tails too).
inline BertConfig tiny_bert() {
  BertConfig c;
  c.vocab_size = 97;
  c.hidden = 44;
  c.layers = 2;
  c.heads = 4;
  c.intermediate = 88;
  c.max_position = 40;
  return c;
}

// The smallest ViT a ChineseClip facade test needs (one block, 4 patches).
inline VitConfig tiny_clip_vit() {
  VitConfig c;
  c.image_size = 32;
  c.patch_size = 16;
  c.width = 32;
  c.layers = 1;
  c.heads = 2;
  c.mlp = 64;
  return c;
}

// Deterministic pseudo-random values in (-a, a) (the kernel tests' inputs).
inline std::vector<float> values(size_t n, float a, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = a * (static_cast<float>(s >> 8) / 8388608.0f - 1.0f);
  }
  return v;
}

// The activations of ops.h from their definitions, in double precision.
inline double act_ref(double v, Act act) {
  switch (act) {
    case Act::kQuickGelu: return v / (1.0 + std::exp(-1.702 * v));
    case Act::kGeluErf: return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case Act::kNone: break;
  }
  return v;
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A fresh directory under the system temp dir, removed on scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "sa_model_test") {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            (tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path(const std::string& name = "") const { return (path_ / name).string(); }

  // Writes bytes to name (parents created) and returns its path.
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string p = path(name);
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::error_code ec;
    std::filesystem::remove(p, ec);  // unlink first: ext4 flushes truncated-and-rewritten files
    std::ofstream f(p, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    return p;
  }

  // Copies the regular files of src_dir to name, replacing `file` by `bytes` (if given).
  std::string copy_dir(const std::string& src_dir, const std::string& name,
                       const std::string& file = "", const std::string& bytes = "") const {
    const std::string dst = path(name);
    std::filesystem::create_directories(dst);
    for (const auto& e : std::filesystem::directory_iterator(src_dir)) {
      if (!e.is_regular_file()) continue;
      const std::string fname = e.path().filename().string();
      if (fname == file) continue;
      std::filesystem::copy_file(e.path(), std::filesystem::path(dst) / fname,
                                 std::filesystem::copy_options::overwrite_existing);
    }
    if (!file.empty()) write(name + "/" + file, bytes);
    return dst;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace sa::testutil
