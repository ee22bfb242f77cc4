#include "eval/evaluator.h"

#include <algorithm>
#include <future>

#include "core/file_util.h"
#include "image/clip_preprocess.h"
#include "model/chinese_clip.h"

namespace sa::eval {
namespace {

constexpr int kTextBatch = 256;

std::string join_path(const std::string& folder, const std::string& name) {
  if (folder.empty() || folder.back() == '/') return folder + name;
  return folder + "/" + name;
}

// Decodes and preprocesses paths[begin, end) into one [n, 3, R, R] buffer.
Result<std::vector<float>> load_batch(const std::vector<std::string>& paths, size_t begin, size_t end,
                                      int res, const DecodeLimits& lim) {
  std::vector<float> out;
  out.reserve((end - begin) * 3 * size_t(res) * res);
  for (size_t i = begin; i < end; ++i) {
    auto bytes = read_file(paths[i], static_cast<size_t>(lim.max_bytes));
    if (!bytes.ok()) return bytes.status().with_context(paths[i]);
    auto img = decode_rgb(*bytes, lim);
    if (!img.ok()) return img.status().with_context(paths[i]);
    std::vector<float> p = clip_preprocess(*img, res);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

}  // namespace

Result<std::vector<float>> embed_image_files(const ChineseClip& clip, const std::vector<std::string>& paths,
                                             const EvalOptions& opt) {
  const int res = clip.image_resolution();
  const int dim = clip.embed_dim();
  const size_t batch = static_cast<size_t>(std::max(1, opt.image_batch));
  const size_t n = paths.size();
  std::vector<float> emb(n * dim);
  if (n == 0) return emb;
  auto start = [&](size_t b) {
    return std::async(std::launch::async, load_batch, std::cref(paths), b, std::min(n, b + batch), res,
                      std::cref(opt.limits));
  };
  auto next = start(0);
  for (size_t b = 0; b < n; b += batch) {
    Result<std::vector<float>> pixels = next.get();
    if (!pixels.ok()) return pixels.status();
    if (b + batch < n) next = start(b + batch);  // decode the next batch while this one encodes
    const int count = static_cast<int>(std::min(batch, n - b));
    float* out = emb.data() + b * dim;
    Status s = clip.encode_images(pixels->data(), count, out);
    if (!s.ok()) {
      if (next.valid()) next.wait();
      return s;
    }
    l2_normalize_rows(out, count, dim);
    if (opt.progress) opt.progress("images", static_cast<int>(b) + count, static_cast<int>(n));
  }
  return emb;
}

Result<std::vector<float>> embed_eval_texts(const ChineseClip& clip, const std::vector<std::string>& texts,
                                            const EvalOptions& opt) {
  const int dim = clip.embed_dim();
  std::vector<float> emb(texts.size() * dim);
  std::vector<std::vector<int32_t>> ids;
  for (size_t b = 0; b < texts.size(); b += kTextBatch) {
    const size_t e = std::min(texts.size(), b + kTextBatch);
    ids.clear();
    for (size_t i = b; i < e; ++i) ids.push_back(clip.tokenize(eval_text(texts[i])));
    SA_RETURN_IF_ERROR(clip.encode_texts(ids, emb.data() + b * dim));
    l2_normalize_rows(emb.data() + b * dim, static_cast<int>(e - b), dim);
    if (opt.progress) opt.progress("texts", static_cast<int>(e), static_cast<int>(texts.size()));
  }
  return emb;
}

Result<RetrievalScores> evaluate_captions(const ChineseClip& clip, const std::string& folder,
                                          const CaptionSet& captions, const EvalOptions& opt) {
  std::vector<std::string> paths;
  for (const std::string& name : captions.images) paths.push_back(join_path(folder, name));
  SA_ASSIGN_OR_RETURN(std::vector<float> images, embed_image_files(clip, paths, opt));
  SA_ASSIGN_OR_RETURN(std::vector<float> texts, embed_eval_texts(clip, captions.texts, opt));
  return retrieval_scores(images.data(), static_cast<int>(captions.images.size()), texts.data(),
                          static_cast<int>(captions.texts.size()), clip.embed_dim(), captions.text_image);
}

Result<ZeroShotScores> evaluate_zero_shot(const ChineseClip& clip, const std::string& folder,
                                          const std::vector<std::string>& labels,
                                          const std::vector<std::string>& templates, const Truth& truth,
                                          const EvalOptions& opt) {
  const std::vector<std::string> tmpl =
      templates.empty() ? std::vector<std::string>{std::string(kDefaultTemplate)} : templates;
  std::vector<std::string> prompts;
  prompts.reserve(labels.size() * tmpl.size());
  for (const std::string& label : labels) {
    for (const std::string& t : tmpl) prompts.push_back(fill_template(t, label));
  }
  std::vector<std::string> paths;
  for (const std::string& name : truth.images) paths.push_back(join_path(folder, name));
  SA_ASSIGN_OR_RETURN(std::vector<float> images, embed_image_files(clip, paths, opt));
  SA_ASSIGN_OR_RETURN(std::vector<float> prompt_emb, embed_eval_texts(clip, prompts, opt));
  const int dim = clip.embed_dim();
  SA_ASSIGN_OR_RETURN(std::vector<float> classes,
                      class_embeddings(prompt_emb.data(), static_cast<int>(labels.size()),
                                       static_cast<int>(tmpl.size()), dim));
  return zero_shot_scores(images.data(), static_cast<int>(truth.images.size()), classes.data(),
                          static_cast<int>(labels.size()), dim, truth.classes);
}

}  // namespace sa::eval
