// Users, sessions and API tokens: the Store's tables (migration 3), the
// secrets helpers, the login limiter and the Accounts policies.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "auth/accounts.h"
#include "auth/login_limiter.h"
#include "auth/secrets.h"
#include "store/db.h"
#include "store/store.h"
#include "store/users.h"

namespace sa {
namespace {

class TempDb {
 public:
  TempDb() {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("sa_auth_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~TempDb() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string path() const { return (dir_ / "album.db").string(); }

 private:
  std::filesystem::path dir_;
};

// owner_id straight from SQLite (PhotoInfo does not carry it yet).
int64_t owner_of(const std::string& db_path, int64_t photo_id) {
  auto db = Db::open(db_path);
  EXPECT_TRUE(db.ok());
  auto st = db->prepare("SELECT coalesce(owner_id, 0) FROM photos WHERE id = ?");
  EXPECT_TRUE(st.ok());
  st->bind(1, photo_id);
  auto row = st->step();
  EXPECT_TRUE(row.ok() && *row);
  return st->column_int64(0);
}

TEST(Secrets, PasswordHashIsArgon2idAndVerifies) {
  ASSERT_TRUE(init_secrets().ok());
  auto h = hash_password("correct horse");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u) << *h;
  EXPECT_TRUE(verify_password(*h, "correct horse"));
  EXPECT_FALSE(verify_password(*h, "correct hors"));
  EXPECT_FALSE(verify_password("", "correct horse"));
  EXPECT_FALSE(verify_password("$argon2id$garbage", "correct horse"));
  auto h2 = hash_password("correct horse");
  ASSERT_TRUE(h2.ok());
  EXPECT_NE(*h, *h2);  // salted
}

TEST(Secrets, TokensAreRandomAndHashedStably) {
  ASSERT_TRUE(init_secrets().ok());
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(new_token());
  EXPECT_EQ(seen.size(), 100u);
  const std::string t = new_token("sa_");
  EXPECT_EQ(t.rfind("sa_", 0), 0u);
  EXPECT_EQ(t.size(), 3u + 43u);
  EXPECT_EQ(token_hash(t), token_hash(t));
  EXPECT_NE(token_hash(t), token_hash(t + "x"));
  EXPECT_EQ(token_hash(t).size(), 64u);
  EXPECT_EQ(token_hash(t).find(t.substr(3)), std::string::npos);
}

TEST(UserStoreTest, CreateFindListAndCaseInsensitiveNames) {
  TempDb tmp;
  auto store = UserStore::open(tmp.path());
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  auto id = (*store)->create_user("Alice", "hash-a", true);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ((*store)->create_user("alice", "hash-b", false).status().code(), StatusCode::kAlreadyExists);
  auto u = (*store)->get_user_by_name("ALICE");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->id, *id);
  EXPECT_EQ(u->name, "Alice");
  EXPECT_TRUE(u->admin);
  EXPECT_EQ((*store)->get_user_by_name("bob").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE((*store)->create_user("bob", "hash-b", false).ok());
  auto all = (*store)->list_users();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].name, "bob");
  EXPECT_EQ(*(*store)->count_admins(), 1);
  // only_if_none refuses once a user exists.
  EXPECT_EQ((*store)->create_user("carol", "h", true, true).status().code(), StatusCode::kAlreadyExists);
}

TEST(UserStoreTest, FirstAdminAdoptsPhotosFromBeforeAccounts) {
  TempDb tmp;
  int64_t p1 = 0, p2 = 0;
  {
    StoreOptions v2;
    v2.migrate_up_to = 2;  // an album from before accounts
    auto old = Store::open(tmp.path(), v2);
    ASSERT_TRUE(old.ok());
    // Rows with only the columns a version-2 photos table has (Store::insert_photo
    // writes the newest schema's columns, e.g. migration 4's taken_at_source).
    auto db = Db::open(tmp.path());
    ASSERT_TRUE(db.ok());
    for (const char* hash : {"aa", "bb"}) {
      auto st = db->prepare("INSERT INTO photos(hash, filename, added_at) VALUES (?, 'a.jpg', '2022-01-01T00:00:00Z')");
      ASSERT_TRUE(st.ok());
      st->bind(1, std::string(hash));
      ASSERT_TRUE(st->run().ok());
      (std::string(hash) == "aa" ? p1 : p2) = db->last_insert_rowid();
    }
  }
  auto store = UserStore::open(tmp.path());
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  EXPECT_EQ(owner_of(tmp.path(), p1), 0);
  // A non-admin created first adopts nothing; the first admin takes them all.
  auto bob = (*store)->create_user("bob", "h", false);
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(owner_of(tmp.path(), p1), 0);
  auto admin = (*store)->create_user("root", "h", true);
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(owner_of(tmp.path(), p1), *admin);
  EXPECT_EQ(owner_of(tmp.path(), p2), *admin);
  EXPECT_EQ(*(*store)->count_photos_of(*admin), 2);
  // A second admin adopts nothing.
  auto admin2 = (*store)->create_user("root2", "h", true);
  ASSERT_TRUE(admin2.ok());
  EXPECT_EQ(*(*store)->count_photos_of(*admin2), 0);
  // The foreign key keeps a user with photos from being deleted underneath them.
  EXPECT_FALSE((*store)->delete_user(*admin).ok());
}

TEST(UserStoreTest, SessionsExpireAndPasswordChangeEndsOtherSessions) {
  TempDb tmp;
  auto store = UserStore::open(tmp.path());
  ASSERT_TRUE(store.ok());
  auto id = (*store)->create_user("alice", "h1", false);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE((*store)->create_session(*id, "s1").ok());
  ASSERT_TRUE((*store)->create_session(*id, "s2").ok());
  ASSERT_TRUE((*store)->create_session(*id, "s3").ok());
  EXPECT_EQ((*store)->session_user("s1", 3600).value().name, "alice");
  EXPECT_EQ((*store)->session_user("nope", 3600).status().code(), StatusCode::kNotFound);
  // Age s3 by 31 days: it is refused and deleted.
  {
    auto db = Db::open(tmp.path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->exec("UPDATE sessions SET last_used_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-31 days') "
                         "WHERE token_hash = 's3'").ok());
  }
  EXPECT_EQ((*store)->session_user("s3", 30 * 86400).status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*store)->session_user("s3", 365 * 86400).status().code(), StatusCode::kNotFound);  // gone
  ASSERT_TRUE((*store)->set_password_hash(*id, "h2", "s1").ok());
  EXPECT_TRUE((*store)->session_user("s1", 3600).ok());
  EXPECT_EQ((*store)->session_user("s2", 3600).status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*store)->get_user(*id).value().password_hash, "h2");
  ASSERT_TRUE((*store)->delete_session("s1").ok());
  EXPECT_FALSE((*store)->session_user("s1", 3600).ok());
}

TEST(UserStoreTest, TokensBelongToTheirUser) {
  TempDb tmp;
  auto store = UserStore::open(tmp.path());
  ASSERT_TRUE(store.ok());
  const int64_t a = (*store)->create_user("alice", "h", false).value();
  const int64_t b = (*store)->create_user("bob", "h", false).value();
  const int64_t ta = (*store)->create_token(a, "ha", "backup").value();
  const int64_t tb = (*store)->create_token(b, "hb", "").value();
  EXPECT_EQ((*store)->token_user("ha").value().id, a);
  EXPECT_EQ((*store)->list_tokens(a).value().size(), 1u);
  EXPECT_EQ((*store)->list_tokens().value().size(), 2u);
  EXPECT_EQ((*store)->list_tokens(a).value()[0].label, "backup");
  EXPECT_FALSE((*store)->list_tokens(a).value()[0].last_used_at.empty());  // token_user noted the use
  EXPECT_EQ((*store)->delete_token(tb, a).code(), StatusCode::kNotFound);  // not alice's
  EXPECT_TRUE((*store)->token_user("hb").ok());
  EXPECT_TRUE((*store)->delete_token(ta, a).ok());
  EXPECT_EQ((*store)->token_user("ha").status().code(), StatusCode::kNotFound);
  // Removing a user takes their sessions and tokens with them.
  ASSERT_TRUE((*store)->create_session(b, "sb").ok());
  ASSERT_TRUE((*store)->delete_user(b).ok());
  EXPECT_FALSE((*store)->token_user("hb").ok());
  EXPECT_FALSE((*store)->session_user("sb", 3600).ok());
}

TEST(LoginLimiter, LocksAfterFiveFailuresAndTheLockGrows) {
  double now = 1000;
  LoginLimiter lim([&now] { return now; });
  for (int i = 0; i < LoginLimiter::kFreeFailures - 1; ++i) {
    lim.record_failure("alice", "10.0.0.1");
    EXPECT_EQ(lim.retry_after("alice", "10.0.0.1"), 0) << i;
  }
  lim.record_failure("alice", "10.0.0.1");
  const int first = lim.retry_after("alice", "10.0.0.1");
  EXPECT_GT(first, 0);
  // Locked for the name from any address, and for the address with any name.
  EXPECT_EQ(lim.retry_after("ALICE", "10.0.0.2"), first);
  EXPECT_EQ(lim.retry_after("bob", "10.0.0.1"), first);
  EXPECT_EQ(lim.retry_after("bob", "10.0.0.2"), 0);
  now += first;
  EXPECT_EQ(lim.retry_after("alice", "10.0.0.1"), 0);
  lim.record_failure("alice", "10.0.0.1");
  const int second = lim.retry_after("alice", "10.0.0.1");
  EXPECT_GT(second, first);
  now += second;
  lim.record_failure("alice", "10.0.0.1");
  EXPECT_GT(lim.retry_after("alice", "10.0.0.1"), second);
  // Many failures stay capped.
  for (int i = 0; i < 40; ++i) lim.record_failure("alice", "10.0.0.1");
  EXPECT_LE(lim.retry_after("alice", "10.0.0.1"), static_cast<int>(LoginLimiter::kMaxLockS));
  // A success clears the name, not the address.
  lim.record_success("alice");
  EXPECT_EQ(lim.retry_after("alice", ""), 0);
  EXPECT_GT(lim.retry_after("alice", "10.0.0.1"), 0);
}

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = UserStore::open(tmp_.path());
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    accounts_ = std::make_unique<Accounts>(*store_, [this] { return now_; });
  }
  TempDb tmp_;
  double now_ = 100;
  std::unique_ptr<UserStore> store_;
  std::unique_ptr<Accounts> accounts_;
};

TEST_F(AccountsTest, LoginLogoutAndSameErrorForUnknownUser) {
  ASSERT_TRUE(accounts_->add_user("alice", "password1", true).ok());
  int retry = -1;
  auto ok = accounts_->login("alice", "password1", "1.2.3.4", &retry);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(retry, 0);
  EXPECT_EQ(ok->user.name, "alice");
  EXPECT_EQ(accounts_->session_user(ok->session_token).value().name, "alice");
  auto wrong = accounts_->login("alice", "password2", "1.2.3.4", &retry);
  auto unknown = accounts_->login("nobody", "password1", "1.2.3.4", &retry);
  EXPECT_EQ(wrong.status().code(), kBadCredentials);
  EXPECT_EQ(unknown.status().code(), kBadCredentials);
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
  ASSERT_TRUE(accounts_->logout(ok->session_token).ok());
  EXPECT_EQ(accounts_->session_user(ok->session_token).status().code(), kBadCredentials);
  EXPECT_EQ(accounts_->session_user("").status().code(), kBadCredentials);
}

TEST_F(AccountsTest, LockoutAnswersRetryAfterEvenForTheRightPassword) {
  ASSERT_TRUE(accounts_->add_user("alice", "password1", false).ok());
  int retry = 0;
  for (int i = 0; i < LoginLimiter::kFreeFailures; ++i) {
    EXPECT_EQ(accounts_->login("alice", "bad-password", "1.2.3.4", &retry).status().code(),
              kBadCredentials);
  }
  auto locked = accounts_->login("alice", "password1", "5.6.7.8", &retry);
  EXPECT_EQ(locked.status().code(), StatusCode::kResourceExhausted);
  EXPECT_GT(retry, 0);
  now_ += retry;
  EXPECT_TRUE(accounts_->login("alice", "password1", "5.6.7.8", &retry).ok());
}

TEST_F(AccountsTest, RulesForNamesPasswordsAndTheLastAdmin) {
  EXPECT_EQ(accounts_->add_user("", "password1", false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts_->add_user("a b", "password1", false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts_->add_user("a/b", "password1", false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts_->add_user("alice", "short", false).status().code(), StatusCode::kInvalidArgument);
  auto zh = accounts_->add_user("妈妈", "password1", true);
  ASSERT_TRUE(zh.ok()) << zh.status().to_string();
  EXPECT_EQ(accounts_->remove_user(zh->id).code(), StatusCode::kInvalidArgument);
  auto bob = accounts_->add_user("bob", "password1", true);
  ASSERT_TRUE(bob.ok());
  EXPECT_TRUE(accounts_->remove_user(zh->id).ok());
  EXPECT_EQ(accounts_->remove_user(bob->id).code(), StatusCode::kInvalidArgument);
}

TEST_F(AccountsTest, SetupOnlyWithZeroUsers) {
  auto first = accounts_->setup_first_admin("root", "password1");
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->user.admin);
  EXPECT_TRUE(accounts_->session_user(first->session_token).ok());
  EXPECT_EQ(accounts_->setup_first_admin("evil", "password1").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*accounts_->count_users(), 1);
}

TEST_F(AccountsTest, ConcurrentSetupMakesExactlyOneAdmin) {
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&, i] {
      if (accounts_->setup_first_admin("root" + std::to_string(i), "password1").ok()) ++ok;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(*accounts_->count_users(), 1);
}

TEST_F(AccountsTest, PasswordChangeEndsOtherSessionsAndChecksTheOldOne) {
  auto u = accounts_->add_user("alice", "password1", false);
  ASSERT_TRUE(u.ok());
  int retry = 0;
  auto s1 = accounts_->login("alice", "password1", "", &retry).value();
  auto s2 = accounts_->login("alice", "password1", "", &retry).value();
  EXPECT_EQ(accounts_->change_password(*u, "wrong-pass", "password2", s1.session_token, "").code(),
            kBadCredentials);
  ASSERT_TRUE(accounts_->change_password(*u, "password1", "password2", s1.session_token, "").ok());
  EXPECT_TRUE(accounts_->session_user(s1.session_token).ok());
  EXPECT_FALSE(accounts_->session_user(s2.session_token).ok());
  EXPECT_FALSE(accounts_->login("alice", "password1", "", &retry).ok());
  EXPECT_TRUE(accounts_->login("alice", "password2", "", &retry).ok());
}

TEST_F(AccountsTest, ApiTokensAreShownOnceAndStoredHashed) {
  auto u = accounts_->add_user("alice", "password1", false);
  ASSERT_TRUE(u.ok());
  auto t = accounts_->create_token(u->id, "backup script");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(accounts_->token_user(t->token).value().id, u->id);
  EXPECT_EQ(accounts_->token_user(t->token + "x").status().code(), kBadCredentials);
  // The database holds no copy of the token.
  auto db = Db::open(tmp_.path());
  ASSERT_TRUE(db.ok());
  auto st = db->prepare("SELECT count(*) FROM api_tokens WHERE token_hash = ?");
  ASSERT_TRUE(st.ok());
  st->bind(1, t->token);
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_int64(0), 0);
  ASSERT_TRUE(accounts_->revoke_token(t->id, u->id).ok());
  EXPECT_FALSE(accounts_->token_user(t->token).ok());
}

}  // namespace
}  // namespace sa
