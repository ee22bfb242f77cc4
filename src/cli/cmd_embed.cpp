// embed-image / embed-text / embed-sentence: one JSON object per line on stdout.
#include <charconv>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/thread_budget.h"
#include "cli/commands.h"
#include "core/file_util.h"
#include "hub/model_hub.h"
#include "image/clip_preprocess.h"
#include "image/image.h"
#include "model/chinese_clip.h"
#include "model/sentence_embedder.h"

namespace sa::cli {
namespace {

constexpr int kImageBatch = 8;

// Shortest decimal that round-trips the float: compact and exact.
std::string float_array(const float* v, int n) {
  std::string out = "[";
  char buf[32];
  for (int i = 0; i < n; ++i) {
    if (i) out += ',';
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v[i]);
    out.append(buf, ec == std::errc() ? end : buf);
  }
  return out + "]";
}

std::string ids_array(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "]";
}

std::string quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// int8 requested but the self-check kept the model fp32: say so once.
void warn_if_refused(const Int8Check& c) {
  if (c.ran && !c.passed) std::fprintf(stderr, "smart-album: warning: %s\n", c.summary().c_str());
}

Result<std::unique_ptr<ChineseClip>> load_clip(const Config& cfg) {
  if (cfg.model.empty()) return Status::InvalidArgument("--model is required");
  SA_ASSIGN_OR_RETURN(std::string path, resolve_model(cfg.model, cfg.models_dir));
  SA_ASSIGN_OR_RETURN(Precision precision, parse_precision(cfg.precision));
  SA_ASSIGN_OR_RETURN(std::unique_ptr<ChineseClip> clip, ChineseClip::load(path, cfg.arch, precision));
  warn_if_refused(clip->int8_check());
  save_int8_check(path, clip->int8_check());
  return clip;
}

}  // namespace

int cmd_embed_image(const Config& cfg, const EmbedArgs& a) {
  apply_thread_budget(decide_thread_budget(cfg, ThreadUse::kEngineOnly));
  auto clip = load_clip(cfg);
  if (!clip.ok()) return fail(clip.status());
  const int res = (*clip)->image_resolution();
  const int dim = (*clip)->embed_dim();
  DecodeLimits lim;
  lim.max_pixels = cfg.max_pixels;
  lim.max_bytes = cfg.max_upload_bytes;
  // Full size, as the album decodes for the exact CLIP preprocessing, so vectors match.
  // Every file is decoded before anything is printed: a bad file fails the command
  // without leaving half the output behind.
  std::vector<float> pixels;
  for (const std::string& file : a.inputs) {
    auto bytes = read_file(file, static_cast<size_t>(cfg.max_upload_bytes));
    if (!bytes.ok()) return fail(bytes.status().with_context(file));
    auto img = decode_rgb(*bytes, lim);
    if (!img.ok()) return fail(img.status().with_context(file));
    std::vector<float> p = clip_preprocess(*img, res);
    pixels.insert(pixels.end(), p.begin(), p.end());
  }
  const size_t per_image = size_t(3) * res * res;
  std::vector<float> emb(size_t(kImageBatch) * dim);
  for (size_t i = 0; i < a.inputs.size(); i += kImageBatch) {
    const int n = static_cast<int>(std::min<size_t>(kImageBatch, a.inputs.size() - i));
    Status s = (*clip)->encode_images(pixels.data() + i * per_image, n, emb.data());
    if (!s.ok()) return fail(s);
    if (!a.raw) l2_normalize_rows(emb.data(), n, dim);
    for (int k = 0; k < n; ++k) {
      std::printf("{\"file\":%s,\"embedding\":%s}\n", quoted(a.inputs[i + k]).c_str(),
                  float_array(emb.data() + size_t(k) * dim, dim).c_str());
    }
  }
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write to stdout");
}

int cmd_embed_text(const Config& cfg, const EmbedArgs& a) {
  apply_thread_budget(decide_thread_budget(cfg, ThreadUse::kEngineOnly));
  auto clip = load_clip(cfg);
  if (!clip.ok()) return fail(clip.status());
  const int dim = (*clip)->embed_dim();
  std::vector<std::vector<int32_t>> ids;
  for (const std::string& t : a.inputs) ids.push_back((*clip)->tokenize(t));
  std::vector<float> emb(ids.size() * dim);
  Status s = (*clip)->encode_texts(ids, emb.data());
  if (!s.ok()) return fail(s);
  if (!a.raw) l2_normalize_rows(emb.data(), static_cast<int>(ids.size()), dim);
  for (size_t i = 0; i < ids.size(); ++i) {
    std::printf("{\"text\":%s,\"ids\":%s,\"embedding\":%s}\n", quoted(a.inputs[i]).c_str(),
                ids_array(ids[i]).c_str(), float_array(emb.data() + i * dim, dim).c_str());
  }
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write to stdout");
}

int cmd_embed_sentence(const Config& cfg, const EmbedArgs& a) {
  if (cfg.text_model.empty()) return fail("--model is required");
  apply_thread_budget(decide_thread_budget(cfg, ThreadUse::kEngineOnly));
  auto path = resolve_model(cfg.text_model, cfg.models_dir);
  if (!path.ok()) return fail(path.status());
  auto precision = parse_precision(cfg.precision);
  if (!precision.ok()) return fail(precision.status());
  auto m = SentenceEmbedder::load(*path, *precision);
  if (!m.ok()) return fail(m.status());
  warn_if_refused((*m)->int8_check());
  save_int8_check(*path, (*m)->int8_check());
  const int dim = (*m)->dim();
  std::vector<float> emb(a.inputs.size() * dim);
  Status s = (*m)->embed(a.inputs, emb.data());
  if (!s.ok()) return fail(s);
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    std::printf("{\"text\":%s,\"ids\":%s,\"embedding\":%s}\n", quoted(a.inputs[i]).c_str(),
                ids_array((*m)->tokenize(a.inputs[i])).c_str(),
                float_array(emb.data() + i * dim, dim).c_str());
  }
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write to stdout");
}

}  // namespace sa::cli
