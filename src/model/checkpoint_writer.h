// Writes a ClipWeights as an official-layout Chinese-CLIP checkpoint
// (safetensors with cn_clip's tensor names, plus cn_clip's model_info.json
// beside it), readable by load_clip_weights / ChineseClip::load. For tests
// and benchmarks that need a real file load (random weights of any size);
// the album itself never writes checkpoints.
#pragma once

#include <string>

#include "core/status.h"
#include "model/weights.h"

namespace sa {

enum class CheckpointDType { kF32, kF16 };

// `path` is the safetensors file; model_info.json goes into its directory
// (overwritten). Every Linear of w must still have its fp32 weights, and the
// image MLP must be 4 x width (what model_info.json implies). F16
// rounds to nearest even, as the released checkpoints are stored.
Status write_clip_checkpoint(const ClipWeights& w, const std::string& path, CheckpointDType dtype);

// IEEE half bit pattern of f, rounded to nearest even (overflow to infinity).
uint16_t float_to_half_bits(float f);

}  // namespace sa
