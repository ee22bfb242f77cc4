// Configuration: one struct, filled once (flags > environment > config file) by
// load_config() in the CLI and passed down. No module calls getenv().
#pragma once

#include <string>

#include "core/status.h"

namespace sa {

struct VlmConfig {
  std::string base_url = "https://dashscope.aliyuncs.com/compatible-mode/v1";
  std::string api_key;  // secret: never logged, never stored, never returned
  std::string model = "qwen-vl-plus";
  int timeout_s = 60;
  int max_retries = 3;
  int concurrency = 2;
  bool configured() const { return !api_key.empty() || base_url.rfind("http://127.0.0.1", 0) == 0 ||
                                   base_url.rfind("http://localhost", 0) == 0; }
};

struct Config {
  std::string data_dir = "data";
  std::string model;        // CLIP checkpoint path or known name ("ViT-B-16"); empty = no search
  std::string arch;         // overrides architecture of an official checkpoint
  std::string text_model;   // sentence embedder dir or known name; empty = none
  // Inference precision of both models: fp32 | int8; empty = the album's saved
  // setting (the page's 精度, applied at start), else fp32.
  std::string precision;
  std::string models_dir;   // where `models pull` stores and names resolve; default $XDG_CACHE_HOME/smart-album/models
  std::string host = "127.0.0.1";
  int port = 5000;
  int threads = 0;          // BLAS threads; 0 = all cores
  int embed_batch = 8;      // images per encoder batch
  // Import/upload: decode JPEGs with DCT scaling to >= 2x the model input before the
  // exact bicubic (opt-in; its cosine to the exact path is in docs/performance.md).
  bool reduced_decode = false;
  long long max_upload_bytes = 200LL << 20;   // per file
  long long max_pixels = 100'000'000;         // decompression-bomb limit
  // Photos at which the search index switches to its IVF layout (built in the
  // background, docs/scaling.md); <= 0: never. 0 lists: ~2 sqrt(photos).
  long long ann_min_photos = 500'000;
  int ann_lists = 0;
  // How IVF searches may stop early (ProbeOptions in index/vector_index.h):
  // expected neighbours left in unprobed lists (0.1: recall@10 >= 0.98
  // measured), and a hard budget as a share of the library (0: none). Both 0:
  // exact searches.
  double ann_expected_misses = 0.1;
  double ann_probe_fraction = 0;
  std::string web_dir;      // static files; default: <source>/web
  VlmConfig vlm;
};

}  // namespace sa
