// eval: retrieval recall (--captions) or zero-shot accuracy (--labels --truth) on a
// folder of the user's photos, with the model the album would use (eval/evaluator.h).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/thread_budget.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/file_util.h"
#include "eval/evaluator.h"
#include "hub/model_hub.h"
#include "model/chinese_clip.h"

namespace sa::cli {
namespace {

constexpr size_t kMaxListFile = size_t(64) << 20;

Result<std::string> read_input(const std::string& path, const char* what) {
  auto r = read_file(path, kMaxListFile);
  if (!r.ok()) return r.status().with_context(std::string(what) + " " + path);
  return r;
}

// One bar per stage ("images", then "texts"), on stderr.
struct StageProgress {
  std::unique_ptr<Progress> bar;
  std::string stage;
  void operator()(std::string_view s, int done, int total) {
    if (s != stage) {
      if (bar) bar->finish();
      stage = std::string(s);
      bar = std::make_unique<Progress>("embedding " + stage);
    }
    bar->update(done, total);
  }
};

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

void print_recall(const char* name, const eval::RecallAtK& r) {
  std::printf("%s  R@1 %s  R@5 %s  R@10 %s  (mean %s)\n", name, pct(r.r1).c_str(), pct(r.r5).c_str(),
              pct(r.r10).c_str(), pct(r.mean()).c_str());
}

}  // namespace

int cmd_eval(const Config& cfg, const EvalArgs& a) {
  const bool captions_mode = !a.captions.empty();
  if (captions_mode == !a.labels.empty()) {
    return fail("eval needs either --captions FILE.json, or --labels FILE with --truth FILE.json");
  }
  if (!captions_mode && a.truth.empty()) return fail("--labels needs --truth FILE.json");
  if (captions_mode && (!a.truth.empty() || !a.templates.empty())) {
    return fail("--truth and --templates go with --labels, not with --captions");
  }
  if (cfg.model.empty()) return fail("--model is required");

  // Inputs are checked before the model loads: a typo fails in milliseconds.
  eval::CaptionSet captions;
  std::vector<std::string> labels, templates;
  eval::Truth truth;
  if (captions_mode) {
    auto text = read_input(a.captions, "captions");
    if (!text.ok()) return fail(text.status());
    auto c = eval::parse_captions(*text);
    if (!c.ok()) return fail(c.status().with_context(a.captions));
    captions = std::move(*c);
  } else {
    auto text = read_input(a.labels, "labels");
    if (!text.ok()) return fail(text.status());
    auto l = eval::parse_lines(*text, "labels");
    if (!l.ok()) return fail(l.status().with_context(a.labels));
    labels = std::move(*l);
    if (!a.templates.empty()) {
      auto tt = read_input(a.templates, "templates");
      if (!tt.ok()) return fail(tt.status());
      auto t = eval::parse_templates(*tt);
      if (!t.ok()) return fail(t.status().with_context(a.templates));
      templates = std::move(*t);
    }
    auto tr = read_input(a.truth, "truth");
    if (!tr.ok()) return fail(tr.status());
    auto t = eval::parse_truth(*tr, static_cast<int>(labels.size()));
    if (!t.ok()) return fail(t.status().with_context(a.truth));
    truth = std::move(*t);
  }

  apply_thread_budget(decide_thread_budget(cfg, ThreadUse::kEngineOnly));
  auto path = resolve_model(cfg.model, cfg.models_dir);
  if (!path.ok()) return fail(path.status());
  auto precision = parse_precision(cfg.precision);
  if (!precision.ok()) return fail(precision.status());
  auto clip = ChineseClip::load(*path, cfg.arch, *precision);
  if (!clip.ok()) return fail(clip.status());

  eval::EvalOptions opt;
  opt.image_batch = cfg.embed_batch;
  opt.limits.max_pixels = cfg.max_pixels;
  opt.limits.max_bytes = cfg.max_upload_bytes;
  auto progress = std::make_shared<StageProgress>();
  opt.progress = [progress](std::string_view s, int done, int total) { (*progress)(s, done, total); };

  nlohmann::ordered_json out;  // keys in the documented order
  if (captions_mode) {
    auto r = eval::evaluate_captions(**clip, a.folder, captions, opt);
    if (progress->bar) progress->bar->finish();
    if (!r.ok()) return fail(r.status());
    auto recall = [](const eval::RecallAtK& k) {
      return nlohmann::ordered_json{{"r1", k.r1}, {"r5", k.r5}, {"r10", k.r10}};
    };
    if (a.json) {
      out = {{"text_to_image", recall(r->text_to_image)},
             {"image_to_text", recall(r->image_to_text)},
             {"mean_recall", r->mean_recall}};
    } else {
      std::printf("%d images, %d captions (percent; the published tables use 1000-5000 images)\n",
                  r->n_images, r->n_texts);
      print_recall("text-to-image", r->text_to_image);
      print_recall("image-to-text", r->image_to_text);
      std::printf("mean recall    %s\n", pct(r->mean_recall).c_str());
    }
  } else {
    auto r = eval::evaluate_zero_shot(**clip, a.folder, labels, templates, truth, opt);
    if (progress->bar) progress->bar->finish();
    if (!r.ok()) return fail(r.status());
    if (a.json) {
      out = {{"top1", r->top1}, {"top5", r->top5}};
    } else {
      std::printf("%d images, %d classes, %zu templates (percent)\n", r->n_images, r->n_classes,
                  templates.empty() ? size_t(1) : templates.size());
      std::printf("zero-shot top-1 %s  top-5 %s\n", pct(r->top1).c_str(), pct(r->top5).c_str());
    }
  }
  // The numbers are those of the precision the model ran (int8 only when its
  // self-check passed), so say which: on stderr, once the result stands (a failure
  // stays one line), stdout stays the result.
  std::fprintf(stderr, "eval: model %s ran %s\n", cfg.model.c_str(), (*clip)->int8_check().summary().c_str());
  if (a.json) std::printf("%s\n", out.dump().c_str());
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write to stdout");
}

}  // namespace sa::cli
