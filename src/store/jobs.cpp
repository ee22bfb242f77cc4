// Store: the persistent job queue.
#include <algorithm>

#include "store/store.h"
#include "store/store_internal.h"

namespace sa {

using store_internal::kNowSql;

namespace {

Job read_job(const Stmt& st) {  // columns: id, kind, photo_id, state, attempts, error
  Job j;
  j.id = st.column_int64(0);
  // CHECK constraints admit only known strings (see read_photo).
  j.kind = parse_job_kind(st.column_text(1)).value_or(JobKind::kEmbed);
  j.photo_id = st.column_int64(2);
  j.state = parse_job_state(st.column_text(3)).value_or(JobState::kFailed);
  j.attempts = static_cast<int>(st.column_int64(4));
  j.error = st.column_text(5);
  return j;
}

}  // namespace

Result<bool> store_internal::insert_job(Db& db, JobKind kind, int64_t photo_id) {
  // The partial unique index jobs_one_pending makes "skip if already pending"
  // a property of the table, not of this code path.
  SA_ASSIGN_OR_RETURN(Stmt st, db.prepare(std::string(
      "INSERT INTO jobs(kind, photo_id, state, created_at, updated_at) VALUES (?, ?, 'pending', ") +
      kNowSql + ", " + kNowSql + ") ON CONFLICT DO NOTHING"));
  st.bind(1, to_string(kind)).bind(2, photo_id);
  SA_RETURN_IF_ERROR(st.run());
  return db.changes() == 1;
}

Result<bool> Store::enqueue_job(JobKind kind, int64_t photo_id) {
  std::lock_guard lock(mu_);
  auto queued = store_internal::insert_job(db_, kind, photo_id);
  if (!queued.ok() && queued.status().message().find("FOREIGN KEY") != std::string::npos)
    return Status::NotFound("photo " + std::to_string(photo_id) + " not found");
  return queued;
}

Result<std::vector<Job>> Store::claim_jobs(std::span<const JobKind> kinds, int n) {
  std::vector<Job> out;
  if (n <= 0) return out;
  std::string kind_filter;
  if (!kinds.empty()) {
    kind_filter = " AND kind IN (";
    for (size_t i = 0; i < kinds.size(); ++i) kind_filter += i ? ",?" : "?";
    kind_filter += ")";
  }
  std::lock_guard lock(mu_);
  // One UPDATE ... RETURNING statement: atomic against other threads (mutex)
  // and against other processes (SQLite's write lock).
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      std::string("UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ") +
      kNowSql + " WHERE id IN (SELECT id FROM jobs WHERE state = 'pending'" + kind_filter +
      " ORDER BY id LIMIT ?) RETURNING id, kind, photo_id, state, attempts, error"));
  int i = 1;
  for (JobKind k : kinds) st.bind(i++, to_string(k));
  st.bind(i, static_cast<int64_t>(n));
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(read_job(st));
  }
  // RETURNING order is unspecified; callers expect oldest first.
  std::sort(out.begin(), out.end(), [](const Job& a, const Job& b) { return a.id < b.id; });
  return out;
}

Status Store::complete_job(int64_t job_id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "UPDATE jobs SET state = 'done', error = '', updated_at = ") + kNowSql + " WHERE id = ?"));
  st.bind(1, job_id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("job " + std::to_string(job_id) + " not found");
  return Status::OK();
}

Status Store::fail_job(int64_t job_id, std::string_view reason, bool retry) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  if (retry) {
    // Back to pending -- unless an identical job was queued meanwhile, in which
    // case that one will do the work and this one is dropped.
    SA_ASSIGN_OR_RETURN(Stmt dup, db_.prepare(
        "DELETE FROM jobs WHERE id = ?1 AND EXISTS (SELECT 1 FROM jobs o, jobs me "
        "WHERE me.id = ?1 AND o.kind = me.kind AND o.photo_id = me.photo_id "
        "AND o.state = 'pending' AND o.id <> me.id)"));
    dup.bind(1, job_id);
    SA_RETURN_IF_ERROR(dup.run());
    if (db_.changes() == 1) return tx.commit();
  }
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "UPDATE jobs SET state = ?, error = ?, updated_at = ") + kNowSql + " WHERE id = ?"));
  st.bind(1, to_string(retry ? JobState::kPending : JobState::kFailed)).bind(2, reason).bind(3, job_id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("job " + std::to_string(job_id) + " not found");
  st = Stmt();
  return tx.commit();
}

Result<int64_t> Store::retry_failed_jobs(std::optional<JobKind> kind) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  const char* filter = kind ? " AND f.kind = ?1" : "";
  // A failed job whose twin is already pending is redundant: drop it first, so
  // the UPDATE below cannot hit the one-pending-per-photo index.
  SA_ASSIGN_OR_RETURN(Stmt dup, db_.prepare(std::string(
      "DELETE FROM jobs WHERE id IN (SELECT f.id FROM jobs f WHERE f.state = 'failed'") + filter +
      " AND EXISTS (SELECT 1 FROM jobs p WHERE p.state = 'pending' AND p.kind = f.kind "
      "AND p.photo_id = f.photo_id))"));
  if (kind) dup.bind(1, to_string(*kind));
  SA_RETURN_IF_ERROR(dup.run());
  int64_t dropped = db_.changes();
  // Several failed twins of one (kind, photo): keep the newest.
  SA_ASSIGN_OR_RETURN(Stmt twins, db_.prepare(std::string(
      "DELETE FROM jobs WHERE id IN (SELECT f.id FROM jobs f WHERE f.state = 'failed'") + filter +
      " AND EXISTS (SELECT 1 FROM jobs g WHERE g.state = 'failed' AND g.kind = f.kind "
      "AND g.photo_id = f.photo_id AND g.id > f.id))"));
  if (kind) twins.bind(1, to_string(*kind));
  SA_RETURN_IF_ERROR(twins.run());
  dropped += db_.changes();
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "UPDATE jobs SET state = 'pending', updated_at = ") + kNowSql +
      " WHERE state = 'failed'" + (kind ? " AND kind = ?1" : "")));
  if (kind) st.bind(1, to_string(*kind));
  SA_RETURN_IF_ERROR(st.run());
  int64_t n = db_.changes();
  dup = Stmt();
  twins = Stmt();
  st = Stmt();
  SA_RETURN_IF_ERROR(tx.commit());
  return n + dropped;
}

Result<int64_t> Store::reset_running_jobs() {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  // A running job whose twin is already pending is dropped (see fail_job).
  SA_RETURN_IF_ERROR(db_.exec(
      "DELETE FROM jobs WHERE state = 'running' AND EXISTS (SELECT 1 FROM jobs p "
      "WHERE p.state = 'pending' AND p.kind = jobs.kind AND p.photo_id = jobs.photo_id)"));
  int64_t dropped = db_.changes();
  SA_RETURN_IF_ERROR(db_.exec(
      "DELETE FROM jobs WHERE state = 'running' AND EXISTS (SELECT 1 FROM jobs g "
      "WHERE g.state = 'running' AND g.kind = jobs.kind AND g.photo_id = jobs.photo_id "
      "AND g.id > jobs.id)"));
  dropped += db_.changes();
  SA_RETURN_IF_ERROR(db_.exec(std::string("UPDATE jobs SET state = 'pending', updated_at = ") +
                              kNowSql + " WHERE state = 'running'"));
  int64_t n = db_.changes();
  SA_RETURN_IF_ERROR(db_.exec("UPDATE photos SET vlm_status = 'pending' WHERE vlm_status = 'running'"));
  SA_RETURN_IF_ERROR(tx.commit());
  return n + dropped;
}

Result<int64_t> Store::purge_done_jobs() {
  std::lock_guard lock(mu_);
  SA_RETURN_IF_ERROR(db_.exec("DELETE FROM jobs WHERE state = 'done'"));
  return static_cast<int64_t>(db_.changes());
}

Result<Job> Store::get_job(int64_t job_id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT id, kind, photo_id, state, attempts, error FROM jobs WHERE id = ?"));
  st.bind(1, job_id);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound("job " + std::to_string(job_id) + " not found");
  return read_job(st);
}

Result<JobStats> Store::job_stats(int n_recent, const OwnerScope& scope) {
  JobStats s;
  // A user's counts are those of the jobs of their photos (photos_owner index).
  const std::string mine = scope.everyone()
      ? std::string()
      : " AND photo_id IN (SELECT id FROM photos WHERE owner_id = " + std::to_string(scope.owner_id) + ")";
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT state, count(*) FROM jobs WHERE 1" + mine +
                                           " GROUP BY state"));
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    std::optional<JobState> state = parse_job_state(st.column_text(0));
    int64_t n = st.column_int64(1);
    if (!state) continue;
    switch (*state) {
      case JobState::kPending: s.pending = n; break;
      case JobState::kRunning: s.running = n; break;
      case JobState::kDone: s.done = n; break;
      case JobState::kFailed: s.failed = n; break;
    }
  }
  if (n_recent > 0) {
    SA_ASSIGN_OR_RETURN(Stmt f, db_.prepare(
        "SELECT id, photo_id, kind, error, updated_at FROM jobs WHERE state = 'failed'" + mine +
        " ORDER BY updated_at DESC, id DESC LIMIT ?"));
    f.bind(1, static_cast<int64_t>(n_recent));
    while (true) {
      SA_ASSIGN_OR_RETURN(bool row, f.step());
      if (!row) break;
      s.recent_failures.push_back({f.column_int64(0), f.column_int64(1),
                                   parse_job_kind(f.column_text(2)).value_or(JobKind::kEmbed),
                                   f.column_text(3), f.column_text(4)});
    }
  }
  return s;
}

Result<int64_t> Store::active_job_count(std::optional<JobKind> kind) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "SELECT count(*) FROM jobs WHERE state IN ('pending', 'running')") +
      (kind ? " AND kind = ?" : "")));
  if (kind) st.bind(1, to_string(*kind));
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.column_int64(0) : int64_t{0};
}

}  // namespace sa
