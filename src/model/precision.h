// Inference precision of a loaded model (`--precision fp32|int8`).
//
// int8: the encoder projections run on the INT8 kernels (int8_gemm.h); the
// patch embedding, LayerNorm, attention, softmax, GELU and the final
// projections stay fp32. When a model is loaded in int8 it first embeds a small
// built-in calibration set both ways; if the worst cosine between the two is
// below kInt8MinCosine (a checkpoint with outlier channels that per-channel
// INT8 cannot hold), the model stays fp32 and the check says so.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace sa {

enum class Precision { kFp32, kInt8 };

const char* precision_name(Precision p);  // "fp32" | "int8"
// "fp32" or "int8" (also "" = fp32); InvalidArgument otherwise.
Result<Precision> parse_precision(std::string_view s);

constexpr double kInt8MinCosine = 0.99;

// The load-time INT8 self-check of one model.
struct Int8Check {
  bool ran = false;           // int8 was requested
  bool passed = false;        // worst_cosine >= kInt8MinCosine: the model runs INT8
  double worst_cosine = 0.0;  // over the calibration set, INT8 vs fp32 embeddings
  int samples = 0;            // calibration inputs compared
  std::string kernel;         // the INT8 kernel in use ("amx", "avx512-vnni", ...)
  // One line for logs, `models list` and /api/health, e.g.
  // "int8 (amx; self-check: worst cosine 0.9998 over 7 inputs)" or
  // "fp32 (int8 refused: worst cosine 0.9712 < 0.99 over 7 inputs)".
  std::string summary() const;
  // "ok 0.9998" / "refused 0.9712" / "-" (not run): the `models list` column.
  std::string short_summary() const;
};

// The outcome of the last self-check of the model at model_path is kept beside
// it (<dir>/.int8-check for a model directory, <file>.int8-check for a
// checkpoint file) so that `models list` can show it. Saving is best effort (a
// read-only models dir is fine); loading gives ran = false when there is none.
std::string int8_check_record_path(const std::string& model_path);
void save_int8_check(const std::string& model_path, const Int8Check& c);
Int8Check load_int8_check(const std::string& model_path);

}  // namespace sa
