// models list / models path / models pull.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/progress.h"
#include "hub/model_hub.h"
#include "model/precision.h"

namespace sa::cli {

int cmd_models_list(const Config& cfg) {
  std::printf("models dir: %s\n", cfg.models_dir.c_str());
  // INT8: the last `--precision int8` self-check of the model (precision.h).
  std::printf("%-24s %-9s %-10s %-11s %s\n", "NAME", "KIND", "SIZE", "DOWNLOADED", "INT8");
  for (const KnownModel& m : known_models()) {
    const bool have = model_is_downloaded(m, cfg.models_dir);
    Result<std::string> path = resolve_model(m.name, cfg.models_dir);
    const std::string int8 = have && path.ok() ? load_int8_check(*path).short_summary() : "-";
    std::printf("%-24s %-9s %-10s %-11s %s\n", m.name.c_str(), m.kind.c_str(),
                human_bytes(m.approx_bytes).c_str(), have ? "yes" : "no", int8.c_str());
  }
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write to stdout");
}

int cmd_models_path(const Config& cfg, const std::string& name) {
  Result<std::string> path = resolve_model(name, cfg.models_dir);
  if (!path.ok()) return fail(path.status());
  std::printf("%s\n", path->c_str());
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write to stdout");
}

int cmd_models_pull(const Config& cfg, const CliEnv& env, const std::string& name,
                    const std::string& source) {
  const KnownModel* m = find_known_model(name);
  if (!m) return fail(Status::NotFound("unknown model '" + name + "' (see: smart-album models list)"));
  if (source != "hf" && source != "modelscope") {
    return fail(Status::InvalidArgument("--source must be hf or modelscope"));
  }
  PullOptions opt;
  opt.source = source;
  if (!env.get("HF_ENDPOINT").empty()) opt.hf_endpoint = env.get("HF_ENDPOINT");
  opt.hf_token = env.get("HF_TOKEN");
  std::unique_ptr<Progress> bar;
  std::string current;
  opt.progress = [&](int64_t done, int64_t total, const std::string& file) {
    if (file != current || !bar) {
      if (bar) bar->finish();
      bar = std::make_unique<Progress>(file, /*bytes=*/true);
      current = file;
    }
    bar->update(done, total);
  };
  // On a terminal, say where from; in scripts stderr carries only the failure line.
  if (Progress::stderr_is_tty()) std::fprintf(stderr, "pulling %s from %s into %s\n", m->name.c_str(),
               source == "hf" ? opt.hf_endpoint.c_str() : opt.modelscope_endpoint.c_str(),
               model_dir_for(*m, cfg.models_dir).c_str());
  Status s = pull_model(*m, cfg.models_dir, opt);
  if (bar) bar->finish();
  if (!s.ok()) return fail(s);
  std::printf("%s is ready in %s\n", m->name.c_str(), model_dir_for(*m, cfg.models_dir).c_str());
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write to stdout");
}

}  // namespace sa::cli
