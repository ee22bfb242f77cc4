#include "auth/accounts.h"

#include "auth/secrets.h"

namespace sa {
namespace {

// A held slot of the hashing semaphore.
template <class Sem>
struct SemaphoreSlot {
  explicit SemaphoreSlot(Sem& s) : sem(s) { sem.acquire(); }
  ~SemaphoreSlot() { sem.release(); }
  SemaphoreSlot(const SemaphoreSlot&) = delete;
  SemaphoreSlot& operator=(const SemaphoreSlot&) = delete;
  Sem& sem;
};

const char* kWrongCredentials = "wrong user name or password";

}  // namespace

Accounts::Accounts(UserStore& store, std::function<double()> clock_s)
    : store_(store), limiter_(std::move(clock_s)) {
  (void)init_secrets();
  // A hash of a random password, so that an unknown name is checked against
  // something and costs the same time as a known one.
  auto h = hash_password(new_token());
  if (h.ok()) dummy_hash_ = *h;
}

Status Accounts::check_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return Status::InvalidArgument("user name must be 1-64 bytes");
  for (unsigned char c : name) {
    if (c <= 0x20 || c == 0x7f || c == ':' || c == '/' || c == '\\') {
      return Status::InvalidArgument("user name must not contain spaces, control characters, ':', '/' or '\\'");
    }
  }
  return Status::OK();
}

Status Accounts::check_password(std::string_view password) {
  if (password.size() < kMinPassword) {
    return Status::InvalidArgument("password must be at least " + std::to_string(kMinPassword) + " characters");
  }
  if (password.size() > kMaxPassword) return Status::InvalidArgument("password is too long");
  return Status::OK();
}

Result<std::string> Accounts::hash(std::string_view password) {
  SemaphoreSlot slot(hashing_);
  return hash_password(password);
}

bool Accounts::verify(std::string_view h, std::string_view password) {
  SemaphoreSlot slot(hashing_);
  return verify_password(h, password);
}

Result<User> Accounts::add_user(std::string_view name, std::string_view password, bool admin) {
  SA_RETURN_IF_ERROR(check_name(name));
  SA_RETURN_IF_ERROR(check_password(password));
  SA_ASSIGN_OR_RETURN(std::string h, hash(password));
  SA_ASSIGN_OR_RETURN(int64_t id, store_.create_user(name, h, admin));
  return store_.get_user(id);
}

Result<LoginResult> Accounts::setup_first_admin(std::string_view name, std::string_view password) {
  SA_RETURN_IF_ERROR(check_name(name));
  SA_RETURN_IF_ERROR(check_password(password));
  SA_ASSIGN_OR_RETURN(std::string h, hash(password));
  SA_ASSIGN_OR_RETURN(int64_t id, store_.create_user(name, h, /*admin=*/true, /*only_if_none=*/true));
  SA_ASSIGN_OR_RETURN(User u, store_.get_user(id));
  return start_session(u);
}

Status Accounts::set_password(int64_t user_id, std::string_view new_password, std::string_view keep_session) {
  SA_RETURN_IF_ERROR(check_password(new_password));
  SA_ASSIGN_OR_RETURN(std::string h, hash(new_password));
  return store_.set_password_hash(user_id, h, keep_session.empty() ? "" : token_hash(keep_session));
}

Status Accounts::change_password(const User& user, std::string_view old_password,
                                 std::string_view new_password, std::string_view keep_session,
                                 std::string_view client_addr) {
  SA_RETURN_IF_ERROR(check_password(new_password));
  if (limiter_.retry_after(user.name, client_addr) > 0) {
    return Status::ResourceExhausted("too many failed attempts; try again later");
  }
  SA_ASSIGN_OR_RETURN(User fresh, store_.get_user(user.id));
  if (!verify(fresh.password_hash, old_password)) {
    limiter_.record_failure(user.name, client_addr);
    return Status(kBadCredentials, "the current password is wrong");
  }
  return set_password(user.id, new_password, keep_session);
}

Status Accounts::remove_user(int64_t user_id) {
  SA_ASSIGN_OR_RETURN(User u, store_.get_user(user_id));
  if (u.admin) {
    SA_ASSIGN_OR_RETURN(int64_t admins, store_.count_admins());
    if (admins <= 1) return Status::InvalidArgument("'" + u.name + "' is the last admin and cannot be removed");
  }
  SA_ASSIGN_OR_RETURN(int64_t n, store_.count_photos_of(user_id));
  if (n > 0) {
    return Status::InvalidArgument("'" + u.name + "' still owns " + std::to_string(n) +
                                   " photo(s); delete them first");
  }
  return store_.delete_user(user_id);
}

Result<LoginResult> Accounts::start_session(const User& u) {
  LoginResult r;
  r.user = u;
  r.session_token = new_token();
  SA_RETURN_IF_ERROR(store_.create_session(u.id, token_hash(r.session_token)));
  return r;
}

Result<LoginResult> Accounts::login(std::string_view name, std::string_view password,
                                    std::string_view client_addr, int* retry_after_s) {
  if (retry_after_s) *retry_after_s = 0;
  if (const int wait = limiter_.retry_after(name, client_addr); wait > 0) {
    if (retry_after_s) *retry_after_s = wait;
    return Status::ResourceExhausted("too many failed sign-in attempts; try again in " +
                                     std::to_string(wait) + " s");
  }
  auto u = name.empty() || name.size() > 64 ? Result<User>(Status::NotFound("no name"))
                                            : store_.get_user_by_name(name);
  if (!u.ok() && u.status().code() != StatusCode::kNotFound) return u.status();  // a database error
  // An unknown name is checked against the dummy hash: same time, same answer.
  const bool good = verify(u.ok() ? u->password_hash : dummy_hash_, password) && u.ok();
  if (!good) {
    limiter_.record_failure(name, client_addr);
    return Status(kBadCredentials, kWrongCredentials);
  }
  limiter_.record_success(name);
  return start_session(*u);
}

Result<User> Accounts::session_user(std::string_view session_token) {
  if (session_token.empty()) return Status(kBadCredentials, "not signed in");
  auto u = store_.session_user(token_hash(session_token), kSessionIdleS);
  if (!u.ok() && u.status().code() == StatusCode::kNotFound) {
    return Status(kBadCredentials, "session expired or signed out");
  }
  return u;
}

Status Accounts::logout(std::string_view session_token) {
  if (session_token.empty()) return Status::OK();
  return store_.delete_session(token_hash(session_token));
}

Result<NewToken> Accounts::create_token(int64_t user_id, std::string_view label) {
  if (label.size() > 200) return Status::InvalidArgument("token label is too long (max 200 bytes)");
  NewToken t;
  t.token = new_token("sa_");
  SA_ASSIGN_OR_RETURN(t.id, store_.create_token(user_id, token_hash(t.token), label));
  return t;
}

Result<User> Accounts::token_user(std::string_view token) {
  if (token.empty()) return Status(kBadCredentials, "no token");
  auto u = store_.token_user(token_hash(token));
  if (!u.ok() && u.status().code() == StatusCode::kNotFound) {
    return Status(kBadCredentials, "unknown or revoked token");
  }
  return u;
}

}  // namespace sa
