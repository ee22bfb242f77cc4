// JobRunner: the background workers that drain the persistent job queue.
//
// Threads (all started by start(), joined by stop()):
//   - embed pipeline: ONE decode thread claims up to `embed_batch` 'embed' jobs,
//     reads + decodes + preprocesses them, and hands the batch to ONE inference
//     thread, which runs the CLIP image tower while the next batch is decoded.
//     Inference uses every core through the BLAS pool, so there is exactly one
//     inference thread (one thread budget).
//   - describe: `vlm_concurrency` threads, each runs one 'describe' job at a
//     time (JPEG <= 1024 px -> VLM -> description, keywords, FTS).
//   - text: one thread for 'embed_desc' jobs (description -> sentence vector).
// A kind whose dependency is missing (no CLIP model, no VLM, no sentence model)
// has no thread; its jobs stay queued for a later run that has it.
//
// Durability: the job row is completed only after its results are stored, so a
// crash or stop() at any point leaves it 'pending' or 'running', and 'running'
// jobs go back to 'pending' at the next Store::open (or in stop()).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "image/image.h"
#include "ingest/ingest.h"
#include "jobs/pixel_cache.h"
#include "model/text_encoder.h"
#include "jobs/vector_set.h"
#include "model/chinese_clip.h"
#include "store/store.h"
#include "vlm/vlm_client.h"

namespace sa {

struct JobRunnerDeps {
  Store* store = nullptr;          // required
  Ingestor* ingest = nullptr;      // required: where originals live
  // CLIP image embedding ('embed' jobs); both null = no embed thread.
  const ChineseClip* clip = nullptr;
  VectorSet* clip_vectors = nullptr;
  PixelCache* pixel_cache = nullptr;  // optional hand-off from ingest
  int embed_batch = 8;
  DecodeLimits limits;  // min_side > 0: the reduced-cost decode, as ingest uses
  // VLM descriptions ('describe' jobs); null = no describe threads.
  VlmClient* vlm = nullptr;
  int vlm_concurrency = 2;
  int vlm_max_side = 1024;
  // Description embeddings ('embed_desc' jobs); empty encoder = no text thread.
  TextEncoder text_encoder;
  VectorSet* desc_vectors = nullptr;
  // Tests only: called on the inference thread with the batch's size just before
  // each batch is encoded (a test holds the encoder busy here).
  std::function<void(int)> before_encode;
};

// Counters of the embed pipeline (for benchmarks and logs).
struct EmbedStats {
  int64_t images = 0;          // embedded successfully
  int64_t failed = 0;
  int64_t batches = 0;          // images / batches = the mean batch the encoder ran
  double encode_seconds = 0;   // time inside encode_images
  double decode_seconds = 0;   // time decoding + preprocessing (decode thread)
  int64_t worker_decodes = 0;  // originals the worker decoded (the pixel cache had no entry)
  double busy_window_seconds = 0;  // from the first claimed batch to the last finished one
};

class JobRunner {
 public:
  explicit JobRunner(JobRunnerDeps deps);
  ~JobRunner();  // stop()
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  void start();
  // Stops and joins every thread. A batch being encoded is finished and stored;
  // claimed jobs not yet processed go back to 'pending'. Saves dirty indexes.
  void stop();
  // Between start() and stop().
  bool running() const { return started_; }
  // Wakes idle workers (call after enqueueing jobs).
  void notify();

  // The job kinds that this runner has a worker for.
  std::vector<JobKind> active_kinds() const;
  // Blocks until no job of an active kind is pending or running, or timeout.
  // Saves dirty indexes when it gets there. Returns false on timeout.
  bool wait_idle(double timeout_s);

  EmbedStats embed_stats() const;

 private:
  struct DecodedItem {
    Job job;
    std::vector<float> pixels;  // [3,R,R]
  };
  struct Batch {
    std::vector<DecodedItem> items;
  };

  void decode_loop();
  void inference_loop();
  void describe_loop();
  void text_loop();

  // Decodes and preprocesses one embed job; failures are recorded on the job and photo.
  bool prepare_embed(const Job& job, std::vector<float>* pixels);
  void run_batch(Batch& batch);
  void run_describe(const Job& job);
  void run_embed_desc(const std::vector<Job>& jobs);
  void fail(const Job& job, const std::string& reason);
  // Returns claimed-but-unprocessed jobs to 'pending' (used on stop).
  void release(const std::vector<Job>& jobs);
  // Sleeps until notify(), stop or a short poll interval (other processes may queue jobs).
  void idle_wait();
  // While the encoder is busy, waits until a whole batch of embed jobs is pending
  // (or the encoder is done, or stop): see decode_loop.
  void fill_wait();

  JobRunnerDeps d_;
  std::atomic<bool> stop_{false};
  bool started_ = false;
  std::vector<std::thread> threads_;

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  uint64_t wake_seq_ = 0;

  // Decode -> inference hand-off (capacity 1: decode one batch ahead).
  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::deque<Batch> queue_;
  bool decode_done_ = false;
  // Images in the batch the inference loop is encoding now (0: it is idle). Set
  // when it takes a batch off queue_, cleared (and notify()) when it is stored.
  std::atomic<int> encoding_{0};

  mutable std::mutex stats_mu_;
  EmbedStats stats_;
  double first_claim_t_ = -1;
};

}  // namespace sa
