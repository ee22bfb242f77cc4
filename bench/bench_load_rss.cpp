// Peak memory of loading a full-size ViT-B-16 Chinese-CLIP from a checkpoint
// file, per precision (issue 15: <= 1.1 GB fp32, <= 0.6 GB int8).
//
// Writes random ViT-B-16 + RoBERTa-base weights as an fp16 official-layout
// checkpoint (safetensors, as released: 376 MB) into a scratch directory, then
// loads it in a fresh process per precision (this program re-executed with
// --child, so that nothing of the writer's memory counts) and prints one JSON
// line each: VmHWM (the peak resident set of the process, load included),
// VmRSS after the load, the load's wall time and the INT8 self-check.
// A child that loads nothing gives the process's own baseline.
//
// Run: build/bench/bench_load_rss [scratch dir, default /tmp/sa_bench_load_rss]
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "model/blas_setup.h"
#include "model/checkpoint_writer.h"
#include "model/chinese_clip.h"
#include "model/clip_loader.h"
#include "model/random_weights.h"

namespace {

// A "VmXXX:   123 kB" line of /proc/self/status, in MB.
double status_mb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') {
      return std::stod(line.substr(n + 1)) / 1024.0;
    }
  }
  return -1;
}

int child(const std::string& path, const std::string& what) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string check = "-";
  if (what != "none") {
    auto p = sa::parse_precision(what);
    if (!p.ok()) return 2;
    auto clip = sa::ChineseClip::load(path, "", *p);
    if (!clip.ok()) {
      std::fprintf(stderr, "load: %s\n", clip.status().to_string().c_str());
      return 1;
    }
    check = (*clip)->int8_check().summary();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"load\":\"%s\",\"peak_MB\":%.0f,\"resident_after_MB\":%.0f,\"load_s\":%.1f,\"check\":\"%s\"}\n",
                what.c_str(), status_mb("VmHWM"), status_mb("VmRSS"), secs, check.c_str());
    return 0;
  }
  std::printf("{\"load\":\"none\",\"peak_MB\":%.0f,\"resident_after_MB\":%.0f}\n", status_mb("VmHWM"),
              status_mb("VmRSS"));
  return 0;
}

int run_child(const char* self, const std::string& path, const char* what) {
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(self, self, "--child", path.c_str(), what, static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--child") {
    sa::reexec_for_blas_kernels(argv);
    return child(argv[2], argv[3]);
  }
  const std::string dir = argc > 1 ? argv[1] : "/tmp/sa_bench_load_rss";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/clip_cn_vit-b-16.safetensors";
  if (!std::filesystem::exists(path)) {
    auto spec = sa::clip_arch_spec("ViT-B-16");
    if (!spec.ok()) return 1;
    sa::ClipWeights w = sa::random_clip_weights(spec->vision, spec->text, spec->embed_dim, 2024);
    const sa::Status s = sa::write_clip_checkpoint(w, path, sa::CheckpointDType::kF16);
    if (!s.ok()) {
      std::fprintf(stderr, "write: %s\n", s.to_string().c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "checkpoint: %s (%.0f MB)\n", path.c_str(),
               static_cast<double>(std::filesystem::file_size(path)) / 1e6);
  int rc = 0;
  for (const char* what : {"none", "fp32", "int8"}) rc |= run_child(argv[0], path, what);
  return rc;
}
