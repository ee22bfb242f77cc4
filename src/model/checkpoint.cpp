// Format-independent half of the checkpoint readers: the tensor table, the
// shape-checking door and the conversions to fp32.
#include "model/checkpoint.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <new>
#include <vector>

namespace sa {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kF64: return "F64";
    case DType::kI64: return "I64";
    case DType::kI32: return "I32";
    case DType::kI16: return "I16";
    case DType::kI8: return "I8";
    case DType::kU8: return "U8";
    case DType::kBool: return "BOOL";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF64:
    case DType::kI64: return 8;
    case DType::kF32:
    case DType::kI32: return 4;
    case DType::kF16:
    case DType::kBF16:
    case DType::kI16: return 2;
    case DType::kI8:
    case DType::kU8:
    case DType::kBool: return 1;
  }
  return 1;
}

bool dtype_is_float(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 || t == DType::kF64;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool TensorInfo::contiguous() const {
  int64_t expect = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && strides[i] != expect) return false;
    expect *= shape[i];
  }
  return true;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;  // +-0
  } else {
    // Subnormal: value = mant * 2^-24. Normalise the mantissa.
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    bits = sign | (uint32_t(112 - e) << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_f32(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

namespace {

// 256 KiB table: one lookup per fp16 weight is both exact and fast.
const float* f16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < 65536; ++i) t[i] = f16_to_f32(uint16_t(i));
    return t;
  }();
  return table.data();
}

// Converts element `src_index` (in elements from info.data) of any float dtype.
inline float load_one(const uint8_t* base, DType t, int64_t i, const float* f16) {
  switch (t) {
    case DType::kF32: {
      float v;
      std::memcpy(&v, base + i * 4, 4);
      return v;
    }
    case DType::kF16: {
      uint16_t h;
      std::memcpy(&h, base + i * 2, 2);
      return f16[h];
    }
    case DType::kBF16: {
      uint16_t h;
      std::memcpy(&h, base + i * 2, 2);
      return bf16_to_f32(h);
    }
    case DType::kF64: {
      double v;
      std::memcpy(&v, base + i * 8, 8);
      return float(v);
    }
    default: return 0.0f;
  }
}

void convert_contiguous(const TensorInfo& t, int64_t n, float* out) {
  const float* f16 = f16_table();
  if (t.dtype == DType::kF32) {
    std::memcpy(out, t.data, size_t(n) * 4);
    return;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = load_one(t.data, t.dtype, i, f16);
}

// Gathers a strided tensor into row-major order (torch may save views, e.g.
// a transposed weight, as a storage plus strides).
void convert_strided(const TensorInfo& t, float* out) {
  const float* f16 = f16_table();
  const size_t nd = t.shape.size();
  std::vector<int64_t> idx(nd, 0);
  const int64_t n = t.numel();
  int64_t src = 0;
  for (int64_t k = 0; k < n; ++k) {
    out[k] = load_one(t.data, t.dtype, src, f16);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < t.shape[d]) {
        src += t.strides[d];
        break;
      }
      src -= (t.shape[d] - 1) * t.strides[d];
      idx[d] = 0;
    }
  }
}

bool shape_matches(const std::vector<int64_t>& have, const std::vector<int64_t>& want) {
  if (have == want) return true;
  // A scalar parameter is [] in torch and sometimes [1] in converted files.
  return want.empty() && have.size() == 1 && have[0] == 1;
}

}  // namespace

const TensorInfo* Checkpoint::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

Result<std::vector<int64_t>> Checkpoint::shape_of(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) return Status::NotFound("tensor '" + name + "' is missing from " + path());
  return t->shape;
}

Result<const TensorInfo*> Checkpoint::checked(const std::string& name,
                                              const std::vector<int64_t>& expected_shape) const {
  const TensorInfo* t = find(name);
  if (!t) return Status::NotFound("tensor '" + name + "' is missing from " + path());
  if (!shape_matches(t->shape, expected_shape)) {
    return Status::InvalidArgument("tensor '" + name + "' has shape " + shape_to_string(t->shape) +
                                   ", expected " + shape_to_string(expected_shape) + " (" +
                                   path() + ")");
  }
  if (!dtype_is_float(t->dtype)) {
    return Status::Unimplemented("tensor '" + name + "' has dtype " + dtype_name(t->dtype) +
                                 "; only F32/F16/BF16/F64 weights can be loaded");
  }
  return t;
}

Status Checkpoint::read_tensor(const std::string& name, const std::vector<int64_t>& expected_shape,
                               float* out) const {
  SA_ASSIGN_OR_RETURN(const TensorInfo* t, checked(name, expected_shape));
  const int64_t n = t->numel();
  if (n == 0) return Status::OK();
  if (t->contiguous()) {
    convert_contiguous(*t, n, out);
    release_pages(t->data, t->data + size_t(n) * dtype_size(t->dtype));
  } else {
    convert_strided(*t, out);
  }
  return Status::OK();
}

Result<std::vector<float>> Checkpoint::get_tensor(const std::string& name,
                                                  const std::vector<int64_t>& expected_shape,
                                                  bool required) const {
  if (!required && !has(name)) return std::vector<float>();
  // Validate before allocating: the size is then backed by bytes in the file.
  SA_ASSIGN_OR_RETURN(const TensorInfo* t, checked(name, expected_shape));
  std::vector<float> v;
  try {
    v.resize(size_t(t->numel()));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory for tensor '" + name + "' " +
                                     shape_to_string(t->shape));
  }
  SA_RETURN_IF_ERROR(read_tensor(name, expected_shape, v.data()));
  return v;
}

void Checkpoint::release_pages(const uint8_t* begin, const uint8_t* end) const {
  // Only whole pages inside the tensor: a neighbour's bytes on a shared page
  // would be re-read from the page cache anyway, but keep it tidy.
  static const uintptr_t kPage = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t base = reinterpret_cast<uintptr_t>(file_.data());
  uintptr_t b = reinterpret_cast<uintptr_t>(begin);
  uintptr_t e = reinterpret_cast<uintptr_t>(end);
  if (!file_.data() || b < base || e > base + file_.size()) return;
  b = (b + kPage - 1) & ~(kPage - 1);
  e &= ~(kPage - 1);
  if (e <= b) return;
  // Advisory: the mapping is read-only and file-backed, so dropping pages is
  // always safe; a failure only means a larger resident set.
  (void)::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::NotFound(path + " is a directory, not a checkpoint file");
  }
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no such file: " + path);
  uint8_t head[9] = {0};
  size_t got = 0;
  {
    SA_ASSIGN_OR_RETURN(MappedFile f, MappedFile::open(path));
    if (f.size() == 0) return Status::Corruption(path + " is empty (0 bytes)");
    got = std::min<size_t>(f.size(), sizeof(head));
    std::memcpy(head, f.data(), got);
  }
  if (got >= 4 && head[0] == 'P' && head[1] == 'K') return open_torch_zip(path);
  if (got >= 9 && head[8] == '{') return open_safetensors(path);
  if (got >= 2 && head[0] == 0x80 && head[1] <= 5) {
    return Status::Unimplemented(path +
                                 ": legacy (pre-1.6) torch serialization; re-save it with "
                                 "torch.save(..., _use_new_zipfile_serialization=True)");
  }
  return Status::Corruption(path + ": neither a torch zip archive nor a safetensors file");
}

}  // namespace sa
