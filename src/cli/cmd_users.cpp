// user add|list|passwd|remove and token create|list|revoke: accounts kept in
// the album's database, managed from the machine that holds it.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "auth/accounts.h"
#include "cli/commands.h"
#include "store/users.h"

namespace sa::cli {
namespace {

struct OpenAccounts {
  std::unique_ptr<UserStore> store;
  std::unique_ptr<Accounts> accounts;
};

// The album's database; `create` makes the data directory for a first `user add`.
Result<OpenAccounts> open_accounts(const Config& cfg, bool create) {
  namespace fs = std::filesystem;
  const fs::path db = fs::path(cfg.data_dir) / "album.db";
  std::error_code ec;
  if (!fs::exists(db, ec)) {
    if (!create) return Status::NotFound("no album in " + cfg.data_dir + " (check --data-dir)");
    fs::create_directories(cfg.data_dir, ec);
    if (ec) return Status::IOError("cannot create " + cfg.data_dir + ": " + ec.message());
  }
  OpenAccounts out;
  SA_ASSIGN_OR_RETURN(out.store, UserStore::open(db.string()));
  out.accounts = std::make_unique<Accounts>(*out.store);
  return out;
}

// Reads a line from the terminal without echo.
Result<std::string> read_hidden(const char* prompt) {
  std::fprintf(stderr, "%s", prompt);
  std::fflush(stderr);
  termios old{};
  const bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::fprintf(stderr, "\n");
  if (!got) return Status::InvalidArgument("no password given");
  return line;
}

// The new password: one line of stdin with --password-stdin, else asked twice
// on the terminal.
Result<std::string> new_password(bool from_stdin) {
  if (from_stdin) {
    std::string line;
    if (!std::getline(std::cin, line)) return Status::InvalidArgument("no password on stdin");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  if (!isatty(STDIN_FILENO)) {
    return Status::InvalidArgument("stdin is not a terminal: pass the password with --password-stdin");
  }
  SA_ASSIGN_OR_RETURN(std::string a, read_hidden("password: "));
  SA_RETURN_IF_ERROR(Accounts::check_password(a));
  SA_ASSIGN_OR_RETURN(std::string b, read_hidden("again: "));
  if (a != b) return Status::InvalidArgument("the two passwords differ");
  return a;
}

}  // namespace

int cmd_user(const Config& cfg, const UserArgs& a) {
  auto acc = open_accounts(cfg, a.action == "add");
  if (!acc.ok()) return fail(acc.status());
  Accounts& accounts = *acc->accounts;
  if (a.action == "list") {
    auto users = accounts.list_users();
    if (!users.ok()) return fail(users.status());
    for (const auto& u : *users) {
      std::printf("%-4lld %-24s %-6s %s\n", static_cast<long long>(u.id), u.name.c_str(),
                  u.admin ? "admin" : "user", u.created_at.c_str());
    }
    if (users->empty()) std::fprintf(stderr, "no users (add one with: smart-album user add NAME --admin)\n");
    return 0;
  }
  if (a.action == "add") {
    if (Status s = Accounts::check_name(a.name); !s.ok()) return fail(s);
    auto pw = new_password(a.password_stdin);
    if (!pw.ok()) return fail(pw.status());
    auto u = accounts.add_user(a.name, *pw, a.admin);
    if (!u.ok()) return fail(u.status());
    std::printf("added %s '%s' (id %lld)\n", u->admin ? "admin" : "user", u->name.c_str(),
                static_cast<long long>(u->id));
    return 0;
  }
  auto u = accounts.find_user(a.name);
  if (!u.ok()) return fail(u.status());
  if (a.action == "passwd") {
    auto pw = new_password(a.password_stdin);
    if (!pw.ok()) return fail(pw.status());
    Status s = accounts.set_password(u->id, *pw);
    if (!s.ok()) return fail(s);
    std::printf("password of '%s' changed; their sessions are signed out\n", u->name.c_str());
    return 0;
  }
  if (a.action == "remove") {
    Status s = accounts.remove_user(u->id);
    if (!s.ok()) return fail(s);
    std::printf("removed '%s'\n", u->name.c_str());
    return 0;
  }
  return fail("unknown user command '" + a.action + "'");
}

int cmd_token(const Config& cfg, const TokenArgs& a) {
  auto acc = open_accounts(cfg, false);
  if (!acc.ok()) return fail(acc.status());
  Accounts& accounts = *acc->accounts;
  if (a.action == "create") {
    auto u = accounts.find_user(a.name);
    if (!u.ok()) return fail(u.status());
    auto t = accounts.create_token(u->id, a.label);
    if (!t.ok()) return fail(t.status());
    // The token alone on stdout (scripts capture it); it is not shown again.
    std::printf("%s\n", t->token.c_str());
    std::fprintf(stderr, "token %lld for '%s': use it as 'Authorization: Bearer TOKEN'; it is shown only once\n",
                 static_cast<long long>(t->id), u->name.c_str());
    return 0;
  }
  if (a.action == "list") {
    int64_t user_id = 0;
    if (!a.name.empty()) {
      auto u = accounts.find_user(a.name);
      if (!u.ok()) return fail(u.status());
      user_id = u->id;
    }
    auto tokens = accounts.list_tokens(user_id);
    if (!tokens.ok()) return fail(tokens.status());
    for (const auto& t : *tokens) {
      std::printf("%-4lld %-16s %-24s created %s, last used %s\n", static_cast<long long>(t.id),
                  t.user_name.c_str(), t.label.c_str(), t.created_at.c_str(),
                  t.last_used_at.empty() ? "never" : t.last_used_at.c_str());
    }
    return 0;
  }
  if (a.action == "revoke") {
    Status s = accounts.revoke_token(a.id);
    if (!s.ok()) return fail(s);
    std::printf("revoked token %lld\n", static_cast<long long>(a.id));
    return 0;
  }
  return fail("unknown token command '" + a.action + "'");
}

}  // namespace sa::cli
