// UserStore: the accounts tables of album.db (schema migration 3, see
// store.cpp): users, sessions, api_tokens, and photos.owner_id.
//
// Secrets never reach this class: sessions and API tokens are looked up by a
// hash of the secret, passwords are stored as Argon2id strings (src/auth).
//
// A separate connection to the same database as the Store (WAL: both may be
// open in one process or in several), so the photo Store's interface stays as
// it is. Thread safety: every method may be called from any thread; calls are
// serialised by a mutex.
//
// Errors: NotFound for a missing user/session/token, AlreadyExists for a taken
// name, IOError/Corruption from SQLite.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/db.h"

namespace sa {

struct User {
  int64_t id = 0;
  std::string name;
  std::string password_hash;  // crypto_pwhash_str output
  bool admin = false;
  std::string created_at;
};

struct ApiToken {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string user_name;
  std::string label;
  std::string created_at, last_used_at;  // last_used_at "" if never used
};

class UserStore {
 public:
  // Opens `path` (migrating it first through Store::open, so a fresh data
  // directory works too).
  static Result<std::unique_ptr<UserStore>> open(const std::string& path);

  // Creates a user. AlreadyExists if the name is taken (names compare
  // case-insensitively for ASCII). The first admin ever created adopts every
  // photo without an owner (albums from before accounts), in the same
  // transaction. only_if_none: create only while there are no users at all
  // (first-run setup; AlreadyExists otherwise), atomically.
  Result<int64_t> create_user(std::string_view name, std::string_view password_hash, bool admin,
                              bool only_if_none = false);
  Result<User> get_user(int64_t id);
  Result<User> get_user_by_name(std::string_view name);  // NotFound if none
  Result<std::vector<User>> list_users();                // by id
  Result<int64_t> count_users();
  Result<int64_t> count_admins();
  // Replaces the hash and ends every session of the user except the one whose
  // hash is keep_session_hash ("" ends all).
  Status set_password_hash(int64_t user_id, std::string_view password_hash,
                           std::string_view keep_session_hash = "");
  // Deletes the user with their sessions and tokens. Their photos must have
  // been removed or given away first (the foreign key refuses otherwise).
  Status delete_user(int64_t user_id);
  Result<int64_t> count_photos_of(int64_t user_id);
  // The id of the first admin created (the lowest admin id), 0 if none: whom
  // a server with --auth off acts as once accounts exist.
  Result<int64_t> first_admin_id();

  Status create_session(int64_t user_id, std::string_view token_hash);
  // The user of a session used within max_idle_s; refreshes last_used_at (at
  // most once a minute, so most reads stay reads). NotFound for an unknown or
  // expired session (an expired one is deleted).
  Result<User> session_user(std::string_view token_hash, int64_t max_idle_s);
  Status delete_session(std::string_view token_hash);  // ok if none

  Result<int64_t> create_token(int64_t user_id, std::string_view token_hash, std::string_view label);
  Result<User> token_user(std::string_view token_hash);  // NotFound if none; notes last use
  // Tokens of one user (user_id > 0) or of everyone (0), by id.
  Result<std::vector<ApiToken>> list_tokens(int64_t user_id = 0);
  // Deletes token `id`; with user_id > 0 only if it is that user's (NotFound otherwise).
  Status delete_token(int64_t id, int64_t user_id = 0);

 private:
  explicit UserStore(Db db) : db_(std::move(db)) {}
  std::mutex mu_;
  Db db_;
};

}  // namespace sa
