// Model hub: names of the models we know how to load, where they live on disk,
// and `models pull` (download from Hugging Face or ModelScope with resume).
//
// Layout: <models_dir>/<name>/<file...>, files exactly as in the remote repo
// (sub-folders such as 1_Pooling/ kept). A download goes to <file>.part and is
// renamed into place only once its size (and SHA-256, when the server states
// one) checks out, so a file without .part is always complete.
// No getenv here: callers pass environment values in (see Config).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sa {

struct KnownModel {
  std::string name;                 // "ViT-B-16", "bce-embedding-base_v1", ...
  std::string kind;                 // "clip" | "sentence"
  std::string arch;                 // CLIP architecture ("ViT-B-16"); "" for sentence models
  std::vector<std::string> files;   // repo-relative paths to fetch (both sources)
  std::string hf_repo;              // "OFA-Sys/chinese-clip-vit-base-patch16"
  std::string modelscope_repo;      // "AI-ModelScope/chinese-clip-vit-base-patch16"
  int64_t approx_bytes = 0;         // total download size, for `models list`
  // The file or folder handed to the loader: a file in `files` (an official
  // clip_cn_*.pt) or "" for the model directory itself.
  std::string load_entry;
  // Fetched when present; a 404 (or 401/403: S3-style mirrors answer 403 for a
  // missing key) for one of these is not an error, only a warning (tokenizer
  // side files some mirrors lack and our loaders do not need).
  std::vector<std::string> optional_files;
};

// The built-in list: ViT-B-16, ViT-L-14, ViT-L-14-336, ViT-H-14 (official
// Chinese-CLIP checkpoints), bce-embedding-base_v1, text2vec-base-chinese.
const std::vector<KnownModel>& known_models();

// Case-insensitive lookup in known_models(); nullptr if unknown.
const KnownModel* find_known_model(const std::string& name);

// $XDG_CACHE_HOME/smart-album/models, else $HOME/.cache/smart-album/models,
// else ".smart-album/models" (both empty). Values are passed in, not read here.
std::string default_models_dir(const std::string& xdg_cache_home, const std::string& home);

// Where a pulled model's files go: <models_dir>/<name>.
std::string model_dir_for(const KnownModel& m, const std::string& models_dir);

// True if every file of `m` is present (no pending .part) under models_dir.
bool model_is_downloaded(const KnownModel& m, const std::string& models_dir);

// Name or path -> a loadable path (a file or a directory).
// - an existing path is returned as is;
// - a known name resolves to <models_dir>/<name>[/<load_entry>] when downloaded;
//   NotFound with the hint "run: smart-album models pull <name>" otherwise;
// - anything else: NotFound naming the path and listing the known names.
Result<std::string> resolve_model(const std::string& name_or_path, const std::string& models_dir);

struct PullOptions {
  std::string hf_endpoint = "https://huggingface.co";       // HF_ENDPOINT (mirrors)
  std::string source = "hf";                                // or "modelscope"
  std::string modelscope_endpoint = "https://www.modelscope.cn";
  std::string revision;              // "" = "main" (HF) / "master" (ModelScope)
  std::string hf_token;              // optional, sent as Bearer to the HF endpoint only
  int connect_timeout_s = 30;
  int stall_timeout_s = 60;          // abort if under 1 KiB/s for this long
  int retry_backoff_ms = 1000;       // wait before resuming a cut transfer (x attempt)
  // Called as bytes arrive and once per finished file: bytes of `file` done so
  // far (resumed bytes included) and its total (-1 if unknown).
  std::function<void(int64_t done, int64_t total, const std::string& file)> progress;
};

// URL of one file of a repo for the chosen source:
//   hf:         {hf_endpoint}/{repo}/resolve/{revision}/{file}
//   modelscope: {modelscope_endpoint}/api/v1/models/{repo}/repo?Revision={revision}&FilePath={file}
Result<std::string> model_file_url(const KnownModel& m, const std::string& file, const PullOptions& opt);

// Downloads every missing file of a known model (files already complete are
// skipped; an interrupted .part is resumed with a Range request). A present
// weight file that fails check_weight_file is fetched again, resuming from its bytes.
// Errors: NotFound (unknown name; HTTP 404 naming the URL), Unavailable
// (network down, 5xx, 401/403), Corruption (size or SHA-256 mismatch; the
// .part is removed and no final file is written), IOError (disk).
Status pull_model(const std::string& name, const std::string& models_dir, const PullOptions& opt);
Status pull_model(const KnownModel& model, const std::string& models_dir, const PullOptions& opt);

// One file: url -> dest, via dest + ".part", resuming it if present. A weight
// file (see check_weight_file) that fails its structural check is not renamed
// into place: Corruption, and the .part is kept so that a rerun resumes it.
Status download_file(const std::string& url, const std::string& dest, const PullOptions& opt,
                     const std::string& display_name = "");

// Structural check of a weight file, chosen by the extension of `name` (default:
// `path`), so a "<file>.part" can be checked under its final name: .safetensors
// and .bin .pt .pth (torch zip) are opened with the engine's own checkpoint
// readers (model/checkpoint.h), which validate every header, directory entry,
// offset and size against the file -- what a cut transfer breaks; anything else
// is OK without reading it. Corruption naming the file and the reader's reason
// on failure; IOError if it cannot be read.
Status check_weight_file(const std::string& path, const std::string& name = "");

}  // namespace sa
