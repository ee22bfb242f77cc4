#include <chrono>
#include "ingest/ingest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>

#include "core/file_util.h"
#include "core/sha256.h"
#include "ingest/folder_scan.h"
#include "ingest/safe_name.h"
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <thread>

namespace sa {
namespace {

namespace fs = std::filesystem;

std::string read_test_image(const std::string& name) {
  auto r = read_file(std::string(SA_TEST_DATA) + "/images/" + name);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : std::string();
}

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("sa_ingest_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Every regular file under dir (relative paths).
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = root_.path() / "data";
    fs::create_directories(data_);
    auto s = Store::open((data_ / "album.db").string());
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    IngestOptions o;
    o.data_dir = data_.string();
    ingest_ = std::make_unique<Ingestor>(*store_, o);
  }
  std::vector<std::string> media_files() {
    std::vector<std::string> out;
    for (auto& f : files_under(data_)) {
      if (f.rfind("originals/", 0) == 0 || f.rfind("thumbnails/", 0) == 0) out.push_back(f);
    }
    return out;
  }

  TempDir root_;
  fs::path data_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Ingestor> ingest_;
};

TEST_F(IngestTest, StoresOriginalThumbnailAndMetadata) {
  std::string bytes = read_test_image("chelsea_exif6.jpg");
  auto r = ingest_->add("holiday/cat.jpg", bytes);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->duplicate);
  auto p = store_->get_photo(r->id);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->hash, sha256_hex(bytes));
  EXPECT_EQ(p->filename, "cat.jpg");
  EXPECT_EQ(p->folder, "holiday");
  EXPECT_EQ(p->mime, "image/jpeg");
  EXPECT_EQ(p->size, static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(p->status, PhotoStatus::kPending);
  // EXIF orientation 6: pixels stored rotated (300x451), reported upright as chelsea.png.
  EXPECT_EQ(p->width, 451);
  EXPECT_EQ(p->height, 300);

  auto orig = read_file(ingest_->original_path(*p));
  ASSERT_TRUE(orig.ok());
  EXPECT_EQ(*orig, bytes);
  EXPECT_EQ(ingest_->original_path(*p), (data_ / "originals" / p->hash.substr(0, 2) / (p->hash + ".jpg")).string());
  auto thumb = read_file(ingest_->thumbnail_path(*p));
  ASSERT_TRUE(thumb.ok());
  auto tm = probe_image(*thumb, DecodeLimits{});
  ASSERT_TRUE(tm.ok());
  EXPECT_EQ(tm->format, "jpeg");
  EXPECT_EQ(std::max(tm->width, tm->height), 400);
  EXPECT_GT(tm->width, tm->height);
}

TEST_F(IngestTest, DuplicateReturnsExistingIdWithoutDecoding) {
  std::string bytes = read_test_image("pokemon.jpeg");
  auto a = ingest_->add("a.jpg", bytes);
  ASSERT_TRUE(a.ok());
  auto b = ingest_->add("other/name.jpg", bytes);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->duplicate);
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(*store_->count_photos(), 1);
}

TEST_F(IngestTest, RejectsNonImagesTruncatedAndOversizedWithReasons) {
  auto r = ingest_->add("notes.jpg", "this is not an image at all");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  r = ingest_->add("empty.jpg", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  std::string jpeg = read_test_image("coffee_q90.jpg");
  r = ingest_->add("half.jpg", jpeg.substr(0, jpeg.size() / 2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();

  IngestOptions small;
  small.data_dir = data_.string();
  small.max_bytes = 1000;
  Ingestor tight(*store_, small);
  r = tight.add("big.png", read_test_image("camera.png"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);

  small.max_bytes = 200LL << 20;
  small.max_pixels = 1000;  // decompression-bomb limit, judged from the header
  Ingestor few_pixels(*store_, small);
  r = few_pixels.add("many.png", read_test_image("camera.png"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);

  EXPECT_EQ(*store_->count_photos(), 0);
  EXPECT_TRUE(media_files().empty());
}

TEST_F(IngestTest, UnsafeNamesNeverTouchTheDisk) {
  struct Case {
    std::string name, folder, filename;
  };
  std::vector<Case> cases = {
      {"../../etc/passwd", "etc", "passwd"},
      {"/tmp/evil.png", "tmp", "evil.png"},
      {"..\\..\\windows\\win.ini", "windows", "win.ini"},
  };
  std::vector<std::string> imgs = {"pokemon.jpeg", "chelsea_small.png", "coffee_q90.jpg"};
  for (size_t i = 0; i < cases.size(); ++i) {
    auto r = ingest_->add(cases[i].name, read_test_image(imgs[i]));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    auto p = store_->get_photo(r->id);
    EXPECT_EQ(p->folder, cases[i].folder);
    EXPECT_EQ(p->filename, cases[i].filename);
  }
  // Outside data/: nothing new. Inside: only hash-named originals and thumbnails.
  for (const auto& f : files_under(root_.path())) {
    ASSERT_EQ(f.rfind("data/", 0), 0u) << f;
  }
  auto media = media_files();
  EXPECT_EQ(media.size(), 6u);
  for (const auto& f : media) {
    std::string base = fs::path(f).stem().string();
    EXPECT_TRUE(is_sha256_hex(base)) << f;
  }
}

TEST_F(IngestTest, RowAndJobsAreWrittenTogether) {
  std::string bytes = read_test_image("pokemon.jpeg");
  NewPhoto init;
  init.status = PhotoStatus::kNoModel;
  init.vlm_status = VlmStatus::kPending;
  init.jobs = {JobKind::kEmbed, JobKind::kDescribe};
  auto r = ingest_->add("a.jpg", bytes, init);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->duplicate);
  auto p = store_->get_photo(r->id);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->status, PhotoStatus::kNoModel);
  EXPECT_EQ(p->vlm_status, VlmStatus::kPending);
  EXPECT_EQ(*store_->active_job_count(JobKind::kEmbed), 1);
  EXPECT_EQ(*store_->active_job_count(JobKind::kDescribe), 1);
  // A duplicate writes nothing: no second row, no more jobs.
  auto again = ingest_->add("b.jpg", bytes, init);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->id, r->id);
  EXPECT_EQ(*store_->active_job_count(), 2);
}

// A failure while recording (here: the jobs insert, refused by a trigger that
// a second connection adds) leaves no row, no job and no file behind.
TEST_F(IngestTest, FailedInsertLeavesNothing) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open((data_ / "album.db").string().c_str(), &raw), SQLITE_OK);
  auto exec = [&](const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(raw, sql, nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
  };
  exec("CREATE TRIGGER no_jobs BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'injected'); END");
  std::string bytes = read_test_image("pokemon.jpeg");
  NewPhoto init;
  init.jobs = {JobKind::kEmbed};
  auto r = ingest_->add("a.jpg", bytes, init);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(*store_->count_photos(), 0);
  EXPECT_FALSE(store_->get_photo_by_hash(sha256_hex(bytes)).ok());
  EXPECT_EQ(*store_->active_job_count(), 0);
  EXPECT_TRUE(media_files().empty());
  // Without the fault the same bytes go in, with their job.
  exec("DROP TRIGGER no_jobs");
  sqlite3_close(raw);
  auto again = ingest_->add("a.jpg", bytes, init);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_FALSE(again->duplicate);
  EXPECT_EQ(*store_->active_job_count(JobKind::kEmbed), 1);
  EXPECT_EQ(media_files().size(), 2u);
}

TEST_F(IngestTest, RemoveFilesDeletesBoth) {
  auto r = ingest_->add("a.png", read_test_image("chelsea_small.png"));
  ASSERT_TRUE(r.ok());
  auto p = store_->get_photo(r->id);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(file_exists(ingest_->original_path(*p)));
  // While a row (this one, or another owner's copy) has the bytes, the files stay.
  bool removed = true;
  ASSERT_TRUE(ingest_->remove_files(*p, &removed).ok());
  EXPECT_FALSE(removed);
  EXPECT_TRUE(file_exists(ingest_->original_path(*p)));
  ASSERT_TRUE(store_->delete_photo(r->id).ok());
  ASSERT_TRUE(ingest_->remove_files(*p, &removed).ok());
  EXPECT_TRUE(removed);
  EXPECT_FALSE(file_exists(ingest_->original_path(*p)));
  EXPECT_FALSE(file_exists(ingest_->thumbnail_path(*p)));
}

TEST_F(IngestTest, ConcurrentIdenticalAddsYieldOnePhoto) {
  std::string bytes = read_test_image("coffee_q90.jpg");
  std::vector<std::thread> ts;
  std::vector<Result<IngestResult>> rs(4, Status::Internal("unset"));
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&, i] { rs[i] = ingest_->add("c.jpg", bytes); });
  }
  for (auto& t : ts) t.join();
  int fresh = 0;
  for (auto& r : rs) {
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    fresh += r->duplicate ? 0 : 1;
    EXPECT_EQ(r->id, rs[0]->id);
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(media_files().size(), 2u);
}

// Concurrent adds hold at most the pixel gate's bytes of decoded frames; a photo
// bigger than the whole gate still goes through, alone (issue 11, item 4).
TEST_F(IngestTest, ConcurrentAddsStayWithinThePixelGate) {
  const std::vector<std::string> files = {"camera.png", "chelsea.png", "coffee.png",
                                          "pokemon.jpeg", "chelsea_small.png", "coffee_q90.jpg"};
  std::vector<std::string> bytes;
  int64_t smallest = INT64_MAX, largest = 0;
  for (const auto& f : files) {
    bytes.push_back(read_test_image(f));
    auto head = probe_image(bytes.back(), DecodeLimits{});
    ASSERT_TRUE(head.ok()) << f;
    const int64_t frame = int64_t{head->width} * head->height * 3;
    smallest = std::min(smallest, frame);
    largest = std::max(largest, frame);
  }
  ASSERT_LT(smallest, largest);
  // Room for the smallest photo only: every other one is bigger than the gate.
  ingest_set_pixel_gate(smallest);
  ingest_pixel_gate_peaks(/*reset=*/true);
  std::vector<std::thread> ts;
  std::vector<Result<IngestResult>> rs(files.size(), Status::Internal("unset"));
  for (size_t i = 0; i < files.size(); ++i) {
    ts.emplace_back([&, i] { rs[i] = ingest_->add(files[i], bytes[i]); });
  }
  for (auto& t : ts) t.join();
  const PixelGatePeaks peaks = ingest_pixel_gate_peaks();
  ingest_set_pixel_gate(384LL << 20);
  for (size_t i = 0; i < files.size(); ++i) {
    ASSERT_TRUE(rs[i].ok()) << files[i] << ": " << rs[i].status().to_string();
    EXPECT_FALSE(rs[i]->duplicate) << files[i];
  }
  EXPECT_EQ(peaks.limit, smallest);
  EXPECT_EQ(peaks.photos, 1);  // one at a time: no two fit together
  EXPECT_GT(peaks.held, 0);
  EXPECT_LE(peaks.held, smallest);
}

TEST(FolderScan, ListsRecursivelySkippingHidden) {
  TempDir d;
  fs::create_directories(d.path() / "a" / "b");
  fs::create_directories(d.path() / ".hidden");
  for (const char* f : {"x.jpg", "a/y.png", "a/b/z.gif", ".hidden/w.jpg", "a/.dot.jpg"}) {
    ASSERT_TRUE(write_file_atomic((d.path() / f).string(), "x").ok());
  }
  auto files = list_files_recursive(d.str());
  ASSERT_TRUE(files.ok());
  std::vector<std::string> rel;
  for (auto& f : *files) rel.push_back(fs::relative(f, d.path()).generic_string());
  EXPECT_EQ(rel, (std::vector<std::string>{"a/b/z.gif", "a/y.png", "x.jpg"}));
  EXPECT_EQ(list_files_recursive(d.str() + "/nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(list_files_recursive((d.path() / "x.jpg").string()).status().code(), StatusCode::kInvalidArgument);
}

std::vector<std::string> relative_to(const fs::path& root, const std::vector<std::string>& paths) {
  std::vector<std::string> rel;
  for (auto& p : paths) rel.push_back(fs::path(p).lexically_relative(root).generic_string());
  return rel;
}

TEST(FolderScan, ReportsBrokenLinksAndLinkedFoldersAndKeepsScanning) {
  TempDir d;
  fs::create_directories(d.path() / "a");
  fs::create_directories(d.path() / "z");
  for (const char* f : {"a/x.jpg", "z/y.jpg", "target.jpg"}) {
    ASSERT_TRUE(write_file_atomic((d.path() / f).string(), "x").ok());
  }
  fs::create_symlink(d.path() / "no-such-file.jpg", d.path() / "a" / "broken.jpg");
  fs::create_symlink(d.path() / "z", d.path() / "a" / "linked-folder");
  fs::create_symlink(d.path() / "target.jpg", d.path() / "z" / "linked.jpg");
  ASSERT_EQ(::mkfifo((d.path() / "z" / "pipe").c_str(), 0644), 0);

  auto scan = scan_folder(d.str());
  ASSERT_TRUE(scan.ok()) << scan.status().to_string();
  EXPECT_EQ(relative_to(d.path(), scan->files),
            (std::vector<std::string>{"a/x.jpg", "target.jpg", "z/linked.jpg", "z/y.jpg"}));
  std::map<std::string, std::string> skipped;
  for (auto& [path, why] : scan->skipped) skipped[fs::path(path).lexically_relative(d.path()).generic_string()] = why;
  ASSERT_EQ(skipped.size(), 3u);
  EXPECT_NE(skipped["a/broken.jpg"].find("broken symbolic link"), std::string::npos) << skipped["a/broken.jpg"];
  EXPECT_NE(skipped["a/linked-folder"].find("not followed"), std::string::npos);
  EXPECT_NE(skipped["z/pipe"].find("not a regular file"), std::string::npos);
  // The compatibility wrapper lists the same files.
  EXPECT_EQ(*list_files_recursive(d.str()), scan->files);
}

TEST(FolderScan, RootIsAbsoluteAndNamedForDotAndTrailingSlash) {
  TempDir d;
  fs::create_directories(d.path() / "trip");
  auto slash = scan_folder(d.str() + "/trip/");
  ASSERT_TRUE(slash.ok());
  EXPECT_EQ(slash->root, (d.path() / "trip").string());
  auto dotted = scan_folder(d.str() + "/trip/./../trip/.");
  ASSERT_TRUE(dotted.ok());
  EXPECT_EQ(dotted->root, (d.path() / "trip").string());
  const fs::path cwd = fs::current_path();
  fs::current_path(d.path() / "trip");
  auto dot = scan_folder(".");
  fs::current_path(cwd);
  ASSERT_TRUE(dot.ok());
  EXPECT_EQ(fs::path(dot->root).filename(), "trip");
  EXPECT_TRUE(fs::path(dot->root).is_absolute());
}

// A folder without read permission is reported and the rest is still listed.
// Root reads everything, so the scan runs in a child that drops to "nobody".
TEST(FolderScan, UnreadableFolderIsReportedNotFatal) {
  TempDir d;
  fs::create_directories(d.path() / "a-locked");
  fs::create_directories(d.path() / "b");
  ASSERT_TRUE(write_file_atomic((d.path() / "a-locked" / "hidden.jpg").string(), "x").ok());
  ASSERT_TRUE(write_file_atomic((d.path() / "b" / "seen.jpg").string(), "x").ok());
  ASSERT_TRUE(write_file_atomic((d.path() / "c.jpg").string(), "x").ok());
  fs::permissions(d.path() / "a-locked", fs::perms::none);
  fs::permissions(d.path(), fs::perms::all);  // nobody must reach the tree

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(77);
    auto scan = scan_folder(d.str());
    if (!scan.ok()) ::_exit(10);
    if (relative_to(d.path(), scan->files) != std::vector<std::string>{"b/seen.jpg", "c.jpg"}) ::_exit(11);
    if (scan->skipped.size() != 1) ::_exit(12);
    if (scan->skipped[0].first != (d.path() / "a-locked").string()) ::_exit(13);
    if (scan->skipped[0].second.find("cannot read folder") == std::string::npos) ::_exit(14);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  fs::permissions(d.path() / "a-locked", fs::perms::owner_all);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot drop root privileges";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child check failed (see the exit codes in the test)";
}

// Issue 11, item 7: a kill -9 while an original is written leaves a temporary file;
// temporary files live in <data>/tmp and a new Ingestor (every start) removes the ones
// whose writer is gone, plus old debris of the former in-place naming.
TEST_F(IngestTest, CrashDebrisIsClearedAtStart) {
  const fs::path tmp = data_ / "tmp";
  fs::create_directories(tmp);
  fs::create_directories(data_ / "originals" / "ab");
  auto touch = [](const fs::path& p) { ASSERT_TRUE(write_file_atomic(p.string(), "x").ok()); };
  touch(tmp / "999999999.123.tmp");                                  // writer gone
  touch(tmp / (std::to_string(::getpid()) + ".456.tmp"));            // writer alive (us)
  touch(data_ / "originals" / "ab" / ".abcd.jpg.tmp789");           // old format, old
  touch(data_ / "originals" / "ab" / ".abce.jpg.tmp790");           // old format, fresh
  fs::last_write_time(data_ / "originals" / "ab" / ".abcd.jpg.tmp789",
                      fs::file_time_type::clock::now() - std::chrono::hours(2));
  // A write goes through <data>/tmp and leaves nothing there.
  auto r = ingest_->add("a.jpg", read_test_image("coffee_q90.jpg"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(ingest_->tmp_dir(), tmp.string());

  Ingestor restarted(*store_, ingest_->options());  // "the next start"
  EXPECT_FALSE(fs::exists(tmp / "999999999.123.tmp"));
  EXPECT_TRUE(fs::exists(tmp / (std::to_string(::getpid()) + ".456.tmp")));
  EXPECT_FALSE(fs::exists(data_ / "originals" / "ab" / ".abcd.jpg.tmp789"));
  EXPECT_TRUE(fs::exists(data_ / "originals" / "ab" / ".abce.jpg.tmp790"));
  size_t left = 0;
  for (auto& e : fs::directory_iterator(tmp)) left += e.is_regular_file();
  EXPECT_EQ(left, 1u);  // only the live writer's file
}

}  // namespace
}  // namespace sa
