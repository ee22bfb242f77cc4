// Model hub: name resolution and `models pull` against a fake hub on 127.0.0.1
// serving the tiny Chinese-CLIP test model.
#include "hub/model_hub.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "../free_port.h"
#include "core/file_util.h"
#include "core/sha256.h"
#include "model/chinese_clip.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

const std::string kTinyDir = std::string(SA_TEST_DATA) + "/clip/tiny-b16/hf-safetensors";

std::string slurp(const std::string& path) {
  auto r = read_file(path);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : std::string();
}

struct Seen {
  std::string method, path, range;
};

// Serves repo files in both hub URL forms:
//   HF:         /{owner}/{repo}/resolve/{rev}/{file}
//   ModelScope: /api/v1/models/{owner}/{repo}/repo?Revision=..&FilePath=..
// and an HF-LFS-like redirect: /lfs/{repo}/resolve/main/{file} -> 302 to the
// HF form, with X-Linked-Size / X-Linked-Etag on the redirect.
class FakeHub {
 public:
  FakeHub() {
    svr_.Get(R"(/api/v1/models/([^/]+/[^/]+)/repo)", [this](const httplib::Request& req, httplib::Response& res) {
      serve(req, res, req.matches[1], req.get_param_value("FilePath"));
    });
    svr_.Get(R"(/lfs/([^/]+)/resolve/main/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      std::string repo = "org/" + std::string(req.matches[1]);
      std::string file = req.matches[2];
      std::lock_guard<std::mutex> lock(mu_);
      auto it = files_.find(repo + "/" + file);
      if (it == files_.end()) {
        res.status = 404;
        return;
      }
      res.status = 302;
      res.set_header("Location", "/" + repo + "/resolve/main/" + file);
      res.set_header("X-Linked-Size", std::to_string(it->second.size()));
      res.set_header("X-Linked-Etag", "\"" + (etag_override_.empty() ? sha256_hex(it->second) : etag_override_) + "\"");
    });
    svr_.Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      serve(req, res, req.matches[1], req.matches[3]);
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeHub() {
    svr_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void add(const std::string& repo, const std::string& file, std::string content) {
    std::lock_guard<std::mutex> lock(mu_);
    files_[repo + "/" + file] = std::move(content);
  }
  // HEAD answers with this many bytes instead of the real size.
  void set_head_size(const std::string& repo, const std::string& file, size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    head_size_[repo + "/" + file] = n;
  }
  void set_ignore_range(bool v) { ignore_range_ = v; }
  // Answer every request for repo/file with this HTTP status (0: serve it).
  void set_status(const std::string& repo, const std::string& file, int status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_[repo + "/" + file] = status;
  }
  // Plain GETs of repo/file send only its first n bytes, chunked (no
  // Content-Length), and end cleanly: a mirror that cut the file short.
  void set_unsized_prefix(const std::string& repo, const std::string& file, size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    unsized_prefix_[repo + "/" + file] = n;
  }
  // The next plain GET is cut off halfway through.
  void cut_next_get() { cut_once_ = true; }
  void set_etag_override(const std::string& e) {
    std::lock_guard<std::mutex> lock(mu_);
    etag_override_ = e;
  }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  size_t gets() {
    size_t n = 0;
    for (const auto& s : seen()) n += s.method == "GET";
    return n;
  }

 private:
  void record(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back({req.method, req.path, req.get_header_value("Range")});
  }

  void serve(const httplib::Request& req, httplib::Response& res, const std::string& repo, const std::string& file) {
    record(req);
    std::string content;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = files_.find(repo + "/" + file);
      if (it == files_.end()) {
        res.status = 404;
        res.set_content("Entry not found", "text/plain");
        return;
      }
      content = it->second;
      auto forced = status_.find(repo + "/" + file);
      if (forced != status_.end() && forced->second != 0) {
        res.status = forced->second;
        res.set_content("<Error><Code>AccessDenied</Code></Error>", "application/xml");
        return;
      }
      auto prefix = unsized_prefix_.find(repo + "/" + file);
      if (prefix != unsized_prefix_.end() && req.ranges.empty()) {
        auto data = std::make_shared<std::string>(content.substr(0, prefix->second));
        res.set_chunked_content_provider("application/octet-stream",
                                         [data](size_t off, httplib::DataSink& sink) {
                                           if (off < data->size()) {
                                             sink.write(data->data() + off, std::min<size_t>(4096, data->size() - off));
                                           } else {
                                             sink.done();
                                           }
                                           return true;
                                         });
        return;
      }
      auto hs = head_size_.find(repo + "/" + file);
      if (req.method == "HEAD" && hs != head_size_.end()) content.assign(hs->second, 'x');
    }
    if (req.method == "GET" && req.ranges.empty() && cut_once_.exchange(false)) {
      // Announce the whole file, send half, drop the connection.
      res.status = 200;
      auto data = std::make_shared<std::string>(std::move(content));
      res.set_content_provider(data->size(), "application/octet-stream",
                               [data](size_t off, size_t len, httplib::DataSink& sink) {
                                 size_t half = data->size() / 2;
                                 if (off >= half) return false;
                                 sink.write(data->data() + off, std::min(len, half - off));
                                 return true;
                               });
      return;
    }
    if (ignore_range_) {
      // A server without range support: the whole file with 200. httplib
      // slices any response by the parsed ranges, so drop them here.
      const_cast<httplib::Request&>(req).ranges.clear();
      res.status = 200;
    }
    // httplib answers a single Range with 206 + Content-Range by itself.
    res.set_content(content, "application/octet-stream");
  }

  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, std::string> files_;
  std::map<std::string, size_t> head_size_;
  std::map<std::string, int> status_;
  std::map<std::string, size_t> unsized_prefix_;
  std::vector<Seen> seen_;
  std::atomic<bool> ignore_range_{false};
  std::atomic<bool> cut_once_{false};
  std::string etag_override_;
};

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sa_model_hub_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

KnownModel tiny_model(const std::string& repo = "org/tiny-b16") {
  KnownModel m;
  m.name = "tiny-b16";
  m.kind = "clip";
  m.arch = "";
  m.files = {"config.json", "model.safetensors"};
  m.hf_repo = repo;
  m.modelscope_repo = repo;
  m.optional_files = {"vocab.txt"};
  return m;
}

class ModelHubPull : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = slurp(kTinyDir + "/config.json");
    weights_ = slurp(kTinyDir + "/model.safetensors");
    ASSERT_GT(weights_.size(), 10000u);
    hub_.add("org/tiny-b16", "config.json", config_);
    hub_.add("org/tiny-b16", "model.safetensors", weights_);
    opt_.hf_endpoint = hub_.endpoint();
    opt_.modelscope_endpoint = hub_.endpoint();
    opt_.retry_backoff_ms = 10;
    opt_.progress = [this](int64_t done, int64_t total, const std::string& file) {
      std::lock_guard<std::mutex> lock(mu_);
      progress_[file].push_back({done, total});
    };
  }
  std::string dir() const { return tmp_.path() + "/tiny-b16"; }
  void expect_complete() {
    EXPECT_EQ(slurp(dir() + "/config.json"), config_);
    EXPECT_EQ(slurp(dir() + "/model.safetensors"), weights_);
    EXPECT_FALSE(fs::exists(dir() + "/model.safetensors.part"));
    EXPECT_FALSE(fs::exists(dir() + "/config.json.part"));
    EXPECT_TRUE(model_is_downloaded(tiny_model(), tmp_.path()));
  }

  FakeHub hub_;
  TempDir tmp_;
  PullOptions opt_;
  std::string config_, weights_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> progress_;
};

TEST(KnownModels, ListsTheOfficialModels) {
  for (const char* name : {"ViT-B-16", "ViT-L-14", "ViT-L-14-336", "ViT-H-14"}) {
    const KnownModel* m = find_known_model(name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_EQ(m->kind, "clip");
    EXPECT_EQ(m->arch, name);
    ASSERT_EQ(m->files.size(), 1u);
    EXPECT_EQ(m->load_entry, m->files[0]);
    EXPECT_EQ(m->files[0].rfind("clip_cn_vit-", 0), 0u);
    EXPECT_EQ(m->hf_repo.rfind("OFA-Sys/chinese-clip-vit-", 0), 0u);
    EXPECT_FALSE(m->modelscope_repo.empty());
    EXPECT_GT(m->approx_bytes, 500'000'000);
  }
  for (const char* name : {"bce-embedding-base_v1", "text2vec-base-chinese"}) {
    const KnownModel* m = find_known_model(name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_EQ(m->kind, "sentence");
    EXPECT_TRUE(m->load_entry.empty());
    EXPECT_NE(std::find(m->files.begin(), m->files.end(), "1_Pooling/config.json"), m->files.end());
    EXPECT_NE(std::find(m->files.begin(), m->files.end(), "config.json"), m->files.end());
  }
  const KnownModel* bce = find_known_model("bce-embedding-base_v1");
  EXPECT_NE(std::find(bce->files.begin(), bce->files.end(), "sentencepiece.bpe.model"), bce->files.end());
  EXPECT_EQ(find_known_model("vit-b-16"), find_known_model("ViT-B-16"));
  EXPECT_EQ(find_known_model("ViT-X-99"), nullptr);
}

TEST(DefaultModelsDir, PrefersXdgThenHome) {
  EXPECT_EQ(default_models_dir("/x/cache", "/home/u"), "/x/cache/smart-album/models");
  EXPECT_EQ(default_models_dir("/x/cache/", "/home/u"), "/x/cache/smart-album/models");
  EXPECT_EQ(default_models_dir("", "/home/u"), "/home/u/.cache/smart-album/models");
  EXPECT_FALSE(default_models_dir("", "").empty());
}

TEST(ResolveModel, PathsNamesAndHints) {
  TempDir tmp;
  // An existing path comes back unchanged.
  auto r = resolve_model(kTinyDir, tmp.path());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, kTinyDir);

  // A known name that was never pulled: NotFound with the pull hint.
  r = resolve_model("ViT-B-16", tmp.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("run: smart-album models pull ViT-B-16"), std::string::npos)
      << r.status().message();

  // A .part is not a download.
  ASSERT_TRUE(make_dirs(tmp.path() + "/ViT-B-16").ok());
  ASSERT_TRUE(write_file_atomic(tmp.path() + "/ViT-B-16/clip_cn_vit-b-16.pt.part", "x").ok());
  EXPECT_FALSE(resolve_model("ViT-B-16", tmp.path()).ok());

  // Once the file is there, the name resolves to the checkpoint file.
  ASSERT_TRUE(write_file_atomic(tmp.path() + "/ViT-B-16/clip_cn_vit-b-16.pt", "x").ok());
  r = resolve_model("vit-b-16", tmp.path());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, tmp.path() + "/ViT-B-16/clip_cn_vit-b-16.pt");

  // A sentence model resolves to its directory.
  const KnownModel* t2v = find_known_model("text2vec-base-chinese");
  for (const auto& f : t2v->files) {
    ASSERT_TRUE(make_dirs(fs::path(tmp.path() + "/text2vec-base-chinese/" + f).parent_path()).ok());
    ASSERT_TRUE(write_file_atomic(tmp.path() + "/text2vec-base-chinese/" + f, "{}").ok());
  }
  r = resolve_model("text2vec-base-chinese", tmp.path());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, tmp.path() + "/text2vec-base-chinese");

  // A folder placed in the models dir by hand.
  ASSERT_TRUE(make_dirs(tmp.path() + "/my-model").ok());
  r = resolve_model("my-model", tmp.path());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, tmp.path() + "/my-model");

  r = resolve_model("/no/such/model.pt", tmp.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/no/such/model.pt"), std::string::npos);

  EXPECT_EQ(resolve_model("", tmp.path()).status().code(), StatusCode::kInvalidArgument);
}

TEST(ModelFileUrl, HfAndModelScopeForms) {
  const KnownModel* bce = find_known_model("bce-embedding-base_v1");
  PullOptions opt;
  opt.hf_endpoint = "https://hf-mirror.com/";
  auto u = model_file_url(*bce, "1_Pooling/config.json", opt);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(*u, "https://hf-mirror.com/maidalun1020/bce-embedding-base_v1/resolve/main/1_Pooling/config.json");
  opt.source = "modelscope";
  u = model_file_url(*bce, "config.json", opt);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(*u, "https://www.modelscope.cn/api/v1/models/maidalun/bce-embedding-base_v1/repo?Revision=master&FilePath=config.json");
  u = model_file_url(*find_known_model("text2vec-base-chinese"), "config.json", opt);
  EXPECT_EQ(u.status().code(), StatusCode::kUnavailable);
  opt.source = "ftp";
  EXPECT_EQ(model_file_url(*bce, "config.json", opt).status().code(), StatusCode::kInvalidArgument);
  opt.source = "hf";
  EXPECT_EQ(model_file_url(*bce, "../etc/passwd", opt).status().code(), StatusCode::kInvalidArgument);
}

TEST(PullModelByName, UnknownNameIsNotFound) {
  TempDir tmp;
  Status st = pull_model("no-such-model", tmp.path(), PullOptions{});
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("ViT-B-16"), std::string::npos);  // lists the known names
}

TEST_F(ModelHubPull, FullDownloadIsCompleteAndLoadable) {
  Status st = pull_model(tiny_model(), tmp_.path(), opt_);
  ASSERT_TRUE(st.ok()) << st.to_string();
  expect_complete();
  EXPECT_FALSE(fs::exists(dir() + "/vocab.txt"));  // optional and absent upstream: skipped

  // Progress: per file, non-decreasing, ending at (size, size).
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_TRUE(progress_.count("model.safetensors"));
  const auto& p = progress_["model.safetensors"];
  for (size_t i = 1; i < p.size(); ++i) EXPECT_GE(p[i].first, p[i - 1].first);
  EXPECT_EQ(p.back().first, static_cast<int64_t>(weights_.size()));
  EXPECT_EQ(p.back().second, static_cast<int64_t>(weights_.size()));

  // The pulled directory loads as a Chinese-CLIP model.
  auto clip = ChineseClip::load(dir());
  ASSERT_TRUE(clip.ok()) << clip.status().to_string();
  EXPECT_EQ((*clip)->image_resolution(), 224);
}

TEST_F(ModelHubPull, SecondPullDownloadsNothing) {
  ASSERT_TRUE(pull_model(tiny_model(), tmp_.path(), opt_).ok());
  const size_t before = hub_.seen().size();
  ASSERT_TRUE(pull_model(tiny_model(), tmp_.path(), opt_).ok());
  auto seen = hub_.seen();
  // Complete files are not requested again; only the absent optional one is probed.
  for (size_t i = before; i < seen.size(); ++i) {
    EXPECT_NE(seen[i].path.find("vocab.txt"), std::string::npos) << seen[i].method << " " << seen[i].path;
  }
  expect_complete();
}

TEST_F(ModelHubPull, ResumesFromPartialFile) {
  const size_t have = 4321;
  ASSERT_TRUE(make_dirs(dir()).ok());
  ASSERT_TRUE(write_file_atomic(dir() + "/model.safetensors.part", weights_.substr(0, have)).ok());
  Status st = pull_model(tiny_model(), tmp_.path(), opt_);
  ASSERT_TRUE(st.ok()) << st.to_string();
  expect_complete();
  bool ranged = false;
  for (const auto& s : hub_.seen()) {
    if (s.method == "GET" && s.path.find("model.safetensors") != std::string::npos) {
      EXPECT_EQ(s.range, "bytes=4321-");
      ranged = true;
    }
  }
  EXPECT_TRUE(ranged);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_GE(progress_["model.safetensors"].front().first, static_cast<int64_t>(have));
}

TEST_F(ModelHubPull, InterruptedTransferResumesOnRetry) {
  KnownModel m = tiny_model();
  m.files = {"model.safetensors"};
  m.optional_files.clear();
  hub_.cut_next_get();
  Status st = pull_model(m, tmp_.path(), opt_);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(slurp(dir() + "/model.safetensors"), weights_);
  EXPECT_FALSE(fs::exists(dir() + "/model.safetensors.part"));
  std::vector<std::string> ranges;
  for (const auto& s : hub_.seen()) {
    if (s.method == "GET") ranges.push_back(s.range);
  }
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1].rfind("bytes=", 0), 0u);
  EXPECT_NE(ranges[1], "bytes=0-");
}

TEST_F(ModelHubPull, ServerWithoutRangeSupportRestarts) {
  hub_.set_ignore_range(true);
  ASSERT_TRUE(make_dirs(dir()).ok());
  ASSERT_TRUE(write_file_atomic(dir() + "/model.safetensors.part", "garbage-prefix").ok());
  Status st = pull_model(tiny_model(), tmp_.path(), opt_);
  ASSERT_TRUE(st.ok()) << st.to_string();
  expect_complete();
}

TEST_F(ModelHubPull, SizeMismatchLeavesNoFile) {
  hub_.set_head_size("org/tiny-b16", "model.safetensors", weights_.size() + 10);
  Status st = pull_model(tiny_model(), tmp_.path(), opt_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.to_string();
  EXPECT_NE(st.message().find("size mismatch"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(dir() + "/model.safetensors"));
  EXPECT_FALSE(fs::exists(dir() + "/model.safetensors.part"));
  EXPECT_FALSE(model_is_downloaded(tiny_model(), tmp_.path()));
}

TEST_F(ModelHubPull, NotFoundNamesTheUrl) {
  KnownModel m = tiny_model();
  m.files.push_back("missing.bin");
  Status st = pull_model(m, tmp_.path(), opt_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find(hub_.endpoint() + "/org/tiny-b16/resolve/main/missing.bin"), std::string::npos)
      << st.message();
  EXPECT_FALSE(fs::exists(dir() + "/missing.bin"));
  EXPECT_FALSE(fs::exists(dir() + "/missing.bin.part"));
}

TEST_F(ModelHubPull, ModelScopeSource) {
  opt_.source = "modelscope";
  Status st = pull_model(tiny_model(), tmp_.path(), opt_);
  ASSERT_TRUE(st.ok()) << st.to_string();
  expect_complete();
  bool saw = false;
  for (const auto& s : hub_.seen()) saw |= s.path.rfind("/api/v1/models/org/tiny-b16/repo", 0) == 0;
  EXPECT_TRUE(saw);
}

TEST_F(ModelHubPull, LfsRedirectWithChecksum) {
  hub_.add("org/lfs-b16", "config.json", config_);
  hub_.add("org/lfs-b16", "model.safetensors", weights_);
  KnownModel m = tiny_model("lfs/lfs-b16");
  // Route through the redirecting handler: /lfs/<repo>/resolve/main/<file>.
  Status st = pull_model(m, tmp_.path(), opt_);
  ASSERT_TRUE(st.ok()) << st.to_string();
  expect_complete();
}

TEST_F(ModelHubPull, ChecksumMismatchLeavesNoFile) {
  hub_.add("org/lfs-b16", "config.json", config_);
  hub_.add("org/lfs-b16", "model.safetensors", weights_);
  hub_.set_etag_override(std::string(64, 'a'));
  Status st = pull_model(tiny_model("lfs/lfs-b16"), tmp_.path(), opt_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.to_string();
  EXPECT_NE(st.message().find("SHA-256"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir() + "/config.json"));
  EXPECT_FALSE(fs::exists(dir() + "/config.json.part"));
}

// S3-style mirrors answer 403 (or 401) for a key that does not exist: for an
// optional file that means "absent"; for a required file it stays an error.
TEST_F(ModelHubPull, OptionalFileDeniedIsAbsentRequiredFileDeniedFails) {
  hub_.add("org/tiny-b16", "vocab.txt", "[PAD]\n");
  for (int code : {401, 403, 404}) {
    hub_.set_status("org/tiny-b16", "vocab.txt", code);
    Status st = pull_model(tiny_model(), tmp_.path(), opt_);
    ASSERT_TRUE(st.ok()) << code << ": " << st.to_string();
    expect_complete();
    EXPECT_FALSE(fs::exists(dir() + "/vocab.txt"));
    EXPECT_FALSE(fs::exists(dir() + "/vocab.txt.part"));
  }
  hub_.set_status("org/tiny-b16", "vocab.txt", 0);
  ASSERT_TRUE(pull_model(tiny_model(), tmp_.path(), opt_).ok());
  EXPECT_EQ(slurp(dir() + "/vocab.txt"), "[PAD]\n");

  hub_.set_status("org/tiny-b16", "config.json", 403);
  TempDir other;
  Status st = pull_model(tiny_model(), other.path(), opt_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.to_string();
  EXPECT_NE(st.message().find("HTTP 403"), std::string::npos) << st.message();
}

// A server that sends no Content-Length and stops early looks like a finished
// transfer; the safetensors structure shows it is not. The .part stays, and the
// next pull resumes it.
TEST_F(ModelHubPull, TruncatedUnsizedDownloadIsRejectedAndResumed) {
  const size_t cut = weights_.size() - 1000;
  hub_.set_unsized_prefix("org/tiny-b16", "model.safetensors", cut);
  Status st = pull_model(tiny_model(), tmp_.path(), opt_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.to_string();
  EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(dir() + "/model.safetensors"));
  EXPECT_EQ(slurp(dir() + "/model.safetensors.part"), weights_.substr(0, cut));
  EXPECT_FALSE(model_is_downloaded(tiny_model(), tmp_.path()));

  hub_.set_unsized_prefix("org/tiny-b16", "model.safetensors", weights_.size() + 1);
  ASSERT_TRUE(pull_model(tiny_model(), tmp_.path(), opt_).ok());
  expect_complete();
  bool resumed = false;
  for (const auto& s : hub_.seen()) resumed |= s.range == "bytes=" + std::to_string(cut) + "-";
  EXPECT_TRUE(resumed);
}

// A truncated file already in place (installed before files were checked) is
// not taken as downloaded: the pull fetches the rest.
TEST_F(ModelHubPull, ExistingTruncatedFileIsFetchedAgain) {
  const size_t cut = weights_.size() / 2;
  ASSERT_TRUE(make_dirs(dir()).ok());
  ASSERT_TRUE(write_file_atomic(dir() + "/model.safetensors", weights_.substr(0, cut)).ok());
  ASSERT_TRUE(write_file_atomic(dir() + "/config.json", config_).ok());
  Status st = pull_model(tiny_model(), tmp_.path(), opt_);
  ASSERT_TRUE(st.ok()) << st.to_string();
  expect_complete();
  bool resumed = false;
  for (const auto& s : hub_.seen()) resumed |= s.range == "bytes=" + std::to_string(cut) + "-";
  EXPECT_TRUE(resumed);
}

class CheckWeightFile : public ::testing::Test {
 protected:
  std::string put(const std::string& name, const std::string& bytes) {
    const std::string p = tmp_.path() + "/" + name;
    EXPECT_TRUE(write_file_atomic(p, bytes).ok());
    return p;
  }
  TempDir tmp_;
};

TEST_F(CheckWeightFile, Safetensors) {
  const std::string good = slurp(kTinyDir + "/model.safetensors");
  EXPECT_TRUE(check_weight_file(put("a.safetensors", good)).ok());
  // Under its final name, as a .part is checked.
  EXPECT_TRUE(check_weight_file(put("a.safetensors.part", good), "a.safetensors").ok());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"truncated data", good.substr(0, good.size() - 1)},
      {"trailing bytes", good + "x"},
      {"truncated header", good.substr(0, 20)},
      {"no header length", good.substr(0, 5)},
      {"header not JSON", std::string("\x04\0\0\0\0\0\0\0nope", 12)},
      {"empty", ""},
  };
  for (const auto& [what, bytes] : bad) {
    Status st = check_weight_file(put("b.safetensors", bytes));
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << what << ": " << st.to_string();
    EXPECT_NE(st.message().find("b.safetensors"), std::string::npos) << st.message();
  }
  EXPECT_NE(check_weight_file(put("c.safetensors", good.substr(0, good.size() - 7))).message().find("truncated"),
            std::string::npos);
}

TEST_F(CheckWeightFile, TorchZip) {
  const std::string pt = slurp(std::string(SA_TEST_DATA) + "/clip/tiny-b16/clip_cn_tiny-b16.pt");
  const std::string bin = slurp(std::string(SA_TEST_DATA) + "/clip/tiny-b16/hf-bin/pytorch_model.bin");
  EXPECT_TRUE(check_weight_file(put("a.pt", pt)).ok());
  EXPECT_TRUE(check_weight_file(put("pytorch_model.bin", bin)).ok());
  for (size_t cut : {size_t(1), size_t(21), size_t(22), pt.size() / 2}) {
    Status st = check_weight_file(put("b.pt", pt.substr(0, pt.size() - cut)));
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << cut << ": " << st.to_string();
    EXPECT_NE(st.message().find("end-of-central-directory"), std::string::npos) << st.message();
  }
  // A pre-1.6 torch file (a bare pickle) is not a zip at all.
  EXPECT_EQ(check_weight_file(put("old.bin", std::string("\x80\x02}q\0.", 6) + std::string(64, 'x'))).code(),
            StatusCode::kCorruption);
  // Files that are not weights are not looked at.
  EXPECT_TRUE(check_weight_file(put("config.json", "{")).ok());
  EXPECT_EQ(check_weight_file(tmp_.path() + "/missing.pt").code(), StatusCode::kIOError);
}

TEST(ModelHubNetwork, ServerDownIsUnavailable) {
  const int port = test::unused_loopback_port();
  ASSERT_NE(port, 0);

  TempDir tmp;
  PullOptions opt;
  opt.hf_endpoint = "http://127.0.0.1:" + std::to_string(port);
  Status st = pull_model(tiny_model(), tmp.path(), opt);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.to_string();
  EXPECT_NE(st.message().find("cannot reach"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace sa
