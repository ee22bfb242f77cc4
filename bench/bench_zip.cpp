// ZIP download streaming (server/zip_stream.h) without the network:
//   zip_stream_400mb   50 files of 8 MiB (random bytes, like JPEG data) into a
//                      sink that drops the bytes; throughput in bytes/s and the
//                      process's peak RSS (ru_maxrss) before and after.
// The files are written once to a temp dir (page cache warm, as for a server
// that just served the thumbnails); the CRC pass reads them from there too.
//
//   build/bench/bench_zip
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "server/zip_stream.h"

namespace {

namespace fs = std::filesystem;

constexpr int kFiles = 50;
constexpr size_t kFileBytes = size_t(8) << 20;

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

struct Files {
  fs::path dir;
  std::vector<std::string> paths;
  Files() {
    dir = fs::temp_directory_path() / ("sa_bench_zip_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::mt19937_64 rng(1);
    std::vector<uint64_t> buf(kFileBytes / 8);
    for (int i = 0; i < kFiles; ++i) {
      for (auto& x : buf) x = rng();
      const std::string p = (dir / ("IMG_" + std::to_string(i) + ".jpg")).string();
      std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(buf.data()), kFileBytes);
      paths.push_back(p);
    }
  }
  ~Files() { fs::remove_all(dir); }
};

void zip_stream(benchmark::State& state) {
  static Files files;
  const long rss_before = peak_rss_kib();
  uint64_t bytes = 0;
  for (auto _ : state) {
    uint64_t sent = 0;
    sa::ZipStream z([&](const char*, size_t n) {
      sent += n;
      return true;
    });
    for (const auto& p : files.paths) {
      if (!z.add_file(z.unique_name("IMG.jpg"), p, 0).ok()) state.SkipWithError("add_file failed");
    }
    if (!z.finish().ok()) state.SkipWithError("finish failed");
    bytes += sent;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["peak_rss_mib_before"] = static_cast<double>(rss_before) / 1024;
  state.counters["peak_rss_mib_after"] = static_cast<double>(peak_rss_kib()) / 1024;
  state.counters["archive_mib"] = static_cast<double>(bytes / state.iterations()) / (1 << 20);
}

}  // namespace

BENCHMARK(zip_stream)->Name("zip_stream_400mb")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_MAIN();
