// Model hub: the known-model table, name resolution and resumable downloads.
//
// A download is: HEAD (advisory: learn the size and, from Hugging Face's
// X-Linked-Etag, the SHA-256; a 404 fails fast) -> GET with "Range: bytes=N-"
// when a .part of N bytes exists -> append (206) or restart (200) -> check the
// size against Content-Range / Content-Length / HEAD and the SHA-256 if known
// -> check a weight file's structure (check_weight_file: a transfer without a
// size that the server cut short is caught here) -> fsync -> rename over the
// final name.
#include "hub/model_hub.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include <unistd.h>

#include "core/curl_easy.h"
#include "core/file_util.h"
#include "model/checkpoint.h"

namespace sa {
namespace fs = std::filesystem;

namespace {

constexpr int kMaxTransferAttempts = 3;
constexpr size_t kErrorBodyBytes = 2048;

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// Percent-encodes everything but unreserved characters and '/'.
std::string encode_path(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool safe_relative_path(const std::string& p) {
  if (p.empty() || p.front() == '/') return false;
  for (const auto& part : fs::path(p)) {
    if (part == "..") return false;
  }
  return true;
}

int64_t file_size_or(const std::string& path, int64_t fallback) {
  std::error_code ec;
  auto n = fs::file_size(path, ec);
  return ec ? fallback : static_cast<int64_t>(n);
}

Result<std::string> sha256_file(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return Status::IOError("cannot open " + path + " to verify it");
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Status::Internal("OpenSSL SHA-256 init failed");
  }
  std::vector<unsigned char> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) {
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
  }
  if (std::ferror(f.get())) return Status::IOError("read error while verifying " + path);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 15]);
  }
  return hex;
}

// Headers of interest, per response: a redirect chain passes several
// responses through the header callback, each starting with a status line.
struct HeaderInfo {
  int64_t content_length = -1;       // of the latest response
  int64_t range_start = -1;          // Content-Range of the latest response
  int64_t range_total = -1;
  int64_t linked_size = -1;          // X-Linked-Size (HF, any hop)
  std::string linked_sha256;         // X-Linked-Etag when it is a SHA-256 (HF LFS)
};

std::string header_value(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  return std::string(v);
}

int64_t parse_int(const std::string& s) {
  if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), ::isdigit)) return -1;
  return std::stoll(s);
}

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  auto* h = static_cast<HeaderInfo*>(user);
  size_t n = size * nmemb;
  std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    h->content_length = -1;
    h->range_start = h->range_total = -1;
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name = lower(std::string(line.substr(0, colon)));
  std::string value = header_value(line.substr(colon + 1));
  if (name == "content-length") {
    h->content_length = parse_int(value);
  } else if (name == "content-range") {
    // "bytes 100-199/200" (total may be "*").
    long long a = -1, b = -1;
    char total[32] = {0};
    if (std::sscanf(value.c_str(), "bytes %lld-%lld/%31s", &a, &b, total) == 3) {
      h->range_start = a;
      h->range_total = parse_int(total);
    }
  } else if (name == "x-linked-size") {
    h->linked_size = parse_int(value);
  } else if (name == "x-linked-etag") {
    std::string v = value;
    if (v.rfind("W/", 0) == 0) v = v.substr(2);
    v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
    v = lower(v);
    if (v.size() == 64 && std::all_of(v.begin(), v.end(), ::isxdigit)) h->linked_sha256 = v;
  }
  return n;
}

struct GetState {
  CURL* curl = nullptr;
  std::string part_path;
  int64_t offset = 0;          // bytes already in the .part when this transfer began
  File file;
  bool decided = false;        // the first body byte fixed how we write
  bool write_failed = false;
  long status = 0;
  std::string error_body;      // body of a non-2xx response (truncated)
  HeaderInfo* headers = nullptr;
  int64_t written = 0;         // bytes written in this transfer
  const PullOptions* opt = nullptr;
  std::string display;
  int64_t total_hint = -1;
  int64_t last_reported = -1;
};

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* st = static_cast<GetState*>(user);
  size_t n = size * nmemb;
  if (!st->decided) {
    st->decided = true;
    curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &st->status);
    if (st->status == 206) {
      if (st->headers->range_start != st->offset) {
        // A range we did not ask for: refuse rather than splice wrong bytes.
        st->write_failed = true;
        return 0;
      }
      st->file.reset(std::fopen(st->part_path.c_str(), "ab"));
    } else if (st->status == 200) {
      st->offset = 0;  // the server ignored Range: start over
      st->file.reset(std::fopen(st->part_path.c_str(), "wb"));
    }
    if ((st->status == 200 || st->status == 206) && !st->file) {
      st->write_failed = true;
      return 0;
    }
  }
  if (!st->file) {
    if (st->error_body.size() < kErrorBodyBytes) {
      st->error_body.append(data, std::min(n, kErrorBodyBytes - st->error_body.size()));
    }
    return n;
  }
  if (std::fwrite(data, 1, n, st->file.get()) != n) {
    st->write_failed = true;
    return 0;
  }
  st->written += static_cast<int64_t>(n);
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* st = static_cast<GetState*>(user);
  if (st->opt->progress && st->file) {
    int64_t done = st->offset + st->written;
    if (done != st->last_reported) {
      st->last_reported = done;
      int64_t total = st->total_hint;
      if (st->headers->range_total >= 0) total = st->headers->range_total;
      else if (total < 0 && st->status == 200 && st->headers->content_length >= 0) total = st->headers->content_length;
      st->opt->progress(done, total, st->display);
    }
  }
  return 0;
}

// The download options on top of curl_easy_new()'s shared ones.
void common_options(CURL* c, const PullOptions& opt, curl_slist* headers) {
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(std::max(1, opt.connect_timeout_s)));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max(1, opt.stall_timeout_s)));
  if (headers != nullptr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
}

CurlSlist auth_headers(const std::string& url, const PullOptions& opt) {
  CurlSlist list;
  // The token goes to the HF endpoint only; libcurl drops custom
  // Authorization headers when a redirect leaves that host.
  if (!opt.hf_token.empty() && url.rfind(strip_slash(opt.hf_endpoint) + "/", 0) == 0) {
    curl_add_header(list, "Authorization: Bearer " + opt.hf_token);
  }
  return list;
}

Status http_status_error(long status, const std::string& url, const std::string& body) {
  std::string detail = body.empty() ? "" : " (" + body.substr(0, 200) + ")";
  if (status == 404) return Status::NotFound("not found (HTTP 404): " + url);
  if (status == 401 || status == 403) {
    return Status::Unavailable("access denied (HTTP " + std::to_string(status) + ") for " + url +
                               ": the repository may be gated or private" + detail);
  }
  return Status::Unavailable("HTTP " + std::to_string(status) + " for " + url + detail);
}

Status curl_error(CURLcode code, const char* errbuf, const std::string& url) {
  std::string why = curl_error_text(code, errbuf);
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return Status::Unavailable("cannot reach " + url + ": " + why);
    case CURLE_OPERATION_TIMEDOUT:
      return Status::Unavailable("download from " + url + " stalled: " + why);
    default:
      return Status::Unavailable("download from " + url + " failed: " + why);
  }
}

struct Probe {
  long status = 0;
  int64_t size = -1;
  std::string sha256;
};

// HEAD is advisory: presigned CDN URLs may refuse HEAD, so only a 404 (or an
// unreachable host) is final; anything else leaves the size unknown.
Result<Probe> probe(const std::string& url, const PullOptions& opt) {
  char errbuf[CURL_ERROR_SIZE] = {0};
  CurlEasy h = curl_easy_new(errbuf);
  if (!h) return Status::Internal("curl_easy_init failed");
  HeaderInfo hi;
  CurlSlist headers = auth_headers(url, opt);
  common_options(h.get(), opt, headers.get());
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_NOBODY, 1L);
  curl_easy_setopt(h.get(), CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h.get(), CURLOPT_HEADERDATA, &hi);
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT, static_cast<long>(std::max(1, opt.connect_timeout_s) * 2));
  CURLcode rc = curl_easy_perform(h.get());
  Probe p;
  if (rc != CURLE_OK) {
    if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT) return curl_error(rc, errbuf, url);
    return p;
  }
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &p.status);
  if (p.status == 404) return Status::NotFound("not found (HTTP 404): " + url);
  p.sha256 = hi.linked_sha256;
  if (hi.linked_size >= 0) p.size = hi.linked_size;
  else if (p.status >= 200 && p.status < 300) p.size = hi.content_length;
  return p;
}

// One GET attempt into `part`. Returns OK when the transfer completed (sizes
// are checked by the caller); `*expected` gets the size the server announced.
Status get_once(const std::string& url, const std::string& part, const PullOptions& opt,
                const std::string& display, int64_t total_hint, int64_t* expected,
                std::string* sha256, bool* range_rejected, bool* transient, long* http_status) {
  *range_rejected = false;
  *transient = false;
  *http_status = 0;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CurlEasy h = curl_easy_new(errbuf);
  if (!h) return Status::Internal("curl_easy_init failed");
  HeaderInfo hi;
  GetState st;
  st.curl = h.get();
  st.part_path = part;
  st.offset = file_size_or(part, 0);
  st.headers = &hi;
  st.opt = &opt;
  st.display = display;
  st.total_hint = total_hint;
  CurlSlist headers = auth_headers(url, opt);
  common_options(h.get(), opt, headers.get());
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h.get(), CURLOPT_HEADERDATA, &hi);
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(h.get(), CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h.get(), CURLOPT_XFERINFODATA, &st);
  curl_easy_setopt(h.get(), CURLOPT_NOPROGRESS, 0L);
  // CURLOPT_RANGE rather than RESUME_FROM: libcurl then accepts a 200 (server
  // without range support) and we restart the file ourselves.
  std::string range = std::to_string(st.offset) + "-";
  if (st.offset > 0) curl_easy_setopt(h.get(), CURLOPT_RANGE, range.c_str());

  CURLcode rc = curl_easy_perform(h.get());
  long status = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  *http_status = status;
  if (st.file) {
    bool flushed = std::fflush(st.file.get()) == 0 && ::fsync(fileno(st.file.get())) == 0;
    st.file.reset();
    if (!flushed) return Status::IOError("cannot write " + part);
  }
  if (st.write_failed) {
    if (status == 206 && hi.range_start != st.offset) {
      return Status::Corruption("server answered a range request for " + url + " with the wrong range");
    }
    return Status::IOError("cannot write " + part);
  }
  if (hi.linked_sha256.size() == 64) *sha256 = hi.linked_sha256;
  if (rc != CURLE_OK) {
    *transient = true;
    return curl_error(rc, errbuf, url);
  }
  if (status == 416) {
    *range_rejected = true;
    return Status::Unavailable("range not satisfiable (HTTP 416) for " + url);
  }
  if (status != 200 && status != 206) return http_status_error(status, url, st.error_body);
  if (status == 200 && !st.decided) {
    // An empty file: the body callback never ran.
    File f(std::fopen(part.c_str(), "wb"));
    if (!f) return Status::IOError("cannot write " + part);
  }
  if (status == 206) *expected = hi.range_total;
  else *expected = hi.content_length;
  return Status::OK();
}

}  // namespace

const std::vector<KnownModel>& known_models() {
  // Official Chinese-CLIP checkpoints (clip_cn_*.pt) are the files cn_clip's
  // load_from_name fetches: from OFA-Sys/<repo> on Hugging Face and from
  // AI-ModelScope/<repo> on ModelScope. The same weights exist there in HF
  // layout (config.json + pytorch_model.bin); one .pt is one file on both hubs.
  static const std::vector<KnownModel> kModels = {
      {"ViT-B-16", "clip", "ViT-B-16", {"clip_cn_vit-b-16.pt"},
       "OFA-Sys/chinese-clip-vit-base-patch16", "AI-ModelScope/chinese-clip-vit-base-patch16",
       753'000'000, "clip_cn_vit-b-16.pt", {}},
      {"ViT-L-14", "clip", "ViT-L-14", {"clip_cn_vit-l-14.pt"},
       "OFA-Sys/chinese-clip-vit-large-patch14", "AI-ModelScope/chinese-clip-vit-large-patch14",
       1'630'000'000, "clip_cn_vit-l-14.pt", {}},
      {"ViT-L-14-336", "clip", "ViT-L-14-336", {"clip_cn_vit-l-14-336.pt"},
       "OFA-Sys/chinese-clip-vit-large-patch14-336px", "AI-ModelScope/chinese-clip-vit-large-patch14-336px",
       1'630'000'000, "clip_cn_vit-l-14-336.pt", {}},
      {"ViT-H-14", "clip", "ViT-H-14", {"clip_cn_vit-h-14.pt"},
       "OFA-Sys/chinese-clip-vit-huge-patch14", "AI-ModelScope/chinese-clip-vit-huge-patch14",
       3'830'000'000, "clip_cn_vit-h-14.pt", {}},
      {"bce-embedding-base_v1", "sentence", "",
       {"config.json", "pytorch_model.bin", "sentencepiece.bpe.model", "modules.json",
        "sentence_bert_config.json", "1_Pooling/config.json"},
       "maidalun1020/bce-embedding-base_v1", "maidalun/bce-embedding-base_v1", 1'115'000'000, "",
       {"tokenizer_config.json", "special_tokens_map.json", "config_sentence_transformers.json"}},
      {"text2vec-base-chinese", "sentence", "",
       {"config.json", "model.safetensors", "vocab.txt", "modules.json", "sentence_bert_config.json",
        "1_Pooling/config.json"},
       "shibing624/text2vec-base-chinese", "", 409'000'000, "",
       {"tokenizer_config.json", "special_tokens_map.json"}},
  };
  return kModels;
}

const KnownModel* find_known_model(const std::string& name) {
  const std::string want = lower(name);
  for (const KnownModel& m : known_models()) {
    if (lower(m.name) == want) return &m;
  }
  return nullptr;
}

std::string default_models_dir(const std::string& xdg_cache_home, const std::string& home) {
  if (!xdg_cache_home.empty()) return strip_slash(xdg_cache_home) + "/smart-album/models";
  if (!home.empty()) return strip_slash(home) + "/.cache/smart-album/models";
  return ".smart-album/models";
}

std::string model_dir_for(const KnownModel& m, const std::string& models_dir) {
  return (fs::path(models_dir) / m.name).string();
}

bool model_is_downloaded(const KnownModel& m, const std::string& models_dir) {
  if (models_dir.empty() || m.files.empty()) return false;
  const fs::path dir = model_dir_for(m, models_dir);
  std::error_code ec;
  for (const std::string& f : m.files) {
    if (!fs::is_regular_file(dir / f, ec)) return false;
  }
  return true;
}

Result<std::string> resolve_model(const std::string& name_or_path, const std::string& models_dir) {
  if (name_or_path.empty()) return Status::InvalidArgument("no model given");
  std::error_code ec;
  if (fs::exists(name_or_path, ec)) return name_or_path;

  if (const KnownModel* m = find_known_model(name_or_path)) {
    const std::string dir = model_dir_for(*m, models_dir);
    if (!model_is_downloaded(*m, models_dir)) {
      return Status::NotFound("model " + m->name + " is not downloaded (looked in " +
                              (models_dir.empty() ? std::string("<no models dir>") : dir) +
                              "); run: smart-album models pull " + m->name);
    }
    return m->load_entry.empty() ? dir : (fs::path(dir) / m->load_entry).string();
  }
  // A folder the user placed in the models dir by hand.
  if (!models_dir.empty() && safe_relative_path(name_or_path) &&
      fs::is_directory(fs::path(models_dir) / name_or_path, ec)) {
    return (fs::path(models_dir) / name_or_path).string();
  }
  std::string known;
  for (const KnownModel& m : known_models()) known += (known.empty() ? "" : ", ") + m.name;
  return Status::NotFound("model '" + name_or_path + "' is neither an existing file or directory nor a known model (" +
                          known + ")");
}

Result<std::string> model_file_url(const KnownModel& m, const std::string& file, const PullOptions& opt) {
  if (!safe_relative_path(file)) return Status::InvalidArgument("bad file name in model spec: '" + file + "'");
  const std::string source = lower(opt.source);
  if (source == "hf" || source == "huggingface" || source.empty()) {
    if (m.hf_repo.empty()) return Status::Unavailable(m.name + " is not on Hugging Face; try --source modelscope");
    std::string rev = opt.revision.empty() ? "main" : opt.revision;
    return strip_slash(opt.hf_endpoint) + "/" + m.hf_repo + "/resolve/" + encode_path(rev) + "/" + encode_path(file);
  }
  if (source == "modelscope" || source == "ms") {
    if (m.modelscope_repo.empty()) {
      return Status::Unavailable(m.name +
                                 " has no ModelScope mirror; use the Hugging Face source (a mirror such as "
                                 "HF_ENDPOINT=https://hf-mirror.com works)");
    }
    std::string rev = opt.revision.empty() ? "master" : opt.revision;
    return strip_slash(opt.modelscope_endpoint) + "/api/v1/models/" + m.modelscope_repo +
           "/repo?Revision=" + encode_path(rev) + "&FilePath=" + encode_path(file);
  }
  return Status::InvalidArgument("unknown model source '" + opt.source + "' (use hf or modelscope)");
}

namespace {

// download_file(); `*refused` gets the HTTP status of a final non-2xx answer
// (404 from HEAD or GET, 401, 403, 5xx ...), 0 otherwise.
Status download_file_impl(const std::string& url, const std::string& dest, const PullOptions& opt,
                          const std::string& display_name, long* refused) {
  *refused = 0;
  const std::string display = display_name.empty() ? fs::path(dest).filename().string() : display_name;
  const std::string part = dest + ".part";
  {
    fs::path parent = fs::path(dest).parent_path();
    if (!parent.empty()) SA_RETURN_IF_ERROR(make_dirs(parent.string()));
  }

  Result<Probe> probed = probe(url, opt);
  if (!probed.ok()) {
    if (probed.status().code() == StatusCode::kNotFound) *refused = 404;
    return probed.status();
  }
  const Probe& p = *probed;
  int64_t remote = p.size;
  std::string sha = p.sha256;
  if (remote >= 0 && file_size_or(part, -1) > remote) {
    spdlog::warn("models: {} is larger than the remote file; starting over", part);
    fs::remove(part);
  }

  Status last;
  bool restarted_after_416 = false;
  for (int attempt = 0; attempt < kMaxTransferAttempts; ++attempt) {
    int64_t have = file_size_or(part, -1);
    int64_t expected = -1;
    if (remote >= 0 && have == remote) {
      expected = remote;  // a previous run finished the bytes but not the rename
      last = Status::OK();
    } else {
      if (attempt > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::max(0, opt.retry_backoff_ms) * attempt));
      }
      bool range_rejected = false, transient = false;
      long http_status = 0;
      last = get_once(url, part, opt, display, remote, &expected, &sha, &range_rejected, &transient,
                      &http_status);
      if (range_rejected && !restarted_after_416) {
        // Our .part no longer matches the remote file: start from scratch.
        restarted_after_416 = true;
        fs::remove(part);
        --attempt;
        continue;
      }
      // Only a transport failure is worth another try; the .part is kept.
      if (!last.ok()) {
        if (!transient) {
          if (http_status >= 300) *refused = http_status;
          return last;
        }
        spdlog::warn("models: {} (attempt {}/{})", last.message(), attempt + 1, kMaxTransferAttempts);
        continue;
      }
    }

    const int64_t actual = file_size_or(part, -1);
    if (expected >= 0 && remote >= 0 && expected != remote) {
      fs::remove(part);
      return Status::Corruption("size mismatch for " + url + ": the server announced " + std::to_string(remote) +
                                " bytes, then sent a file of " + std::to_string(expected));
    }
    if (expected < 0) expected = remote;
    if (actual < 0) return Status::IOError("download of " + url + " produced no file");
    if (expected >= 0 && actual != expected) {
      fs::remove(part);
      return Status::Corruption("size mismatch for " + url + ": got " + std::to_string(actual) +
                                " bytes, expected " + std::to_string(expected));
    }
    if (!sha.empty()) {
      SA_ASSIGN_OR_RETURN(std::string got, sha256_file(part));
      if (got != sha) {
        fs::remove(part);
        return Status::Corruption("SHA-256 mismatch for " + url + ": got " + got + ", expected " + sha);
      }
    }
    // Without a Content-Length (or a size from HEAD) a connection closed early
    // looks like a complete transfer: the format is the last line of defence.
    Status valid = check_weight_file(part, dest);
    if (!valid.ok()) {
      if (valid.code() != StatusCode::kCorruption) return valid;
      if (expected >= 0 || !sha.empty()) {
        // Every announced byte arrived: the server's copy itself is bad.
        fs::remove(part);
        return Status::Corruption("the file at " + url + " is not a valid weight file: " + valid.message());
      }
      return Status::Corruption("download of " + url + " is incomplete: " + valid.message() +
                                " (the server sent no size; partial file kept as " + part + ", rerun to resume)");
    }
    std::error_code ec;
    fs::rename(part, dest, ec);
    if (ec) return Status::IOError("cannot rename " + part + " to " + dest + ": " + ec.message());
    if (opt.progress) opt.progress(actual, actual, display);
    return Status::OK();
  }
  return last.with_context("giving up after " + std::to_string(kMaxTransferAttempts) +
                           " attempts (partial file kept; rerun to resume)");
}

}  // namespace

Status check_weight_file(const std::string& path, const std::string& name) {
  const std::string ext = lower(fs::path(name.empty() ? path : name).extension().string());
  const bool safetensors = ext == ".safetensors";
  const bool zip = ext == ".bin" || ext == ".pt" || ext == ".pth";
  if (!safetensors && !zip) return Status::OK();
  const std::string shown = fs::path(name.empty() ? path : name).filename().string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Status::IOError("cannot open " + path + " to check it");
  // The engine's own readers: they validate every header, directory entry,
  // offset and size against the file, which is what a cut transfer breaks.
  auto ck = safetensors ? Checkpoint::open_safetensors(path) : Checkpoint::open_torch_zip(path);
  if (ck.ok()) return Status::OK();
  if (ck.status().code() == StatusCode::kIOError) return ck.status();
  return Status::Corruption(shown + ": " + ck.status().message());
}

Status download_file(const std::string& url, const std::string& dest, const PullOptions& opt,
                     const std::string& display_name) {
  long refused = 0;
  return download_file_impl(url, dest, opt, display_name, &refused);
}

Status pull_model(const KnownModel& model, const std::string& models_dir, const PullOptions& opt) {
  if (models_dir.empty()) return Status::InvalidArgument("no models directory given");
  if (model.files.empty()) return Status::InvalidArgument("model " + model.name + " lists no files");
  const fs::path dir = model_dir_for(model, models_dir);
  SA_RETURN_IF_ERROR(make_dirs(dir.string()));

  auto fetch = [&](const std::string& file, bool optional) -> Status {
    SA_ASSIGN_OR_RETURN(std::string url, model_file_url(model, file, opt));
    const std::string dest = (dir / file).string();
    std::error_code ec;
    if (fs::is_regular_file(dest, ec)) {
      Status valid = check_weight_file(dest);
      if (valid.ok()) {
        int64_t n = file_size_or(dest, 0);
        if (opt.progress) opt.progress(n, n, file);
        return Status::OK();
      }
      // Installed by an older version that did not check, or damaged since:
      // fetch it again, resuming from its bytes when there is no .part yet.
      spdlog::warn("models: {} fails its check ({}); downloading it again", dest, valid.message());
      const std::string part = dest + ".part";
      const bool have_part = fs::exists(part, ec);
      ec.clear();
      if (have_part) fs::remove(dest, ec);
      else fs::rename(dest, part, ec);
      if (ec) return Status::IOError("cannot move aside " + dest + ": " + ec.message());
    }
    spdlog::info("models: fetching {}", url);
    long refused = 0;
    Status st = download_file_impl(url, dest, opt, file, &refused);
    if (optional && !st.ok() && refused == 404) {
      spdlog::info("models: optional file {} not on the server, skipped", file);
      return Status::OK();
    }
    if (optional && !st.ok() && (refused == 401 || refused == 403)) {
      // S3-style mirrors answer 403 for a key that does not exist.
      spdlog::warn("models: optional file {} answered HTTP {}; treated as absent", file, refused);
      return Status::OK();
    }
    return st;
  };
  for (const std::string& f : model.files) SA_RETURN_IF_ERROR(fetch(f, false).with_context("pull " + model.name));
  for (const std::string& f : model.optional_files) {
    SA_RETURN_IF_ERROR(fetch(f, true).with_context("pull " + model.name));
  }
  spdlog::info("models: {} ready in {}", model.name, dir.string());
  return Status::OK();
}

Status pull_model(const std::string& name, const std::string& models_dir, const PullOptions& opt) {
  const KnownModel* m = find_known_model(name);
  if (m == nullptr) {
    std::string known;
    for (const KnownModel& k : known_models()) known += (known.empty() ? "" : ", ") + k.name;
    return Status::NotFound("unknown model '" + name + "'; known models: " + known);
  }
  return pull_model(*m, models_dir, opt);
}

}  // namespace sa
