// The string <-> enum tables of store/types.h: one row per value, read both ways.
#include "store/types.h"

#include <ostream>
#include <utility>

namespace sa {
namespace {

constexpr std::pair<PhotoStatus, std::string_view> kPhotoStatus[] = {
    {PhotoStatus::kPending, "pending"},
    {PhotoStatus::kReady, "ready"},
    {PhotoStatus::kFailed, "failed"},
    {PhotoStatus::kNoModel, "no_model"},
};
constexpr std::pair<AlbumRole, std::string_view> kAlbumRole[] = {
    {AlbumRole::kOwner, "owner"},
    {AlbumRole::kContributor, "contributor"},
    {AlbumRole::kViewer, "viewer"},
};
constexpr std::pair<VlmStatus, std::string_view> kVlmStatus[] = {
    {VlmStatus::kNone, "none"},
    {VlmStatus::kPending, "pending"},
    {VlmStatus::kRunning, "running"},
    {VlmStatus::kDone, "done"},
    {VlmStatus::kFailed, "failed"},
};
constexpr std::pair<JobKind, std::string_view> kJobKind[] = {
    {JobKind::kEmbed, "embed"},
    {JobKind::kDescribe, "describe"},
    {JobKind::kEmbedDesc, "embed_desc"},
};
constexpr std::pair<JobState, std::string_view> kJobState[] = {
    {JobState::kPending, "pending"},
    {JobState::kRunning, "running"},
    {JobState::kDone, "done"},
    {JobState::kFailed, "failed"},
};

template <typename E, size_t N>
std::string_view name_of(const std::pair<E, std::string_view> (&table)[N], E v) {
  for (const auto& [e, name] : table)
    if (e == v) return name;
  return "?";  // only for a value cast from an out-of-range integer
}

template <typename E, size_t N>
std::optional<E> value_of(const std::pair<E, std::string_view> (&table)[N], std::string_view s) {
  for (const auto& [e, name] : table)
    if (name == s) return e;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(PhotoStatus v) { return name_of(kPhotoStatus, v); }
std::string_view to_string(VlmStatus v) { return name_of(kVlmStatus, v); }
std::string_view to_string(JobKind v) { return name_of(kJobKind, v); }
std::string_view to_string(JobState v) { return name_of(kJobState, v); }

std::optional<PhotoStatus> parse_photo_status(std::string_view s) { return value_of(kPhotoStatus, s); }
std::optional<VlmStatus> parse_vlm_status(std::string_view s) { return value_of(kVlmStatus, s); }
std::optional<JobKind> parse_job_kind(std::string_view s) { return value_of(kJobKind, s); }
std::optional<JobState> parse_job_state(std::string_view s) { return value_of(kJobState, s); }
std::string_view to_string(AlbumRole v) { return name_of(kAlbumRole, v); }
std::optional<AlbumRole> parse_album_role(std::string_view s) { return value_of(kAlbumRole, s); }

std::ostream& operator<<(std::ostream& os, PhotoStatus v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, VlmStatus v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, JobKind v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, JobState v) { return os << to_string(v); }

}  // namespace sa
