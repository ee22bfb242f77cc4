// safetensors: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {...}}, then the data area; offsets are relative to it.
// See docs/checkpoint_formats.md.
#include <algorithm>
#include <new>
#include <nlohmann/json.hpp>

#include "model/checkpoint.h"

namespace sa {

class SafetensorsParser {
 public:
  static Status parse(Checkpoint* ck);
};

namespace {

// Generous: real headers are ~100 KiB even for models with thousands of tensors.
constexpr uint64_t kMaxHeader = uint64_t(100) << 20;

bool parse_dtype(const std::string& s, DType* t) {
  static const std::pair<const char*, DType> kTypes[] = {
      {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16},
      {"F64", DType::kF64}, {"I64", DType::kI64}, {"I32", DType::kI32},
      {"I16", DType::kI16}, {"I8", DType::kI8},   {"U8", DType::kU8},
      {"BOOL", DType::kBool},
  };
  for (const auto& kv : kTypes) {
    if (s == kv.first) {
      *t = kv.second;
      return true;
    }
  }
  return false;
}

}  // namespace

Status SafetensorsParser::parse(Checkpoint* ck) {
  const uint8_t* d = ck->file_.data();
  const uint64_t n = ck->file_.size();
  const std::string& path = ck->path();
  auto bad = [&](const std::string& what) { return Status::Corruption(path + ": safetensors: " + what); };
  if (n == 0) return Status::Corruption(path + " is empty (0 bytes)");
  if (n < 8) return bad("file of " + std::to_string(n) + " bytes is too short for the header length");
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | d[i];
  if (hlen > kMaxHeader || hlen > n - 8) {
    return bad("header length " + std::to_string(hlen) + " at offset 0 exceeds the file (" +
               std::to_string(n) + " bytes)");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(d + 8, d + 8 + hlen);
  } catch (const std::exception& e) {
    return bad(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) return bad("header is not a JSON object");
  const uint64_t data_start = 8 + hlen;
  const uint64_t data_size = n - data_start;
  uint64_t data_end = 0;  // the furthest byte any tensor uses

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") continue;
    const nlohmann::json& e = it.value();
    auto bad_t = [&](const std::string& what) { return bad("tensor '" + name + "': " + what); };
    if (!e.is_object()) return bad_t("entry is not an object");
    auto dt = e.find("dtype");
    auto sh = e.find("shape");
    auto off = e.find("data_offsets");
    if (dt == e.end() || !dt->is_string()) return bad_t("missing dtype");
    if (sh == e.end() || !sh->is_array()) return bad_t("missing shape");
    if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      return bad_t("missing or malformed data_offsets");
    }
    TensorInfo t;
    if (!parse_dtype(dt->get<std::string>(), &t.dtype)) {
      return Status::Unimplemented(path + ": tensor '" + name + "' has unsupported dtype " +
                                   dt->get<std::string>());
    }
    int64_t numel = 1;
    for (const auto& dim : *sh) {
      if (!dim.is_number_unsigned() || dim.get<uint64_t>() > (uint64_t(1) << 40)) {
        return bad_t("bad dimension in shape");
      }
      const int64_t v = dim.get<int64_t>();
      if (__builtin_mul_overflow(numel, v, &numel) || numel > (int64_t(1) << 48)) {
        return bad_t("tensor too large");
      }
      t.shape.push_back(v);
    }
    if (t.shape.size() > 8) return bad_t("more than 8 dimensions");
    t.strides.assign(t.shape.size(), 1);
    for (size_t i = t.shape.size(); i-- > 1;) t.strides[i - 1] = t.strides[i] * t.shape[i];
    const uint64_t begin = (*off)[0].get<uint64_t>();
    const uint64_t end = (*off)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return bad_t("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                   "] lie outside the data area of " + std::to_string(data_size) +
                   " bytes (file offset " + std::to_string(data_start + begin) + ")" +
                   (begin <= end ? ": the file is truncated" : ""));
    }
    data_end = std::max(data_end, end);
    if (end - begin != uint64_t(numel) * dtype_size(t.dtype)) {
      return bad_t("data_offsets span " + std::to_string(end - begin) + " bytes but shape " +
                   shape_to_string(t.shape) + " of " + dtype_name(t.dtype) + " needs " +
                   std::to_string(uint64_t(numel) * dtype_size(t.dtype)));
    }
    t.data = d + data_start + begin;
    ck->tensors_[name] = std::move(t);
  }
  if (ck->tensors_.empty()) return bad("the file contains no tensors");
  // As the reference implementation: the tensors cover the data area exactly.
  // Bytes past the last tensor mean a damaged or concatenated file.
  if (data_end != data_size) {
    return bad(std::to_string(data_size - data_end) + " bytes after the last tensor (data ends at " +
               std::to_string(data_end) + " of " + std::to_string(data_size) + ")");
  }
  return Status::OK();
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::open_safetensors(const std::string& path) try {
  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  ck->format_ = Format::kSafetensors;
  SA_ASSIGN_OR_RETURN(ck->file_, MappedFile::open(path));
  SA_RETURN_IF_ERROR(SafetensorsParser::parse(ck.get()));
  return ck;
} catch (const std::bad_alloc&) {
  return Status::ResourceExhausted(path + ": out of memory while reading the checkpoint index");
}

}  // namespace sa
