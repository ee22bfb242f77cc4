// Chinese-CLIP: image and text towers behind one object.
//
// Thread safety: a loaded ChineseClip is immutable; encode_* may be called from
// several threads at once, but inference already uses all cores through the one
// OpenBLAS pool, so callers should serialise large batches (one thread budget).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/precision.h"
#include "model/weights.h"

namespace sa {

class WordPieceTokenizer;

class ChineseClip {
 public:
  // Loads any supported checkpoint: an official `clip_cn_*.pt` file, or an HF
  // ChineseCLIPModel directory (config.json + model.safetensors|pytorch_model.bin).
  // `arch` ("ViT-B-16", "ViT-L-14", "ViT-L-14-336", "ViT-H-14") overrides the
  // architecture of an official checkpoint; empty = model_info.json / file name.
  // precision kInt8: quantizes the encoder projections after loading and runs
  // the self-check of precision.h (int8_check()); the model stays fp32 when the
  // check fails.
  static Result<std::unique_ptr<ChineseClip>> load(const std::string& path,
                                                   const std::string& arch = "",
                                                   Precision precision = Precision::kFp32);
  // Takes ownership of ready weights (tests and benchmarks build random ones).
  static Result<std::unique_ptr<ChineseClip>> from_weights(ClipWeights w,
                                                           Precision precision = Precision::kFp32);
  ~ChineseClip();

  const ClipWeights& weights() const { return w_; }
  int image_resolution() const { return w_.visual.cfg.image_size; }
  int embed_dim() const { return w_.embed_dim; }
  // How many of the text encoder's projections (4 per layer) have the exact
  // fp16 copy that text queries stream (all of them for the released fp16
  // checkpoints; the rest run the fp32 few-row kernel, about half as fast).
  int text_fp16_projections() const;
  int text_projections() const { return 4 * static_cast<int>(w_.text.layers.size()); }
  float logit_scale() const { return w_.logit_scale; }
  // The precision the model runs in (int8 only when requested and its
  // self-check passed) and that check's outcome. With int8 the fp32 copies of
  // the quantized projections are released (weights() no longer holds them).
  Precision precision() const { return int8_.passed ? Precision::kInt8 : Precision::kFp32; }
  const Int8Check& int8_check() const { return int8_; }

  // pixels: [n, 3, R, R] channel-major, preprocessed (see image/clip_preprocess.h).
  // out: [n, embed_dim], raw (not normalised).
  Status encode_images(const float* pixels, int n, float* out) const;

  // Token ids as produced by tokenize() (unpadded, [CLS]..[SEP]); out: [n, embed_dim], raw.
  Status encode_texts(const std::vector<std::vector<int32_t>>& ids, float* out) const;

  // cn_clip's tokenizer: [CLS] wordpieces [SEP], at most 52 ids.
  std::vector<int32_t> tokenize(std::string_view text) const;

 private:
  ChineseClip();
  void enable_int8();

  ClipWeights w_;
  Int8Check int8_;
  std::unique_ptr<WordPieceTokenizer> tok_;
};

// L2-normalises each row of x [n, d] in place (rows of zeros stay zero).
void l2_normalize_rows(float* x, int n, int d);

}  // namespace sa
