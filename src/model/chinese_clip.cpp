// Chinese-CLIP facade: cn_clip/clip/model.py CLIP.encode_image / encode_text.
//   encode_image: visual(image)                         (already includes @ proj)
//   encode_text:  bert(text)[0][:, 0, :] @ text_projection
#include "model/chinese_clip.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/bert.h"
#include "model/clip_loader.h"
#include "model/ops.h"
#include "model/tokenizer_wordpiece.h"
#include "model/vit.h"

namespace sa {
namespace {

// Images per vit_forward call: activations grow ~7 MB per ViT-B/16 image and
// GEMM efficiency stops improving well before this.
constexpr int kImageChunk = 16;
// Tokens per bert_forward_batch call.
constexpr int kTextChunkTokens = 2048;

}  // namespace

ChineseClip::ChineseClip() = default;
ChineseClip::~ChineseClip() = default;

Result<std::unique_ptr<ChineseClip>> ChineseClip::load(const std::string& path,
                                                       const std::string& arch) {
  SA_ASSIGN_OR_RETURN(ClipWeights w, load_clip_weights(path, arch));
  return from_weights(std::move(w));
}

Result<std::unique_ptr<ChineseClip>> ChineseClip::from_weights(ClipWeights w) {
  SA_RETURN_IF_ERROR(validate_vit(w.visual));
  SA_RETURN_IF_ERROR(validate_bert(w.text));
  if (w.embed_dim <= 0 || w.visual.proj.n_out != w.embed_dim) {
    return Status::InvalidArgument("embed_dim " + std::to_string(w.embed_dim) +
                                   " does not match visual.proj [" +
                                   std::to_string(w.visual.proj.n_out) + ", ...]");
  }
  SA_RETURN_IF_ERROR(check_linear(w.text_proj, w.embed_dim, w.text.cfg.hidden, false,
                                  "text_projection"));
  if (!std::isfinite(w.logit_scale)) return Status::InvalidArgument("logit_scale is not finite");
  // Official and HF-bin checkpoints are fp16: text queries (few rows) then read
  // an exact fp16 copy of the encoder weights, ~170 MB more resident.
  bert_attach_fp16(w.text);
  std::unique_ptr<ChineseClip> clip(new ChineseClip());
  clip->w_ = std::move(w);
  return clip;
}

int ChineseClip::text_fp16_projections() const {
  int n = 0;
  for (const BertLayer& l : w_.text.layers) {
    for (const Linear* lin : l.projections()) n += lin->w16.empty() ? 0 : 1;
  }
  return n;
}

Status ChineseClip::encode_images(const float* pixels, int n, float* out) const {
  if (n < 0) return Status::InvalidArgument("negative image count");
  if (n == 0) return Status::OK();
  if (!pixels || !out) return Status::InvalidArgument("null pixel or output buffer");
  const size_t per_image = 3 * static_cast<size_t>(image_resolution()) * image_resolution();
  for (int i = 0; i < n; i += kImageChunk) {
    const int m = std::min(kImageChunk, n - i);
    vit_forward(w_.visual, pixels + i * per_image, m, out + static_cast<size_t>(i) * embed_dim());
  }
  return Status::OK();
}

Status ChineseClip::encode_texts(const std::vector<std::vector<int32_t>>& ids, float* out) const {
  if (ids.empty()) return Status::OK();
  if (!out) return Status::InvalidArgument("null output buffer");
  for (size_t i = 0; i < ids.size(); ++i) {
    Status s = validate_bert_ids(w_.text.cfg, ids[i].data(), static_cast<int>(ids[i].size()));
    if (!s.ok()) return s.with_context("text " + std::to_string(i));
  }
  const int d = w_.text.cfg.hidden;
  size_t i = 0;
  std::vector<float> cls;
  while (i < ids.size()) {
    // A chunk is at least one sequence, then as many more as fit the token budget.
    size_t j = i;
    size_t tokens = 0;
    do {
      tokens += ids[j].size();
      ++j;
    } while (j < ids.size() && tokens + ids[j].size() <= kTextChunkTokens);
    const std::vector<std::vector<int32_t>> chunk(ids.begin() + i, ids.begin() + j);
    cls.resize((j - i) * d);
    bert_forward_cls(w_.text, chunk, cls.data());  // [CLS] = first token of each sequence
    linear(w_.text_proj, cls.data(), static_cast<int>(j - i), out + i * embed_dim());
    i = j;
  }
  return Status::OK();
}

std::vector<int32_t> ChineseClip::tokenize(std::string_view text) const {
  return WordPieceTokenizer::builtin().encode(text, WordPieceTokenizer::kCnClipContextLength);
}

void l2_normalize_rows(float* x, int n, int d) {
  for (int i = 0; i < n; ++i) {
    float* r = x + static_cast<size_t>(i) * d;
    double ss = 0.0;
    for (int j = 0; j < d; ++j) ss += static_cast<double>(r[j]) * r[j];
    if (ss <= 0.0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (int j = 0; j < d; ++j) r[j] *= inv;
  }
}

}  // namespace sa
