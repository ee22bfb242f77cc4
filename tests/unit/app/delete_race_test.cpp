// Issue 11, item 2: a delete racing re-uploads of the same bytes must never leave an
// acknowledged photo (duplicate:false) without its original or thumbnail.
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "app/album_impl.h"
#include "core/file_util.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

TEST(DeleteRace, ReuploadsRacingADeleteNeverLoseAnAcknowledgedPhoto) {
  std::random_device rd;
  const fs::path root =
      fs::temp_directory_path() / ("sa_race_" + std::to_string(rd()) + std::to_string(rd()));
  Config cfg;
  cfg.data_dir = (root / "data").string();
  auto opened = open_album(cfg, AlbumDeps{});  // no model: only ingest and delete matter
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  std::unique_ptr<Album> album = std::move(*opened);
  auto bytes = read_file(std::string(SA_TEST_DATA) + "/images/chelsea_small.png");
  ASSERT_TRUE(bytes.ok());

  constexpr int kRounds = 150, kUploaders = 6;
  int fresh_total = 0;
  for (int round = 0; round < kRounds; ++round) {
    auto first = album->add_file("x.png", *bytes);
    ASSERT_TRUE(first.ok()) << first.status().to_string();
    const int64_t victim = first->id;
    std::atomic<bool> go{false};
    std::vector<std::pair<int64_t, bool>> acks(kUploaders);  // id, duplicate
    std::vector<std::thread> threads;
    threads.emplace_back([&] {
      // The deleting thread runs at the lowest priority, so it is often preempted
      // between removing the row and removing the files: the window of the race.
      setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
      while (!go) std::this_thread::yield();
      (void)album->delete_photo(victim);
    });
    for (int u = 0; u < kUploaders; ++u) {
      threads.emplace_back([&, u] {
        while (!go) std::this_thread::yield();
        auto r = album->add_file("again.png", *bytes);
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        acks[u] = {r->id, r->duplicate};
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    for (auto& [id, dup] : acks) {
      if (dup) continue;
      ++fresh_total;
      // A new photo was acknowledged: its files must be there, whole.
      auto orig = album->original_path(id);
      ASSERT_TRUE(orig.ok()) << "round " << round << ": photo " << id
                             << " acknowledged as new has no original: "
                             << orig.status().to_string();
      EXPECT_EQ(*read_file(*orig), *bytes);
      auto thumb = album->thumbnail_path(id);
      ASSERT_TRUE(thumb.ok()) << "round " << round << ": photo " << id
                              << " has no thumbnail: " << thumb.status().to_string();
    }
    // Start the next round from an empty album.
    auto page = album->list_photos(1, 1000);
    ASSERT_TRUE(page.ok());
    for (const auto& p : page->items) ASSERT_TRUE(album->delete_photo(p.id).ok());
  }
  EXPECT_GT(fresh_total, 0);  // the race was really run
  album.reset();
  std::error_code ec;
  fs::remove_all(root, ec);
}

}  // namespace
}  // namespace sa
