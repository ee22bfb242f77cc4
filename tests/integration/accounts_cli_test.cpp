// The built `smart-album` binary with accounts: user add|list|passwd|remove,
// token create|list|revoke, serve's refusals (exposed without users, --auth off
// beyond loopback), and HTTPS with --tls-cert/--tls-key signing in with a
// Secure cookie and a Bearer token from `token create`.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "core/file_util.h"

extern char** environ;

namespace sa {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kBin = SA_BINARY;

struct Out {
  int rc = -1;
  std::string out, err;
};

class AccountsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sa_acc_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    data_ = (dir_ / "data").string();
  }
  void TearDown() override {
    if (server_ > 0) {
      ::kill(server_, SIGTERM);
      int st = 0;
      ::waitpid(server_, &st, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs the binary with `args`, `input` on stdin (not a terminal).
  Out run(const std::vector<std::string>& args, const std::string& input = "") {
    static int n = 0;
    const std::string in = (dir_ / ("in" + std::to_string(n))).string();
    const std::string out = (dir_ / ("out" + std::to_string(n))).string();
    const std::string err = (dir_ / ("err" + std::to_string(n++))).string();
    EXPECT_TRUE(write_file_atomic(in, input).ok());
    const pid_t pid = spawn(args, in, out, err);
    int st = 0;
    ::waitpid(pid, &st, 0);
    Out r;
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = read_file(out).ok() ? *read_file(out) : "";
    r.err = read_file(err).ok() ? *read_file(err) : "";
    return r;
  }
  pid_t spawn(const std::vector<std::string>& args, const std::string& in, const std::string& out,
              const std::string& err) {
    std::vector<std::string> argv_s = {kBin};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, kBin.c_str(), &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
  }
  // Starts `serve` and returns the port it printed (0 if it exited or never said).
  int start_server(std::vector<std::string> args, std::string* scheme = nullptr) {
    const std::string in = (dir_ / "srv_in").string(), out = (dir_ / "srv_out").string();
    const std::string err = (dir_ / "srv_err").string();
    EXPECT_TRUE(write_file_atomic(in, "").ok());
    args.insert(args.begin(), {"serve", "--data-dir", data_, "--port", "0"});
    server_ = spawn(args, in, out, err);
    const std::regex re(R"(listening on (https?)://[^:]+:(\d+))");
    for (int i = 0; i < 600; ++i) {
      auto text = read_file(out);
      std::smatch m;
      if (text.ok() && std::regex_search(*text, m, re)) {
        if (scheme) *scheme = m[1];
        return std::stoi(m[2]);
      }
      int st = 0;
      if (::waitpid(server_, &st, WNOHANG) == server_) {
        server_ = -1;
        ADD_FAILURE() << "serve exited: " << (read_file(err).ok() ? *read_file(err) : "");
        return 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }

  fs::path dir_;
  std::string data_;
  pid_t server_ = -1;
};

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST_F(AccountsCli, UserAddListPasswdRemove) {
  Out add = run({"user", "add", "mama", "--admin", "--password-stdin", "--data-dir", data_}, "family-password\n");
  ASSERT_EQ(add.rc, 0) << add.err;
  EXPECT_NE(add.out.find("mama"), std::string::npos);
  ASSERT_EQ(run({"user", "add", "kid", "--password-stdin", "--data-dir", data_}, "kid-password\n").rc, 0);
  Out dup = run({"user", "add", "MAMA", "--password-stdin", "--data-dir", data_}, "another-password\n");
  EXPECT_NE(dup.rc, 0);
  EXPECT_EQ(lines(dup.err), 1) << dup.err;
  Out shortpw = run({"user", "add", "x", "--password-stdin", "--data-dir", data_}, "short\n");
  EXPECT_NE(shortpw.rc, 0);
  // Not a terminal and no --password-stdin: refused, not hanging.
  Out notty = run({"user", "add", "y", "--data-dir", data_}, "whatever-password\n");
  EXPECT_NE(notty.rc, 0);
  EXPECT_NE(notty.err.find("--password-stdin"), std::string::npos) << notty.err;
  Out list = run({"user", "list", "--data-dir", data_});
  ASSERT_EQ(list.rc, 0);
  EXPECT_NE(list.out.find("mama"), std::string::npos);
  EXPECT_NE(list.out.find("admin"), std::string::npos);
  EXPECT_NE(list.out.find("kid"), std::string::npos);
  EXPECT_EQ(list.out.find("argon2"), std::string::npos);
  EXPECT_EQ(lines(list.out), 2);
  EXPECT_EQ(run({"user", "passwd", "kid", "--password-stdin", "--data-dir", data_}, "kid-password-2\n").rc, 0);
  Out last_admin = run({"user", "remove", "mama", "--data-dir", data_});
  EXPECT_NE(last_admin.rc, 0);
  EXPECT_NE(last_admin.err.find("last admin"), std::string::npos) << last_admin.err;
  EXPECT_EQ(run({"user", "remove", "kid", "--data-dir", data_}).rc, 0);
  EXPECT_EQ(lines(run({"user", "list", "--data-dir", data_}).out), 1);
  EXPECT_NE(run({"user", "remove", "nobody", "--data-dir", data_}).rc, 0);
}

TEST_F(AccountsCli, TokensArePrintedOnceAndWorkAsBearer) {
  ASSERT_EQ(run({"user", "add", "mama", "--admin", "--password-stdin", "--data-dir", data_}, "family-password\n").rc, 0);
  Out made = run({"token", "create", "mama", "--label", "backup", "--data-dir", data_});
  ASSERT_EQ(made.rc, 0) << made.err;
  std::string token = made.out;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  ASSERT_EQ(token.rfind("sa_", 0), 0u) << token;
  Out list = run({"token", "list", "--data-dir", data_});
  ASSERT_EQ(list.rc, 0);
  EXPECT_NE(list.out.find("backup"), std::string::npos);
  EXPECT_EQ(list.out.find(token), std::string::npos);

  const int port = start_server({});
  ASSERT_GT(port, 0);
  httplib::Client c("127.0.0.1", port);
  EXPECT_EQ(c.Get("/api/photos")->status, 401);
  auto ok = c.Get("/api/photos", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  // Revoked beside the running server: refused at once.
  const std::string id = list.out.substr(0, list.out.find(' '));
  ASSERT_EQ(run({"token", "revoke", id, "--data-dir", data_}).rc, 0);
  EXPECT_EQ(c.Get("/api/photos", {{"Authorization", "Bearer " + token}})->status, 401);
}

TEST_F(AccountsCli, ServeRefusesExposureWithoutUsersAndAuthOffBeyondLoopback) {
  Out exposed = run({"serve", "--data-dir", data_, "--host", "0.0.0.0", "--port", "0"});
  EXPECT_NE(exposed.rc, 0);
  EXPECT_EQ(lines(exposed.err), 1) << exposed.err;
  EXPECT_NE(exposed.err.find("user add"), std::string::npos) << exposed.err;
  Out off = run({"serve", "--data-dir", data_, "--host", "0.0.0.0", "--port", "0", "--auth", "off"});
  EXPECT_NE(off.rc, 0);
  EXPECT_EQ(lines(off.err), 1) << off.err;
  EXPECT_NE(off.err.find("--auth off"), std::string::npos) << off.err;
}

TEST_F(AccountsCli, LoopbackWithoutUsersOffersSetupOnly) {
  const int port = start_server({});
  ASSERT_GT(port, 0);
  httplib::Client c("127.0.0.1", port);
  auto me = c.Get("/api/auth/me");
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 401);
  EXPECT_EQ(json::parse(me->body)["error"]["code"], "setup_required");
  auto made = c.Post("/api/auth/setup", R"({"username":"root","password":"root-password"})", "application/json");
  ASSERT_TRUE(made);
  EXPECT_EQ(made->status, 201) << made->body;
  Out list = run({"user", "list", "--data-dir", data_});
  EXPECT_NE(list.out.find("root"), std::string::npos);
  EXPECT_NE(list.out.find("admin"), std::string::npos);
}

TEST_F(AccountsCli, HttpsWithTlsCertSignsInWithSecureCookie) {
  const std::string cert = (dir_ / "cert.pem").string(), key = (dir_ / "key.pem").string();
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout " + key +
                          " -out " + cert + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "no openssl command to make a test certificate";
  ASSERT_EQ(run({"user", "add", "mama", "--admin", "--password-stdin", "--data-dir", data_}, "family-password\n").rc, 0);
  std::string scheme;
  const int port = start_server({"--tls-cert", cert, "--tls-key", key}, &scheme);
  ASSERT_GT(port, 0);
  EXPECT_EQ(scheme, "https");
  httplib::SSLClient c("127.0.0.1", port);
  c.enable_server_certificate_verification(false);
  auto r = c.Post("/api/auth/login", R"({"username":"mama","password":"family-password"})", "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string set = r->get_header_value("Set-Cookie");
  EXPECT_NE(set.find("; Secure"), std::string::npos) << set;
  const std::string sid = set.substr(set.find('=') + 1, set.find(';') - set.find('=') - 1);
  auto me = c.Get("/api/auth/me", {{"Cookie", "sa_session=" + sid}});
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  // Plain HTTP to the TLS port gets no album.
  httplib::Client plain("127.0.0.1", port);
  auto p = plain.Get("/api/health");
  EXPECT_TRUE(!p || p->status != 200);
}

}  // namespace
}  // namespace sa
