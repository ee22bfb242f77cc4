// Chinese-CLIP facade: cn_clip/clip/model.py CLIP.encode_image / encode_text.
//   encode_image: visual(image)                         (already includes @ proj)
//   encode_text:  bert(text)[0][:, 0, :] @ text_projection
#include "model/chinese_clip.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "model/bert.h"
#include "model/clip_loader.h"
#include "model/int8_gemm.h"
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

// The INT8 self-check's calibration set: synthetic 'photos' (smooth
// gradients, blocks of colour, a horizon, texture with noise) in CLIP's
// normalised pixel space, and a few everyday queries.
std::vector<float> calibration_images(int res, int n) {
  static const float kMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  static const float kStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};
  std::vector<float> px(static_cast<size_t>(n) * 3 * res * res);
  uint32_t seed = 12345;
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < res; ++y) {
        for (int x = 0; x < res; ++x) {
          const float u = static_cast<float>(x) / res, v = static_cast<float>(y) / res;
          seed = seed * 1664525u + 1013904223u;
          const float noise = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
          float val;
          switch (i % 4) {
            case 0: val = 0.5f + 0.4f * std::sin(6.2832f * (1.5f * u + 0.3f * c)) * std::cos(6.2832f * v); break;
            case 1: val = static_cast<float>((static_cast<int>(u * 8) + static_cast<int>(v * 6) + c) % 3) / 2.0f; break;
            case 2: val = v < 0.45f ? 0.45f + 0.2f * c - 0.3f * v : 0.3f + 0.15f * std::sin(40 * u + 13 * v + c) + 0.1f * noise; break;
            default: val = 0.5f + 0.25f * std::sin(17 * u * (c + 1)) * std::sin(23 * v) + 0.3f * noise; break;
          }
          val = std::min(1.0f, std::max(0.0f, val));
          px[((static_cast<size_t>(i) * 3 + c) * res + y) * res + x] = (val - kMean[c]) / kStd[c];
        }
      }
    }
  }
  return px;
}

const char* const kCalibrationTexts[] = {"一只猫在沙发上睡觉", "海边的日落", "生日蛋糕和蜡烛",
                                         "雪山下的湖泊", "穿红色衣服的小女孩在公园里奔跑"};

double cosine(const float* a, const float* b, int d) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < d; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

constexpr int kCalibrationImages = 4;

std::vector<std::vector<int32_t>> calibration_ids(const ChineseClip& clip, const BertConfig& tc) {
  std::vector<std::vector<int32_t>> ids;
  for (const char* t : kCalibrationTexts) {
    std::vector<int32_t> v = clip.tokenize(t);
    v.resize(std::min<size_t>(v.size(), tc.max_position - tc.position_offset));
    for (int32_t& id : v) id %= tc.vocab_size;  // small test vocabularies
    ids.push_back(std::move(v));
  }
  return ids;
}

// The smallest cosine between rows of ref and got ([n, d] each).
double worst_cosine(const std::vector<float>& ref, const std::vector<float>& got, int d) {
  double worst = 1.0;
  const size_t n = d > 0 ? ref.size() / d : 0;
  for (size_t i = 0; i < n; ++i) worst = std::min(worst, cosine(&ref[i * d], &got[i * d], d));
  return worst;
}

Status validate_clip(const ClipWeights& w) {
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
  return Status::OK();
}

// The fp32 weights just dropped were mostly reused or freed in the middle of
// malloc's heap (below its mmap threshold, which rises as large blocks are
// freed), where free() keeps them resident; hand those pages back.
void release_free_heap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

template <typename Fn>
void for_each_projection(ClipWeights& w, Fn&& fn) {
  fn(w.visual.patch_embed);
  for (VitBlock& b : w.visual.blocks) {
    for (Linear* l : {&b.qkv, &b.attn_out, &b.fc, &b.proj}) fn(*l);
  }
  for (BertLayer& l : w.text.layers) {
    for (Linear* lin : l.projections()) fn(*lin);
  }
}

}  // namespace

ChineseClip::ChineseClip() = default;
ChineseClip::~ChineseClip() = default;

// INT8 from a file goes tower by tower, so that the fp32 weights of both towers
// never exist at once (peak ~ one tower in fp32 + the other in INT8, about
// half of loading fp32 and quantizing after): the image tower's calibration
// embeddings are taken in fp32 as soon as it is read, then it is quantized and
// its fp32 weights dropped before the text tower is read; the text tower the
// same after the load. The INT8 embeddings of both are then compared with
// those (the self-check of precision.h). A refused model is read again in fp32.
Result<std::unique_ptr<ChineseClip>> ChineseClip::load(const std::string& path,
                                                       const std::string& arch,
                                                       Precision precision) {
  if (precision == Precision::kFp32) {
    SA_ASSIGN_OR_RETURN(ClipWeights w, load_clip_weights(path, arch));
    return from_weights(std::move(w), precision);
  }
  std::vector<float> px, ref_img;
  ClipLoadHooks hooks;
  hooks.after_visual = [&](VitWeights& v) -> Status {
    SA_RETURN_IF_ERROR(validate_vit(v));
    px = calibration_images(v.cfg.image_size, kCalibrationImages);
    ref_img.resize(static_cast<size_t>(kCalibrationImages) * v.proj.n_out);
    vit_forward(v, px.data(), kCalibrationImages, ref_img.data());
    vit_attach_int8(v, /*drop_fp32=*/true);
    return Status::OK();
  };
  SA_ASSIGN_OR_RETURN(ClipWeights w, load_clip_weights(path, arch, hooks));
  SA_RETURN_IF_ERROR(validate_clip(w));
  std::unique_ptr<ChineseClip> clip(new ChineseClip());
  clip->w_ = std::move(w);
  const std::vector<std::vector<int32_t>> ids = calibration_ids(*clip, clip->w_.text.cfg);
  const int ed = clip->embed_dim();
  Int8Check& c = clip->int8_;
  c.ran = true;
  c.samples = kCalibrationImages + static_cast<int>(ids.size());
  c.kernel = q8_kernel_name(q8_best_kernel());
  std::vector<float> ref_txt(ids.size() * ed), got_img(ref_img.size()), got_txt(ref_txt.size());
  bool ok = clip->encode_texts(ids, ref_txt.data()).ok();
  bert_attach_int8(clip->w_.text, /*drop_fp32=*/true);
  ok = ok && clip->encode_images(px.data(), kCalibrationImages, got_img.data()).ok() &&
       clip->encode_texts(ids, got_txt.data()).ok();
  c.worst_cosine =
      ok ? std::min(worst_cosine(ref_img, got_img, ed), worst_cosine(ref_txt, got_txt, ed)) : 0.0;
  c.passed = c.worst_cosine >= kInt8MinCosine;
  release_free_heap();
  if (c.passed) return clip;
  // Refused: the fp32 weights are gone, read them again.
  const Int8Check check = c;
  clip.reset();
  SA_ASSIGN_OR_RETURN(std::unique_ptr<ChineseClip> fp32, load(path, arch, Precision::kFp32));
  fp32->int8_ = check;
  return fp32;
}

Result<std::unique_ptr<ChineseClip>> ChineseClip::from_weights(ClipWeights w,
                                                               Precision precision) {
  SA_RETURN_IF_ERROR(validate_clip(w));
  // Official and HF-bin checkpoints are fp16: text queries (few rows) then read
  // an exact fp16 copy of the encoder weights, ~170 MB more resident.
  if (precision == Precision::kFp32) bert_attach_fp16(w.text);
  std::unique_ptr<ChineseClip> clip(new ChineseClip());
  clip->w_ = std::move(w);
  if (precision == Precision::kInt8) clip->enable_int8();
  // fp32 (asked for, or int8 refused): the image tower's products on the
  // engine's packed GEMM where the CPU has AVX-512.
  if (clip->precision() == Precision::kFp32) vit_attach_packed_f32(clip->w_.visual);
  return clip;
}

void ChineseClip::enable_int8() {
  // fp32 embeddings of the calibration set first, then the same with the
  // projections quantized; keep INT8 only if every cosine holds.
  const int n_img = kCalibrationImages;
  const int ed = embed_dim();
  const std::vector<float> px = calibration_images(image_resolution(), n_img);
  const std::vector<std::vector<int32_t>> ids = calibration_ids(*this, w_.text.cfg);
  const int n = n_img + static_cast<int>(ids.size());
  std::vector<float> ref(static_cast<size_t>(n) * ed), got(ref.size());
  auto embed_all = [&](float* out) {
    return encode_images(px.data(), n_img, out).ok() &&
           encode_texts(ids, out + static_cast<size_t>(n_img) * ed).ok();
  };
  int8_.ran = true;
  int8_.samples = n;
  int8_.kernel = q8_kernel_name(q8_best_kernel());
  if (!embed_all(ref.data())) return;
  for_each_projection(w_, [](Linear& l) { attach_int8(l, /*drop_fp32=*/false); });
  const bool ok = embed_all(got.data());
  const double worst = ok ? worst_cosine(ref, got, ed) : 0.0;
  int8_.worst_cosine = worst;
  int8_.passed = worst >= kInt8MinCosine;
  if (int8_.passed) {
    for_each_projection(w_, [](Linear& l) { std::vector<float>().swap(l.w); });
    release_free_heap();
  } else {
    for_each_projection(w_, [](Linear& l) { l.q8 = Q8Weights(); });
    bert_attach_fp16(w_.text);
  }
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
