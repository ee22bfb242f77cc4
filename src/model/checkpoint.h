// Checkpoint readers: torch zip archives (`.pt`, `pytorch_model.bin`) and
// safetensors files, behind one table of named tensors.
//
// The file is memory-mapped (sa::MappedFile) and never copied: a TensorInfo
// points into the mapping, and every offset, size and stride was checked
// against the file size when the table was built. Tensors leave the checkpoint
// only through `get_tensor` / `read_tensor`, which check the shape and convert
// to fp32 (F16/BF16 exactly, subnormals, inf and NaN included). The byte
// layouts are documented in docs/checkpoint_formats.md.
//
// Errors: NotFound (no such file / tensor), Corruption (bytes that contradict
// the format: truncation, bad offsets, unknown pickle opcode ...; the message
// names the offset or tensor), InvalidArgument (a tensor with an unexpected
// shape), Unimplemented (valid but unsupported: compressed zip entries,
// integer tensors read as float, the pre-1.6 torch format).
//
// Thread safety: a Checkpoint is immutable after open; reads may run in parallel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "core/status.h"

namespace sa {

enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

const char* dtype_name(DType t);  // "F32", "F16", ... (safetensors spelling)
size_t dtype_size(DType t);
bool dtype_is_float(DType t);     // F32/F16/BF16/F64: convertible to fp32

// "[768, 3, 16, 16]"
std::string shape_to_string(const std::vector<int64_t>& shape);

struct TensorInfo {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements, one per dim (row-major for safetensors)
  const uint8_t* data = nullptr;  // first element (storage start + storage offset)
  int64_t numel() const;
  bool contiguous() const;
};

class Checkpoint {
 public:
  enum class Format { kTorchZip, kSafetensors };

  // Opens either format; the format is recognised from the first bytes, not
  // from the file name. A 0-byte file is Corruption; a directory or a missing
  // file is NotFound.
  static Result<std::unique_ptr<Checkpoint>> open(const std::string& path);
  static Result<std::unique_ptr<Checkpoint>> open_torch_zip(const std::string& path);
  static Result<std::unique_ptr<Checkpoint>> open_safetensors(const std::string& path);

  Format format() const { return format_; }
  const std::string& path() const { return file_.path(); }

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo* find(const std::string& name) const;  // nullptr if absent
  std::vector<std::string> names() const;                 // sorted
  size_t size() const { return tensors_.size(); }

  // The one door for weights. Checks that `name` exists (NotFound otherwise)
  // and has exactly `expected_shape` (InvalidArgument otherwise; a scalar
  // expected as {} also accepts a stored [1]), then converts it to fp32.
  // If !required and the tensor is absent, returns an empty vector.
  Result<std::vector<float>> get_tensor(const std::string& name,
                                        const std::vector<int64_t>& expected_shape,
                                        bool required = true) const;

  // Same checks; writes numel(expected_shape) floats to `out` (lets callers
  // stack q/k/v into one buffer without a temporary copy).
  Status read_tensor(const std::string& name, const std::vector<int64_t>& expected_shape,
                     float* out) const;

  // Shape of a tensor, or NotFound naming it.
  Result<std::vector<int64_t>> shape_of(const std::string& name) const;

 private:
  Checkpoint() = default;
  friend class TorchZipParser;
  friend class SafetensorsParser;

  // Existence, shape and dtype checks shared by get_tensor / read_tensor.
  Result<const TensorInfo*> checked(const std::string& name,
                                    const std::vector<int64_t>& expected_shape) const;
  // Drops the already-converted pages of the mapping from this process's
  // resident set (they stay in the page cache), so a load peaks at about the
  // size of the fp32 weights rather than fp32 weights + file.
  void release_pages(const uint8_t* begin, const uint8_t* end) const;

  Format format_ = Format::kTorchZip;
  MappedFile file_;
  std::map<std::string, TensorInfo> tensors_;
};

// fp16 / bf16 bit patterns to fp32 (exact; exposed for tests and other readers).
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t h);

}  // namespace sa
