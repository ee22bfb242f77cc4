// The built `smart-album` binary: embed-image / embed-text / embed-sentence against
// the goldens, import + search end to end, config precedence, and that every
// failure exits non-zero with exactly one line on stderr.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <httplib.h>
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <atomic>
#include <chrono>
#include <thread>

#include "app/album.h"
#include "core/file_util.h"

extern char** environ;

namespace sa {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kData = SA_TEST_DATA;
const std::string kBin = SA_BINARY;
const std::string kTiny = kData + "/clip/tiny-b16";

struct RunResult {
  int rc = -1;
  std::string out, err;
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream s(out);
    for (std::string l; std::getline(s, l);) v.push_back(l);
    return v;
  }
  int err_lines() const {
    int n = 0;
    for (char c : err) n += c == '\n';
    return n;
  }
};

// A started binary: stdout and stderr go to files, read when it has finished.
struct Running {
  pid_t pid = -1;
  std::string out, err;  // paths
  // Waits for the exit; the result's rc is 128 + signal if a signal ended it.
  RunResult finish() {
    RunResult r;
    int status = 0;
    if (pid > 0 && waitpid(pid, &status, 0) == pid) {
      r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    r.out = read_file(out).ok() ? *read_file(out) : "";
    r.err = read_file(err).ok() ? *read_file(err) : "";
    return r;
  }
  std::string err_so_far() const { return read_file(err).ok() ? *read_file(err) : ""; }
};

// Starts the binary with argv (no shell) and an explicit environment.
Running start(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
  static int counter = 0;
  const fs::path dir = fs::temp_directory_path() / ("sa_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Running run;
  run.out = (dir / ("out" + std::to_string(counter))).string();
  run.err = (dir / ("err" + std::to_string(counter++))).string();
  std::vector<std::string> argv_s = {kBin};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (!env.count("HOME")) env["HOME"] = dir.string();
  if (!env.count("PATH")) env["PATH"] = "/usr/bin:/bin";
  std::vector<std::string> env_s;
  for (auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, run.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, run.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  if (posix_spawn(&pid, kBin.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0) run.pid = pid;
  posix_spawn_file_actions_destroy(&fa);
  return run;
}

// Runs the binary to completion.
RunResult run(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
  return start(args, std::move(env)).finish();
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / std::sqrt(aa * bb);
}
double norm(const std::vector<double>& a) {
  double s = 0;
  for (double x : a) s += x * x;
  return std::sqrt(s);
}

json load_json(const std::string& path) {
  auto t = read_file(path);
  EXPECT_TRUE(t.ok()) << path;
  return json::parse(t.ok() ? *t : "{}");
}

void expect_one_line_failure(const RunResult& r, const std::string& what) {
  EXPECT_NE(r.rc, 0) << what;
  EXPECT_EQ(r.err_lines(), 1) << what << ": " << r.err;
  EXPECT_EQ(r.err.rfind("smart-album: ", 0), 0u) << what << ": " << r.err;
  EXPECT_TRUE(r.out.empty()) << what << ": " << r.out;
}

TEST(Cli, EmbedImageMatchesGoldens) {
  json g = load_json(kTiny + "/golden.json");
  std::vector<std::string> files;
  for (const auto& im : g["images"]) files.push_back(kData + "/images/" + im["file"].get<std::string>());
  for (const std::string& model : {kTiny + "/hf-safetensors", kTiny + "/clip_cn_tiny-b16.pt"}) {
    std::vector<std::string> args = {"embed-image", "--model", model};
    args.insert(args.end(), files.begin(), files.end());
    RunResult r = run(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    auto lines = r.lines();
    ASSERT_EQ(lines.size(), files.size());
    for (size_t i = 0; i < files.size(); ++i) {
      json j = json::parse(lines[i]);
      EXPECT_EQ(j["file"], files[i]);
      auto emb = j["embedding"].get<std::vector<double>>();
      auto want = g["images"][i]["embedding"].get<std::vector<double>>();
      ASSERT_EQ(emb.size(), want.size());
      EXPECT_GE(cosine(emb, want), 0.9999) << files[i] << " with " << model;
      EXPECT_NEAR(norm(emb), 1.0, 1e-4);
    }
  }
  // --raw keeps the encoder's scale.
  RunResult raw = run({"embed-image", "--model", kTiny + "/hf-safetensors", "--raw", files[1]});
  ASSERT_EQ(raw.rc, 0) << raw.err;
  auto emb = json::parse(raw.lines().at(0))["embedding"].get<std::vector<double>>();
  auto want = g["images"][1]["embedding"].get<std::vector<double>>();
  EXPECT_NEAR(norm(emb) / norm(want), 1.0, 0.01);
}

TEST(Cli, EmbedTextIdsExactAndEmbeddingsMatch) {
  json g = load_json(kTiny + "/golden.json");
  std::vector<std::string> args = {"embed-text", "--model", kTiny + "/hf-safetensors", "--raw"};
  for (const auto& t : g["texts"]) args.push_back(t["text"]);
  RunResult r = run(args);
  ASSERT_EQ(r.rc, 0) << r.err;
  auto lines = r.lines();
  ASSERT_EQ(lines.size(), g["texts"].size());
  for (size_t i = 0; i < lines.size(); ++i) {
    json j = json::parse(lines[i]);
    const auto& want = g["texts"][i];
    EXPECT_EQ(j["text"], want["text"]);
    EXPECT_EQ(j["ids"], want["ids"]) << want["text"];
    auto emb = j["embedding"].get<std::vector<double>>();
    auto gold = want["embedding"].get<std::vector<double>>();
    EXPECT_GE(cosine(emb, gold), 0.99999) << want["text"];
    double maxg = 0, maxd = 0;
    for (size_t k = 0; k < gold.size(); ++k) {
      maxg = std::max(maxg, std::fabs(gold[k]));
      maxd = std::max(maxd, std::fabs(gold[k] - emb[k]));
    }
    EXPECT_LE(maxd, 1e-3 * maxg) << want["text"];
  }
}

TEST(Cli, EmbedSentenceMatchesGoldens) {
  for (const std::string name : {"tiny-xlmr-cls", "tiny-bert-mean"}) {
    const std::string dir = kData + "/text/" + name;
    json g = load_json(dir + "/golden.json");
    std::vector<std::string> args = {"embed-sentence", "--model", dir};
    for (const auto& t : g["texts"]) args.push_back(t["text"]);
    RunResult r = run(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    auto lines = r.lines();
    ASSERT_EQ(lines.size(), g["texts"].size());
    for (size_t i = 0; i < lines.size(); ++i) {
      json j = json::parse(lines[i]);
      EXPECT_EQ(j["ids"], g["texts"][i]["ids"]) << name << ": " << g["texts"][i]["text"];
      EXPECT_GE(cosine(j["embedding"].get<std::vector<double>>(),
                       g["texts"][i]["embedding"].get<std::vector<double>>()),
                0.99999)
          << name << ": " << g["texts"][i]["text"];
    }
  }
}

// --precision int8 on every embed command: the goldens within cosine 0.995,
// the self-check's record written beside the model, a bad value refused.
TEST(Cli, PrecisionInt8EmbedsWithinToleranceAndRecordsTheCheck) {
  const fs::path tmp = fs::temp_directory_path() / ("sa_cli_int8_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  fs::copy(kTiny + "/hf-safetensors", tmp / "clip", fs::copy_options::recursive);
  const std::string clip = (tmp / "clip").string();
  json g = load_json(kTiny + "/golden.json");
  std::vector<std::string> files;
  for (const auto& im : g["images"]) files.push_back(kData + "/images/" + im["file"].get<std::string>());
  std::vector<std::string> args = {"embed-image", "--precision", "int8", "--model", clip};
  args.insert(args.end(), files.begin(), files.end());
  RunResult r = run(args);
  ASSERT_EQ(r.rc, 0) << r.err;
  auto lines = r.lines();
  ASSERT_EQ(lines.size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    auto emb = json::parse(lines[i])["embedding"].get<std::vector<double>>();
    EXPECT_GE(cosine(emb, g["images"][i]["embedding"].get<std::vector<double>>()), 0.995) << files[i];
  }
  auto rec = read_file((tmp / "clip" / ".int8-check").string());
  ASSERT_TRUE(rec.ok()) << "no self-check record";
  EXPECT_EQ(rec->rfind("1 ", 0), 0u) << *rec;  // passed

  args = {"embed-text", "--precision", "int8", "--model", clip};
  for (const auto& t : g["texts"]) args.push_back(t["text"]);
  r = run(args);
  ASSERT_EQ(r.rc, 0) << r.err;
  lines = r.lines();
  ASSERT_EQ(lines.size(), g["texts"].size());
  for (size_t i = 0; i < lines.size(); ++i) {
    json j = json::parse(lines[i]);
    EXPECT_EQ(j["ids"], g["texts"][i]["ids"]);
    EXPECT_GE(cosine(j["embedding"].get<std::vector<double>>(),
                     g["texts"][i]["embedding"].get<std::vector<double>>()), 0.995);
  }

  fs::copy(kData + "/text/tiny-xlmr-cls", tmp / "sent", fs::copy_options::recursive);
  json gs = load_json(kData + "/text/tiny-xlmr-cls/golden.json");
  args = {"embed-sentence", "--precision", "int8", "--model", (tmp / "sent").string()};
  for (const auto& t : gs["texts"]) args.push_back(t["text"]);
  r = run(args);
  ASSERT_EQ(r.rc, 0) << r.err;
  lines = r.lines();
  ASSERT_EQ(lines.size(), gs["texts"].size());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_GE(cosine(json::parse(lines[i])["embedding"].get<std::vector<double>>(),
                     gs["texts"][i]["embedding"].get<std::vector<double>>()), 0.995);
  }
  EXPECT_TRUE(fs::exists(tmp / "sent" / ".int8-check"));

  expect_one_line_failure(run({"embed-text", "--precision", "int4", "--model", clip, "猫"}), "bad precision");
  expect_one_line_failure(run({"embed-text", "--model", clip, "猫"}, {{"SMART_ALBUM_PRECISION", "fp16"}}),
                          "bad precision in the environment");
  fs::remove_all(tmp);
}

TEST(Cli, FailuresAreOneLine) {
  const std::string m = kTiny + "/hf-safetensors";
  const fs::path tmp = fs::temp_directory_path() / ("sa_cli_bad_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  ASSERT_TRUE(write_file_atomic((tmp / "fake.jpg").string(), "definitely not a jpeg").ok());
  ASSERT_TRUE(write_file_atomic((tmp / "trunc.pt").string(), "PK\x03\x04 truncated").ok());
  expect_one_line_failure(run({"embed-image", "--model", m, "/no/such/photo.jpg"}), "missing image");
  expect_one_line_failure(run({"embed-image", "--model", m, (tmp / "fake.jpg").string()}), "non-image");
  expect_one_line_failure(run({"embed-image", "--model", "/no/such/model", kData + "/images/coffee.png"}),
                          "missing model");
  expect_one_line_failure(run({"embed-text", "--model", (tmp / "trunc.pt").string(), "猫"}), "corrupt model");
  expect_one_line_failure(run({"embed-text", "猫"}), "no model");
  expect_one_line_failure(run({"embed-sentence", "--model", kData + "/images", "猫"}), "bad sentence model dir");
  expect_one_line_failure(run({"no-such-command"}), "unknown subcommand");
  expect_one_line_failure(run({"embed-image", "--model", m}), "no images");
  // search needs an album: a mistyped --data-dir is named, and nothing is created there.
  RunResult no_album = run({"search", "--data-dir", (tmp / "d").string(), "--model", m, "猫"});
  expect_one_line_failure(no_album, "search without an album");
  EXPECT_NE(no_album.err.find("no album in"), std::string::npos) << no_album.err;
  EXPECT_FALSE(fs::exists(tmp / "d"));
  expect_one_line_failure(run({"analyze", "--data-dir", (tmp / "d").string()}), "analyze without an album");
  // An album without a model: search says it needs one.
  fs::create_directories(tmp / "photos");
  fs::copy_file(kData + "/images/coffee.png", tmp / "photos" / "coffee.png");
  RunResult imported = run({"import", "--data-dir", (tmp / "d").string(), (tmp / "photos").string()});
  ASSERT_EQ(imported.rc, 0) << imported.err;
  EXPECT_NE(imported.err.find("embedded by a running `serve --model`"), std::string::npos) << imported.err;
  // Nothing new: no promise about embedding.
  RunResult again = run({"import", "--data-dir", (tmp / "d").string(), (tmp / "photos").string()});
  ASSERT_EQ(again.rc, 0) << again.err;
  EXPECT_EQ(again.err.find("no CLIP model"), std::string::npos) << again.err;
  RunResult no_model = run({"search", "--data-dir", (tmp / "d").string(), "猫"});
  expect_one_line_failure(no_model, "search without a model");
  EXPECT_NE(no_model.err.find("model"), std::string::npos) << no_model.err;
  expect_one_line_failure(run({"models", "pull", "no-such-model"}), "unknown model");
  expect_one_line_failure(run({"import", "--data-dir", (tmp / "d").string(), "/no/such/folder"}), "missing folder");
  // A malformed config.json in the data dir is named in the error.
  fs::create_directories(tmp / "bad");
  ASSERT_TRUE(write_file_atomic((tmp / "bad" / "config.json").string(), R"({"port": "eighty"})").ok());
  RunResult r = run({"search", "--data-dir", (tmp / "bad").string(), "猫"});
  expect_one_line_failure(r, "bad config");
  EXPECT_NE(r.err.find("port"), std::string::npos);
  fs::remove_all(tmp);
}

TEST(Cli, ConfigPrecedenceFlagsOverEnvOverFile) {
  const std::string m = kTiny + "/hf-safetensors";
  // Environment alone.
  RunResult r = run({"embed-text", "猫"}, {{"SMART_ALBUM_MODEL", m}});
  EXPECT_EQ(r.rc, 0) << r.err;
  // The flag wins over a broken environment value.
  r = run({"embed-text", "--model", m, "猫"}, {{"SMART_ALBUM_MODEL", "/broken"}});
  EXPECT_EQ(r.rc, 0) << r.err;
  r = run({"embed-text", "猫"}, {{"SMART_ALBUM_MODEL", "/broken"}});
  expect_one_line_failure(r, "env model broken");
  // `models list` reads XDG_CACHE_HOME for its directory.
  r = run({"models", "list"}, {{"XDG_CACHE_HOME", "/tmp/sa-xdg"}});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("/tmp/sa-xdg/smart-album/models"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ViT-B-16"), std::string::npos);
  EXPECT_NE(r.out.find("bce-embedding-base_v1"), std::string::npos);
}

// `models pull` against a local stand-in for Hugging Face (HF_ENDPOINT): the tiny
// official checkpoint is served under ViT-B-16's file name.
TEST(Cli, ModelsPullHonoursHfEndpoint) {
  auto bytes = read_file(kTiny + "/clip_cn_tiny-b16.pt");
  ASSERT_TRUE(bytes.ok());
  httplib::Server hub;
  int requests = 0;
  hub.Get(R"(/OFA-Sys/chinese-clip-vit-base-patch16/resolve/main/clip_cn_vit-b-16\.pt)",
          [&](const httplib::Request&, httplib::Response& res) {
            ++requests;
            res.set_content(*bytes, "application/octet-stream");
          });
  const int port = hub.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread t([&] { hub.listen_after_bind(); });
  const fs::path cache = fs::temp_directory_path() / ("sa_cli_pull_" + std::to_string(::getpid()));
  fs::remove_all(cache);
  std::map<std::string, std::string> env = {{"XDG_CACHE_HOME", cache.string()},
                                            {"HF_ENDPOINT", "http://127.0.0.1:" + std::to_string(port)}};
  expect_one_line_failure(run({"models", "path", "ViT-B-16"}, env), "path before the pull");
  RunResult r = run({"models", "pull", "ViT-B-16"}, env);
  EXPECT_EQ(r.rc, 0) << r.err;
  RunResult where = run({"models", "path", "ViT-B-16"}, env);
  EXPECT_EQ(where.rc, 0) << where.err;
  EXPECT_EQ(where.out, (cache / "smart-album/models/ViT-B-16/clip_cn_vit-b-16.pt").string() + "\n");
  EXPECT_GE(requests, 1);
  auto got = read_file((cache / "smart-album/models/ViT-B-16/clip_cn_vit-b-16.pt").string());
  ASSERT_TRUE(got.ok()) << r.out << r.err;
  EXPECT_TRUE(*got == *bytes);
  RunResult list = run({"models", "list"}, env);
  EXPECT_NE(list.out.find("ViT-B-16                 clip      718.1 MiB  yes"), std::string::npos) << list.out;
  // A model that the hub does not have: a one-line failure.
  expect_one_line_failure(run({"models", "pull", "ViT-L-14"}, env), "404 from the hub");
  hub.stop();
  t.join();
  fs::remove_all(cache);
}

TEST(Cli, ImportThenSearch) {
  const fs::path tmp = fs::temp_directory_path() / ("sa_cli_album_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  const std::string data = (tmp / "album").string();
  const std::string m = kTiny + "/hf-safetensors";
  RunResult imp = run({"import", "--data-dir", data, "--model", m, kData + "/images"});
  ASSERT_EQ(imp.rc, 0) << imp.err;
  EXPECT_NE(imp.out.find("imported 7 new, 0 duplicates, 0 rejected"), std::string::npos) << imp.out;
  // The embedding bar counts all seven new photos, also those embedded during the import.
  EXPECT_NE(imp.err.find("embedding: 7/7 (100%)"), std::string::npos) << imp.err;
  // analyze queues descriptions (a closed local port stands in for the VLM) and never
  // prints the key; without any VLM it says so in one line.
  RunResult an = run({"analyze", "--data-dir", data, "--no-wait"},
                     {{"QWEN_API_KEY", "sk-very-secret-key"}, {"QWEN_BASE_URL", "http://127.0.0.1:9/v1"}});
  EXPECT_EQ(an.rc, 0) << an.err;
  EXPECT_NE(an.out.find("queued 7 photo(s)"), std::string::npos) << an.out;
  EXPECT_EQ(an.err.find("sk-very-secret-key"), std::string::npos);
  EXPECT_EQ(an.out.find("sk-very-secret-key"), std::string::npos);
  expect_one_line_failure(run({"analyze", "--data-dir", data}), "analyze without a VLM");
  // Incremental: a second import adds nothing.
  RunResult again = run({"import", "--data-dir", data, "--model", m, kData + "/images"});
  ASSERT_EQ(again.rc, 0) << again.err;
  EXPECT_NE(again.out.find("imported 0 new, 7 duplicates"), std::string::npos) << again.out;
  // --album NAME puts the imported photos (duplicates too) in an album, created
  // once and found by name afterwards.
  RunResult into = run({"import", "--data-dir", data, "--model", m, "--album", "旅行", kData + "/images"});
  ASSERT_EQ(into.rc, 0) << into.err;
  EXPECT_NE(into.out.find("album \"旅行\" (id 1) now holds 7 photo(s)"), std::string::npos) << into.out;
  into = run({"import", "--data-dir", data, "--model", m, "--album", "旅行", kData + "/images"});
  EXPECT_NE(into.out.find("album \"旅行\" (id 1) now holds 7 photo(s)"), std::string::npos) << into.out;

  // The model comes from <data-dir>/config.json here.
  ASSERT_TRUE(write_file_atomic(data + "/config.json", json({{"model", m}}).dump()).ok());
  json g = load_json(kTiny + "/golden.json");
  const std::string query = g["texts"][5]["text"];  // 一杯咖啡
  RunResult s = run({"search", "--data-dir", data, "--limit", "7", "--json", query});
  ASSERT_EQ(s.rc, 0) << s.err;
  json res = json::parse(s.out);
  EXPECT_EQ(res["query"], query);
  ASSERT_EQ(res["items"].size(), 7u);
  // The order is the goldens' cosine order where neighbours differ clearly.
  auto q = g["texts"][5]["embedding"].get<std::vector<double>>();
  std::map<std::string, double> want;
  for (const auto& im : g["images"]) want[im["file"]] = cosine(q, im["embedding"].get<std::vector<double>>());
  for (size_t i = 0; i + 1 < res["items"].size(); ++i) {
    const double a = want.at(res["items"][i]["filename"]), b = want.at(res["items"][i + 1]["filename"]);
    EXPECT_GE(a, b - 0.02) << i;
    EXPECT_NEAR(res["items"][i]["clip_score"].get<double>(), a, 0.02);  // score is the calibrated relevance
  }
  // Environment beats the config file; the flag beats both.
  expect_one_line_failure(run({"search", "--data-dir", data, query}, {{"SMART_ALBUM_MODEL", "/broken"}}),
                          "env over config.json");
  RunResult flag = run({"search", "--data-dir", data, "--model", m, "--limit", "1", query},
                       {{"SMART_ALBUM_MODEL", "/broken"}});
  EXPECT_EQ(flag.rc, 0) << flag.err;
  // Plain output: one line per hit.
  RunResult plain = run({"search", "--data-dir", data, "--limit", "3", query});
  ASSERT_EQ(plain.rc, 0) << plain.err;
  EXPECT_EQ(plain.lines().size(), 3u);
  fs::remove_all(tmp);
}

// The last line of a text ("" if none).
std::string last_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// SIGINT during an import: it stops after the files in progress, prints what it
// did, exits 130, and a rerun imports exactly the rest.
TEST(Cli, ImportStopsOnSigintAndKeepsWhatWasImported) {
  const fs::path tmp = fs::temp_directory_path() / ("sa_cli_sigint_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  const fs::path src = tmp / "many";
  fs::create_directories(src);
  auto jpeg = read_file(kData + "/images/coffee_q90.jpg");
  ASSERT_TRUE(jpeg.ok());
  constexpr int kFiles = 400;
  for (int i = 0; i < kFiles; ++i) {
    // Bytes after the JPEG end marker: distinct files (by hash) that decode the same.
    ASSERT_TRUE(write_file_atomic((src / ("c" + std::to_string(1000 + i) + ".jpg")).string(),
                                  *jpeg + std::to_string(i)).ok());
  }
  const std::string data = (tmp / "album").string();
  Running imp = start({"import", "--data-dir", data, src.string()});
  ASSERT_GT(imp.pid, 0);
  // Plain progress prints the first file (then every 10 %): interrupt once it shows.
  const std::string first = "import " + src.string() + ": 1/" + std::to_string(kFiles) + " (0%)";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (imp.err_so_far().find(first) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(imp.pid, SIGINT);
  RunResult r = imp.finish();
  EXPECT_NE(r.err.find(first), std::string::npos) << r.err;
  EXPECT_EQ(r.rc, 130) << r.err;
  EXPECT_EQ(last_line(r.err).rfind("smart-album: interrupted: stopped after ", 0), 0u) << r.err;
  long long added = -1;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "imported %lld new, 0 duplicates, 0 rejected", &added), 1) << r.out;
  EXPECT_GE(added, 1);
  EXPECT_LT(added, kFiles);
  // Files are taken in sorted order and every file started is finished, so the
  // first `added` files are stored, whole. Keeping 5 more (and dropping the rest,
  // to keep the test short), a rerun imports exactly those 5.
  for (int i = static_cast<int>(added) + 5; i < kFiles; ++i) fs::remove(src / ("c" + std::to_string(1000 + i) + ".jpg"));
  RunResult again = run({"import", "--data-dir", data, src.string()});
  EXPECT_EQ(again.rc, 0) << again.err;
  EXPECT_NE(again.out.find("imported 5 new, " + std::to_string(added) + " duplicates, 0 rejected"), std::string::npos)
      << again.out;
  fs::remove_all(tmp);
}

// One integer from the album's database (-1 on any error).
long long db_count(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  long long n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

// SIGKILL in the middle of an import (issue 17): nothing is half-stored. Three
// imports of the same folder are killed at different points, then one runs to the
// end: every photo is there exactly once with its CLIP vector, and every file under
// the data dir belongs to a photo (no orphan originals, thumbnails or temp files).
TEST(Cli, ImportKilledMidBatchLosesNothingAndLeavesNoOrphans) {
  const fs::path tmp = fs::temp_directory_path() / ("sa_cli_kill_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  const fs::path src = tmp / "batch";
  fs::create_directories(src);
  auto jpeg = read_file(kData + "/images/coffee_q90.jpg");
  ASSERT_TRUE(jpeg.ok());
  constexpr int kFiles = 60;
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_TRUE(write_file_atomic((src / ("k" + std::to_string(1000 + i) + ".jpg")).string(),
                                  *jpeg + "kill" + std::to_string(i)).ok());
  }
  const std::string data = (tmp / "album").string();
  const std::string m = kTiny + "/hf-safetensors";
  const std::string db = data + "/album.db";
  long long stored_before = 0;
  for (int round = 0; round < 3; ++round) {
    Running imp = start({"import", "--data-dir", data, "--model", m, src.string()});
    ASSERT_GT(imp.pid, 0);
    // Kill once the import is under way (its progress line shows), a little later each round.
    const std::string shows = "import " + src.string() + ": ";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (imp.err_so_far().find(shows) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(40 * round));
    ::kill(imp.pid, SIGKILL);
    RunResult r = imp.finish();
    EXPECT_EQ(r.rc, 128 + SIGKILL) << "the import finished before it was killed: " << r.out;
    const long long stored = db_count(db, "SELECT COUNT(*) FROM photos");
    std::printf("[ kill   ] round %d: %lld of %d photos stored when killed\n", round, stored, kFiles);
    EXPECT_GE(stored, stored_before) << round;
    stored_before = std::max(stored, 0LL);
  }
  EXPECT_LT(stored_before, kFiles) << "every photo was stored before a kill: the test killed nothing mid-batch";

  RunResult fin = run({"import", "--data-dir", data, "--model", m, src.string()});
  ASSERT_EQ(fin.rc, 0) << fin.err;
  long long added = -1, dups = -1;
  ASSERT_EQ(std::sscanf(fin.out.c_str(), "imported %lld new, %lld duplicates, 0 rejected", &added, &dups), 2) << fin.out;
  EXPECT_EQ(added + dups, kFiles) << fin.out;
  EXPECT_EQ(db_count(db, "SELECT COUNT(*) FROM photos"), kFiles);
  EXPECT_EQ(db_count(db, "SELECT COUNT(DISTINCT filename) FROM photos"), kFiles);
  EXPECT_EQ(db_count(db, "SELECT COUNT(DISTINCT v.photo_id) FROM vectors v JOIN photos p ON p.id = v.photo_id "
                         "WHERE v.kind = 'clip'"),
            kFiles);
  EXPECT_EQ(db_count(db, "SELECT COUNT(*) FROM jobs WHERE state IN ('pending', 'running')"), 0);

  // No temp debris: the finishing run cleared what the killed ones left.
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(data) / "tmp", ec)) {
    ADD_FAILURE() << "temp file left: " << e.path();
  }
  // Every stored file belongs to a photo, every photo has its files.
  std::set<std::string> owned;
  {
    Config cfg;
    cfg.data_dir = data;
    auto album = Album::open(cfg);
    ASSERT_TRUE(album.ok()) << album.status().to_string();
    auto page = (*album)->list_photos(1, 1000);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->items.size(), static_cast<size_t>(kFiles));
    for (const auto& p : page->items) {
      for (auto path : {(*album)->original_path(p.id), (*album)->thumbnail_path(p.id), (*album)->preview_path(p.id)}) {
        if (!path.ok()) continue;  // previews are made only for some photos
        EXPECT_TRUE(fs::is_regular_file(*path)) << *path;
        owned.insert(fs::weakly_canonical(*path).string());
      }
    }
  }
  int files = 0;
  for (const char* sub : {"originals", "thumbnails", "previews"}) {
    for (const auto& e : fs::recursive_directory_iterator(fs::path(data) / sub, ec)) {
      if (!e.is_regular_file()) continue;
      ++files;
      EXPECT_TRUE(owned.count(fs::weakly_canonical(e.path()).string())) << "orphan file " << e.path();
    }
  }
  EXPECT_GE(files, 2 * kFiles);
  fs::remove_all(tmp);
}

// Entries the scan cannot import are named on stderr and counted in the summary.
TEST(Cli, ImportReportsSkippedEntries) {
  const fs::path tmp = fs::temp_directory_path() / ("sa_cli_skip_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  const fs::path src = tmp / "trip";
  fs::create_directories(src);
  fs::copy_file(kData + "/images/pokemon.jpeg", src / "pokemon.jpeg");
  fs::create_symlink(tmp / "gone.jpg", src / "broken.jpg");
  RunResult r = run({"import", "--data-dir", (tmp / "album").string(), src.string()});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("imported 1 new, 0 duplicates, 0 rejected, 1 skipped"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("skipped " + (src / "broken.jpg").string() + ": broken symbolic link"), std::string::npos)
      << r.err;
  fs::remove_all(tmp);
}

// A stand-in VLM on 127.0.0.1 that refuses every request (400: not retried).
class RefusingVlm {
 public:
  RefusingVlm() {
    svr_.Post("/v1/chat/completions", [this](const httplib::Request&, httplib::Response& res) {
      ++requests;
      res.status = 400;
      res.set_content(R"({"error":{"message":"model not found"}})", "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
  }
  ~RefusingVlm() {
    svr_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::atomic<int> requests{0};

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
};

// analyze --no-wait only queues (no VLM request, no waiting); analyze that
// waits exits non-zero when its jobs failed, every time.
TEST(Cli, AnalyzeNoWaitQueuesOnlyAndFailedJobsFail) {
  const fs::path tmp = fs::temp_directory_path() / ("sa_cli_analyze_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  const std::string data = (tmp / "album").string();
  RunResult imp = run({"import", "--data-dir", data, kData + "/images"});
  ASSERT_EQ(imp.rc, 0) << imp.err;
  RefusingVlm vlm;
  std::map<std::string, std::string> env = {{"QWEN_API_KEY", "sk-test"}, {"QWEN_BASE_URL", vlm.base_url()}};

  const auto t0 = std::chrono::steady_clock::now();
  RunResult queued = run({"analyze", "--data-dir", data, "--no-wait"}, env);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(queued.rc, 0) << queued.err;
  EXPECT_NE(queued.out.find("queued 7 photo(s)"), std::string::npos) << queued.out;
  EXPECT_EQ(vlm.requests.load(), 0);
  EXPECT_LT(secs, 5.0);

  for (int round = 0; round < 2; ++round) {
    RunResult an = run({"analyze", "--data-dir", data}, env);
    EXPECT_NE(an.rc, 0) << round << ": " << an.out << an.err;
    EXPECT_NE(an.err.find("7 job(s) failed"), std::string::npos) << an.err;
    EXPECT_EQ(last_line(an.err), "smart-album: 7 description job(s) failed (listed above)") << an.err;
  }
  EXPECT_GE(vlm.requests.load(), 14);
  fs::remove_all(tmp);
}

// import's embedding wait: the bar counts every job of the run, and failed
// embeddings (originals gone) make the exit status non-zero.
TEST(Cli, ImportEmbeddingFailuresFailAndCountAllJobs) {
  const fs::path tmp = fs::temp_directory_path() / ("sa_cli_embedfail_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  const std::string data = (tmp / "album").string();
  RunResult imp = run({"import", "--data-dir", data, kData + "/images"});
  ASSERT_EQ(imp.rc, 0) << imp.err;
  fs::remove_all(fs::path(data) / "originals");
  RunResult emb = run({"import", "--data-dir", data, "--model", kTiny + "/hf-safetensors", kData + "/images"});
  EXPECT_NE(emb.out.find("imported 0 new, 7 duplicates"), std::string::npos) << emb.out;
  EXPECT_NE(emb.rc, 0) << emb.err;
  EXPECT_NE(emb.err.find("embedding: 7/7 (100%)"), std::string::npos) << emb.err;
  EXPECT_EQ(last_line(emb.err), "smart-album: 7 embedding job(s) failed (listed above)") << emb.err;
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace sa
