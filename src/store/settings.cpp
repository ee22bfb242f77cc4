// Store: the settings key/value table.
#include "store/store.h"

namespace sa {

Result<std::optional<std::string>> Store::get_setting(std::string_view key) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT value FROM settings WHERE key = ?"));
  st.bind(1, key);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(st.column_text(0));
}

Status Store::set_setting(std::string_view key, std::string_view value) {
  if (key.empty()) return Status::InvalidArgument("setting key is empty");
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "INSERT INTO settings(key, value) VALUES (?, ?) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  st.bind(1, key).bind(2, value);
  return st.run();
}

bool Store::get_bool(std::string_view key, bool fallback) {
  auto v = get_setting(key);
  if (!v.ok() || !v->has_value()) return fallback;
  const std::string& s = **v;
  if (s == "1" || s == "true") return true;
  if (s == "0" || s == "false") return false;
  return fallback;
}

Status Store::set_bool(std::string_view key, bool value) {
  return set_setting(key, value ? "true" : "false");
}

Settings Store::settings() {
  Settings s;
  s.auto_analyze = get_bool("auto_analyze", s.auto_analyze);
  s.enhanced_search = get_bool("enhanced_search", s.enhanced_search);
  return s;
}

Status Store::set_settings(const Settings& s) {
  {
    std::lock_guard lock(mu_);
    // Both keys in one transaction: a reader never sees half an update.
    SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
    SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
        "INSERT INTO settings(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    st.bind(1, "auto_analyze").bind(2, s.auto_analyze ? "true" : "false");
    SA_RETURN_IF_ERROR(st.run());
    st.reset();
    st.bind(1, "enhanced_search").bind(2, s.enhanced_search ? "true" : "false");
    SA_RETURN_IF_ERROR(st.run());
    st = Stmt();
    SA_RETURN_IF_ERROR(tx.commit());
  }
  return Status::OK();
}

}  // namespace sa
