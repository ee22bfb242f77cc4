// The built `smart-album` binary: embed-image / embed-text / embed-sentence against
// the goldens, import + search end to end, config precedence, and that every
// failure exits non-zero with exactly one line on stderr.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <httplib.h>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

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

// Runs the binary with argv (no shell) and an explicit environment.
RunResult run(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
  static int counter = 0;
  const fs::path dir = fs::temp_directory_path() / ("sa_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string out = (dir / ("out" + std::to_string(counter))).string();
  const std::string err = (dir / ("err" + std::to_string(counter++))).string();
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
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  RunResult r;
  if (posix_spawn(&pid, kBin.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }
  posix_spawn_file_actions_destroy(&fa);
  r.out = read_file(out).ok() ? *read_file(out) : "";
  r.err = read_file(err).ok() ? *read_file(err) : "";
  return r;
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
    EXPECT_NEAR(res["items"][i]["score"].get<double>(), a, 0.02);
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

}  // namespace
}  // namespace sa
