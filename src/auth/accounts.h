// Accounts: users, sign-in, sessions and API tokens over the Store, with the
// policies the server and the CLI share (name and password rules, the last
// admin, brute-force limits, session lifetime).
//
// Argon2id hashing is slow on purpose (~50-100 ms, 64 MiB) and runs under a
// small semaphore (kMaxConcurrentHashes), so a flood of sign-in attempts queues
// there instead of taking every request thread or all the memory.
//
// Thread safety: every method may be called concurrently. The UserStore
// must outlive the Accounts.
#pragma once

#include <cstdint>
#include <functional>
#include <semaphore>
#include <string>
#include <string_view>
#include <vector>

#include "auth/login_limiter.h"
#include "core/status.h"
#include "store/users.h"

namespace sa {

struct LoginResult {
  User user;
  std::string session_token;  // the cookie value (only its hash is stored)
};

struct NewToken {
  int64_t id = 0;
  std::string token;  // shown once
};

// Failed sign-ins, unknown or expired sessions and tokens come back as
// kBadCredentials (the server answers 401; core/status.h has no auth codes);
// lockouts as ResourceExhausted; broken rules for names and passwords, and the
// last admin, as InvalidArgument.
inline constexpr StatusCode kBadCredentials = StatusCode::kNotFound;

class Accounts {
 public:
  static constexpr int64_t kSessionIdleS = 30LL * 24 * 3600;  // 30 days unused
  static constexpr size_t kMinPassword = 8;
  static constexpr size_t kMaxPassword = 1024;
  static constexpr int kMaxConcurrentHashes = 2;

  // Calls init_secrets(); see the UserStore requirement above.
  explicit Accounts(UserStore& store, std::function<double()> clock_s = {});

  // ---- users ----
  // Name: 1-64 bytes of UTF-8 without spaces, control characters, ':' or '/'.
  // Password: kMinPassword..kMaxPassword bytes. AlreadyExists for a taken name.
  Result<User> add_user(std::string_view name, std::string_view password, bool admin);
  // First-run setup: creates an admin only while no user exists (AlreadyExists
  // otherwise) and signs them in.
  Result<LoginResult> setup_first_admin(std::string_view name, std::string_view password);
  Result<std::vector<User>> list_users() { return store_.list_users(); }
  Result<int64_t> count_users() { return store_.count_users(); }
  Result<User> find_user(std::string_view name) { return store_.get_user_by_name(name); }
  // Whom the album acts for without sign-in (--auth off, the CLI): the first
  // admin created; 0 while there is none (photos then get no owner).
  Result<int64_t> first_admin_id() { return store_.first_admin_id(); }
  // Sets a new password and ends every session of the user except `keep_session`
  // (the caller's own cookie, "" for none).
  Status set_password(int64_t user_id, std::string_view new_password, std::string_view keep_session = "");
  // Checks the old password first (kBadCredentials if wrong, counted like a
  // failed sign-in).
  Status change_password(const User& user, std::string_view old_password, std::string_view new_password,
                         std::string_view keep_session, std::string_view client_addr);
  // InvalidArgument for the last admin, and while the user still owns photos
  // (they are never deleted as a side effect).
  Status remove_user(int64_t user_id);

  // ---- sign-in ----
  // kBadCredentials with one message for an unknown name and a wrong password
  // (an unknown name costs the same Argon2 time); ResourceExhausted with
  // *retry_after_s set when the name or the address is locked out.
  Result<LoginResult> login(std::string_view name, std::string_view password, std::string_view client_addr,
                            int* retry_after_s);
  Result<User> session_user(std::string_view session_token);  // kBadCredentials if none/expired
  Status logout(std::string_view session_token);

  // ---- API tokens ----
  Result<NewToken> create_token(int64_t user_id, std::string_view label);
  Result<User> token_user(std::string_view token);  // kBadCredentials if unknown
  Result<std::vector<ApiToken>> list_tokens(int64_t user_id = 0) { return store_.list_tokens(user_id); }
  Status revoke_token(int64_t id, int64_t user_id = 0) { return store_.delete_token(id, user_id); }

  static Status check_name(std::string_view name);
  static Status check_password(std::string_view password);

 private:
  Result<std::string> hash(std::string_view password);
  bool verify(std::string_view hash, std::string_view password);
  Result<LoginResult> start_session(const User& u);

  UserStore& store_;
  LoginLimiter limiter_;
  std::counting_semaphore<kMaxConcurrentHashes> hashing_{kMaxConcurrentHashes};
  std::string dummy_hash_;  // verified against for unknown names (same cost)
};

}  // namespace sa
