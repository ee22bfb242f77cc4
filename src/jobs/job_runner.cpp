#include "jobs/job_runner.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/file_util.h"
#include "image/clip_preprocess.h"
#include "vlm/vlm_error_code.h"

namespace sa {
namespace {

// The VLM never needs the pixels larger than kWorkingSide (see image.h).
DecodeLimits working(DecodeLimits lim) {
  lim.max_side = kWorkingSide;
  return lim;
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double now_s() {
  static const Clock::time_point kStart = Clock::now();
  return seconds_since(kStart);
}

// Another process (a CLI import next to a running server) may queue jobs
// without notifying us; idle workers look at the queue this often.
constexpr auto kIdlePoll = std::chrono::milliseconds(500);
// How often fill_wait looks at the queue when nothing notifies it.
constexpr auto kFillPoll = std::chrono::milliseconds(50);
constexpr double kAutosaveSeconds = 60.0;
constexpr int kTextBatch = 16;

constexpr JobKind kEmbedKinds[] = {JobKind::kEmbed};
constexpr JobKind kDescribeKinds[] = {JobKind::kDescribe};
constexpr JobKind kTextKinds[] = {JobKind::kEmbedDesc};

// The worker's bookkeeping writes (job done/failed/released, photo status) are
// checked here instead of at each call. Their failure cannot be handled better
// where it happens: the work itself is done (or has failed) either way. What it
// can leave behind is bounded: a job still 'running' goes back to 'pending' at
// the next start (Store::reset_running_jobs) and is then redone; a stale
// photo status is rewritten by that redo. NotFound is no failure at all: the
// photo was deleted meanwhile and its jobs went with it (ON DELETE CASCADE).
void check_write(const Status& s, std::string_view what, const Job& job) {
  if (s.ok() || s.code() == StatusCode::kNotFound) return;
  spdlog::warn("{} for {} job {} (photo {}) failed: {}", what, to_string(job.kind), job.id,
               job.photo_id, s.to_string());
}

}  // namespace

JobRunner::JobRunner(JobRunnerDeps deps) : d_(std::move(deps)) {
  if (d_.embed_batch < 1) d_.embed_batch = 1;
  if (d_.vlm_concurrency < 1) d_.vlm_concurrency = 1;
}

JobRunner::~JobRunner() { stop(); }

std::vector<JobKind> JobRunner::active_kinds() const {
  std::vector<JobKind> kinds;
  if (d_.clip && d_.clip_vectors) kinds.push_back(JobKind::kEmbed);
  if (d_.vlm) kinds.push_back(JobKind::kDescribe);
  if (d_.text_encoder && d_.desc_vectors) kinds.push_back(JobKind::kEmbedDesc);
  return kinds;
}

void JobRunner::start() {
  if (started_) return;
  started_ = true;
  stop_ = false;
  if (d_.clip && d_.clip_vectors) {
    threads_.emplace_back([this] { decode_loop(); });
    threads_.emplace_back([this] { inference_loop(); });
  }
  if (d_.vlm) {
    for (int i = 0; i < d_.vlm_concurrency; ++i) threads_.emplace_back([this] { describe_loop(); });
  }
  if (d_.text_encoder && d_.desc_vectors) threads_.emplace_back([this] { text_loop(); });
}

void JobRunner::stop() {
  if (!started_) return;
  stop_ = true;
  // A VLM call can take its whole timeout (and retries): end it now; its job
  // goes back to pending (run_describe) for the next run.
  if (d_.vlm) d_.vlm->cancel(true);
  {
    std::lock_guard<std::mutex> lk(wake_mu_);
    ++wake_seq_;
  }
  wake_cv_.notify_all();
  q_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (d_.vlm) d_.vlm->cancel(false);
  // A batch decoded but not encoded goes back to the queue for the next run.
  for (auto& b : queue_) {
    std::vector<Job> jobs;
    for (auto& it : b.items) jobs.push_back(it.job);
    release(jobs);
  }
  queue_.clear();
  started_ = false;
  if (d_.clip_vectors) {
    Status st = d_.clip_vectors->save_if_dirty();
    if (!st.ok()) spdlog::warn("saving the CLIP index failed: {}", st.to_string());
  }
  if (d_.desc_vectors) {
    Status st = d_.desc_vectors->save_if_dirty();
    if (!st.ok()) spdlog::warn("saving the description index failed: {}", st.to_string());
  }
}

void JobRunner::notify() {
  {
    std::lock_guard<std::mutex> lk(wake_mu_);
    ++wake_seq_;
  }
  wake_cv_.notify_all();
}

void JobRunner::idle_wait() {
  std::unique_lock<std::mutex> lk(wake_mu_);
  uint64_t seen = wake_seq_;
  wake_cv_.wait_for(lk, kIdlePoll, [&] { return stop_.load() || wake_seq_ != seen; });
}

void JobRunner::fill_wait() {
  if (d_.embed_batch <= 1) return;
  while (!stop_ && encoding_.load() > 0) {
    auto active = d_.store->active_job_count(JobKind::kEmbed);  // pending + running
    if (!active.ok() || *active - encoding_.load() >= d_.embed_batch) return;
    std::unique_lock<std::mutex> lk(wake_mu_);
    const uint64_t seen = wake_seq_;
    wake_cv_.wait_for(lk, kFillPoll, [&] {
      return stop_.load() || wake_seq_ != seen || encoding_.load() == 0;
    });
  }
}

bool JobRunner::wait_idle(double timeout_s) {
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  std::vector<JobKind> kinds = active_kinds();
  while (true) {
    bool idle = true;
    for (JobKind k : kinds) {
      auto n = d_.store->active_job_count(k);
      if (!n.ok() || *n > 0) {
        idle = false;
        break;
      }
    }
    if (idle) {
      // Saving is an optimisation (an index is rebuilt from the store when its
      // file is missing or stale), so a failure is logged, not returned.
      for (VectorSet* vs : {d_.clip_vectors, d_.desc_vectors}) {
        if (!vs) continue;
        Status st = vs->save_if_dirty();
        if (!st.ok()) spdlog::warn("saving an index failed: {}", st.to_string());
      }
      return true;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

EmbedStats JobRunner::embed_stats() const {
  std::lock_guard<std::mutex> lk(stats_mu_);
  return stats_;
}

void JobRunner::fail(const Job& job, const std::string& reason) {
  spdlog::warn("{} job {} (photo {}) failed: {}", to_string(job.kind), job.id, job.photo_id, reason);
  if (job.kind == JobKind::kEmbed) {
    check_write(d_.store->set_photo_status(job.photo_id, PhotoStatus::kFailed, reason), "marking the photo failed", job);
  } else if (job.kind == JobKind::kDescribe) {
    check_write(d_.store->set_vlm_status(job.photo_id, VlmStatus::kFailed, reason), "marking the description failed", job);
  }
  check_write(d_.store->fail_job(job.id, reason, /*retry=*/false), "failing the job", job);
}

void JobRunner::release(const std::vector<Job>& jobs) {
  for (const auto& j : jobs) {
    check_write(d_.store->fail_job(j.id, "interrupted by shutdown", /*retry=*/true), "releasing the job", j);
  }
}

// ---- embed pipeline ----

bool JobRunner::prepare_embed(const Job& job, std::vector<float>* pixels) {
  const int res = d_.clip->image_resolution();
  if (d_.pixel_cache) {
    if (auto hit = d_.pixel_cache->take(job.photo_id, res)) {
      *pixels = std::move(*hit);
      return true;
    }
  }
  auto t0 = Clock::now();
  auto photo = d_.store->get_photo(job.photo_id);
  if (!photo.ok()) {
    // The photo was deleted after the job was queued: nothing to do.
    if (photo.status().code() == StatusCode::kNotFound) {
      check_write(d_.store->complete_job(job.id), "completing the job", job);
    } else {
      fail(job, photo.status().to_string());
    }
    return false;
  }
  auto bytes = read_file(d_.ingest->original_path(*photo), static_cast<size_t>(d_.limits.max_bytes));
  if (!bytes.ok()) {
    fail(job, "cannot read the original: " + bytes.status().message());
    return false;
  }
  // As ingest decodes (full size, or the reduced-cost decode): the same vector
  // whether or not the pixel cache had the photo.
  auto img = decode_rgb(*bytes, d_.limits);
  if (!img.ok()) {
    fail(job, "cannot decode: " + img.status().message());
    return false;
  }
  *pixels = clip_preprocess(*img, res);
  // The adding thread puts its own preprocessed pixels after the row is
  // committed; if this worker got to the job first, that entry arrives while
  // we decoded and would otherwise never be taken.
  if (d_.pixel_cache) d_.pixel_cache->erase(job.photo_id);
  if (pixels->empty()) {
    fail(job, "image preprocessing produced no pixels");
    return false;
  }
  std::lock_guard<std::mutex> lk(stats_mu_);
  stats_.decode_seconds += seconds_since(t0);
  stats_.worker_decodes += 1;
  return true;
}

void JobRunner::decode_loop() {
  while (!stop_) {
    {
      // Stay exactly one batch ahead of the encoder.
      std::unique_lock<std::mutex> lk(q_mu_);
      q_cv_.wait(lk, [&] { return stop_.load() || queue_.empty(); });
      if (stop_) break;
    }
    // Jobs that trickle in (an import decodes ~5 photos/s, about the encoder's
    // pace) were claimed as they came, one or two at a time: the encoder then ran
    // batches of ~2 (bench_album mean_batch 2.3), at up to ~20 % more CPU per image
    // than batch 8 on this ViT-B/16. While the encoder is busy anyway, waiting for a
    // whole batch costs nothing; once it is idle, whatever is pending is claimed.
    fill_wait();
    if (stop_) break;
    auto claimed = d_.store->claim_jobs(kEmbedKinds, d_.embed_batch);
    if (!claimed.ok()) {
      spdlog::warn("claiming embed jobs failed: {}", claimed.status().to_string());
      idle_wait();
      continue;
    }
    if (claimed->empty()) {
      idle_wait();
      continue;
    }
    {
      std::lock_guard<std::mutex> lk(stats_mu_);
      if (stats_.batches == 0 && first_claim_t_ < 0) first_claim_t_ = now_s();
    }
    Batch batch;
    size_t i = 0;
    for (; i < claimed->size() && !stop_; ++i) {
      DecodedItem item;
      item.job = (*claimed)[i];
      if (prepare_embed(item.job, &item.pixels)) batch.items.push_back(std::move(item));
    }
    if (stop_) {
      std::vector<Job> back(claimed->begin() + static_cast<long>(i), claimed->end());
      for (auto& it : batch.items) back.push_back(it.job);
      release(back);
      break;
    }
    if (batch.items.empty()) continue;
    {
      std::lock_guard<std::mutex> lk(q_mu_);
      queue_.push_back(std::move(batch));
    }
    q_cv_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lk(q_mu_);
    decode_done_ = true;
  }
  q_cv_.notify_all();
}

void JobRunner::inference_loop() {
  double last_save = now_s();
  while (true) {
    Batch batch;
    {
      std::unique_lock<std::mutex> lk(q_mu_);
      q_cv_.wait(lk, [&] { return !queue_.empty() || decode_done_ || stop_.load(); });
      if (queue_.empty() || stop_) break;  // on stop, a queued batch is released by stop()
      batch = std::move(queue_.front());
      queue_.pop_front();
      encoding_.store(static_cast<int>(batch.items.size()));
    }
    q_cv_.notify_all();
    run_batch(batch);
    encoding_.store(0);
    notify();  // fill_wait: the encoder is idle
    if (now_s() - last_save > kAutosaveSeconds) {
      Status st = d_.clip_vectors->save_if_dirty();
      if (!st.ok()) spdlog::warn("saving the CLIP index failed: {}", st.to_string());
      last_save = now_s();
    }
  }
}

void JobRunner::run_batch(Batch& batch) {
  const int n = static_cast<int>(batch.items.size());
  if (d_.before_encode) d_.before_encode(n);
  const int res = d_.clip->image_resolution();
  const int dim = d_.clip->embed_dim();
  const size_t per = static_cast<size_t>(3) * res * res;
  std::vector<float> pixels(per * n);
  for (int i = 0; i < n; ++i) {
    std::copy(batch.items[i].pixels.begin(), batch.items[i].pixels.end(), pixels.begin() + per * i);
  }
  std::vector<float> out(static_cast<size_t>(n) * dim);
  auto t0 = Clock::now();
  Status st = d_.clip->encode_images(pixels.data(), n, out.data());
  double enc = seconds_since(t0);
  int64_t ok_count = 0, failed = 0;
  if (!st.ok()) {
    for (auto& it : batch.items) fail(it.job, "embedding failed: " + st.message());
    failed = n;
  } else {
    l2_normalize_rows(out.data(), n, dim);
    for (int i = 0; i < n; ++i) {
      const Job& job = batch.items[i].job;
      Status ps = d_.clip_vectors->put(job.photo_id, std::span<const float>(out.data() + static_cast<size_t>(i) * dim, dim));
      if (ps.code() == StatusCode::kNotFound) {
        check_write(d_.store->complete_job(job.id), "completing the job", job);  // deleted while being embedded
        continue;
      }
      if (!ps.ok()) {
        fail(job, "storing the vector failed: " + ps.message());
        ++failed;
        continue;
      }
      check_write(d_.store->set_photo_status(job.photo_id, PhotoStatus::kReady, ""), "marking the photo ready", job);
      check_write(d_.store->complete_job(job.id), "completing the job", job);
      ++ok_count;
    }
  }
  std::lock_guard<std::mutex> lk(stats_mu_);
  stats_.images += ok_count;
  stats_.failed += failed;
  stats_.batches += 1;
  stats_.encode_seconds += enc;
  if (first_claim_t_ >= 0) stats_.busy_window_seconds = now_s() - first_claim_t_;
}

// ---- descriptions ----

void JobRunner::describe_loop() {
  while (!stop_) {
    auto claimed = d_.store->claim_jobs(kDescribeKinds, 1);
    if (!claimed.ok() || claimed->empty()) {
      if (!claimed.ok()) spdlog::warn("claiming describe jobs failed: {}", claimed.status().to_string());
      idle_wait();
      continue;
    }
    run_describe(claimed->front());
  }
}

void JobRunner::run_describe(const Job& job) {
  auto photo = d_.store->get_photo(job.photo_id);
  if (!photo.ok()) {
    if (photo.status().code() == StatusCode::kNotFound) {
      check_write(d_.store->complete_job(job.id), "completing the job", job);
    } else {
      fail(job, photo.status().to_string());
    }
    return;
  }
  check_write(d_.store->set_vlm_status(job.photo_id, VlmStatus::kRunning), "marking the description running", job);
  auto bytes = read_file(d_.ingest->original_path(*photo), static_cast<size_t>(d_.limits.max_bytes));
  if (!bytes.ok()) return fail(job, "cannot read the original: " + bytes.status().message());
  auto img = decode_rgb(*bytes, working(d_.limits));
  if (!img.ok()) return fail(job, "cannot decode: " + img.status().message());
  auto jpeg = encode_jpeg(*img, d_.vlm_max_side, 85);
  if (!jpeg.ok()) return fail(job, "cannot encode for the VLM: " + jpeg.status().message());
  auto res = d_.vlm->describe(*jpeg);
  if (!res.ok() && stop_) {  // cancelled by stop(): not the photo's fault
    check_write(d_.store->set_vlm_status(job.photo_id, VlmStatus::kPending), "putting the description back", job);
    release({job});
    return;
  }
  if (!res.ok()) return fail(job, vlm_failure_text(res.status()));
  Status st = d_.store->set_description(job.photo_id, res->description, res->keywords, res->model, res->text);
  if (st.code() == StatusCode::kNotFound) {
    check_write(d_.store->complete_job(job.id), "completing the job", job);
    return;
  }
  if (!st.ok()) return fail(job, "storing the description failed: " + st.message());
  if (d_.text_encoder && d_.desc_vectors) {
    auto q = d_.store->enqueue_job(JobKind::kEmbedDesc, job.photo_id);
    if (!q.ok() && q.status().code() != StatusCode::kNotFound) {
      spdlog::warn("queueing the description embedding of photo {} failed: {}", job.photo_id,
                   q.status().to_string());
    }
    notify();
  }
  check_write(d_.store->complete_job(job.id), "completing the job", job);
}

// ---- description embeddings ----

void JobRunner::text_loop() {
  while (!stop_) {
    auto claimed = d_.store->claim_jobs(kTextKinds, kTextBatch);
    if (!claimed.ok() || claimed->empty()) {
      idle_wait();
      continue;
    }
    run_embed_desc(*claimed);
  }
}

void JobRunner::run_embed_desc(const std::vector<Job>& jobs) {
  std::vector<Job> todo;
  std::vector<std::string> texts;
  for (const auto& job : jobs) {
    auto photo = d_.store->get_photo(job.photo_id);
    if (!photo.ok()) {
      if (photo.status().code() == StatusCode::kNotFound) {
        check_write(d_.store->complete_job(job.id), "completing the job", job);
      } else {
        fail(job, photo.status().to_string());
      }
      continue;
    }
    // What the sentence model sees: the description, then the keywords.
    std::string text = photo->description;
    for (const auto& k : photo->keywords) {
      if (!text.empty()) text += " ";
      text += k;
    }
    if (text.empty()) {
      // No text any more: its old vector (if any) must not match queries. A
      // failure leaves a stale entry the next index rebuild drops.
      if (Status r = d_.desc_vectors->remove(job.photo_id); !r.ok()) {
        spdlog::warn("removing the description vector of photo {} failed: {}", job.photo_id, r.to_string());
      }
      check_write(d_.store->complete_job(job.id), "completing the job", job);
      continue;
    }
    todo.push_back(job);
    texts.push_back(std::move(text));
  }
  if (todo.empty()) return;
  std::vector<float> out;
  Status st = d_.text_encoder(texts, &out);
  const int dim = d_.desc_vectors->dim();
  if (st.ok() && out.size() != texts.size() * static_cast<size_t>(dim)) {
    st = Status::Internal("sentence encoder returned " + std::to_string(out.size()) +
                          " floats for " + std::to_string(texts.size()) + " texts of dim " +
                          std::to_string(dim));
  }
  for (size_t i = 0; i < todo.size(); ++i) {
    if (!st.ok()) {
      fail(todo[i], "description embedding failed: " + st.message());
      continue;
    }
    Status ps = d_.desc_vectors->put(todo[i].photo_id,
                                     std::span<const float>(out.data() + i * dim, dim));
    if (!ps.ok() && ps.code() != StatusCode::kNotFound) {
      fail(todo[i], "storing the description vector failed: " + ps.message());
      continue;
    }
    check_write(d_.store->complete_job(todo[i].id), "completing the job", todo[i]);
  }
}

}  // namespace sa
