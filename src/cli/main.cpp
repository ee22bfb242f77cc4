// smart-album: the command-line entry point. Parses flags (CLI11), builds one
// Config (cli_config.h) and hands it to a subcommand (commands.h).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/cli_config.h"
#include "cli/commands.h"
#include "image/image.h"
#include "model/blas_setup.h"
#include "server/http_server.h"


namespace sa::cli {

int fail(const std::string& message) {
  std::string line = message;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "smart-album: %s\n", line.c_str());
  return 1;
}

int fail(const Status& s) { return fail(s.to_string()); }

namespace {

void str_flag(CLI::App* app, const std::string& name, std::optional<std::string>& target,
              const std::string& desc) {
  app->add_option_function<std::string>(name, [&target](const std::string& v) { target = v; }, desc);
}
void int_flag(CLI::App* app, const std::string& name, std::optional<int>& target,
              const std::string& desc) {
  app->add_option_function<int>(name, [&target](const int& v) { target = v; }, desc);
}

void album_flags(CLI::App* app, ConfigFlags& f) {
  str_flag(app, "--data-dir", f.data_dir, "album data directory (env SMART_ALBUM_DATA_DIR; default ./data)");
  str_flag(app, "--models-dir", f.models_dir, "where known model names resolve (env SMART_ALBUM_MODELS_DIR)");
  int_flag(app, "--threads", f.threads, "inference threads (0 = all cores)");
}
void precision_flag(CLI::App* app, ConfigFlags& f) {
  app->add_option_function<std::string>(
         "--precision", [&f](const std::string& v) { f.precision = v; },
         "fp32 (default) or int8: ~2-3x faster, embeddings within cosine 0.995 (env SMART_ALBUM_PRECISION)")
      ->check(CLI::IsMember({"fp32", "int8"}));
}
void clip_flags(CLI::App* app, ConfigFlags& f) {
  str_flag(app, "--model", f.model, "Chinese-CLIP checkpoint: path or known name (env SMART_ALBUM_MODEL)");
  str_flag(app, "--arch", f.arch, "architecture of an official checkpoint (ViT-B-16, ViT-L-14, ...)");
  precision_flag(app, f);
}
void decode_flag(CLI::App* app, ConfigFlags& f) {
  app->add_flag_function(
      "--reduced-decode", [&f](int64_t) { f.reduced_decode = true; },
      "decode JPEGs at reduced size (DCT scaling to >= 2x the model input) before the exact "
      "resize: faster import, vectors within cosine 0.9999 of the exact path on the test photos "
      "(config.json: reduced_decode)");
}
void vlm_flags(CLI::App* app, ConfigFlags& f) {
  str_flag(app, "--vlm-base-url", f.vlm_base_url, "OpenAI-compatible API base URL (env QWEN_BASE_URL)");
  str_flag(app, "--vlm-model", f.vlm_model, "vision model name (env QWEN_MODEL)");
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"smart-album: a photo album with Chinese natural-language search", "smart-album"};
  app.set_version_flag("--version", std::string(kVersion));
  app.require_subcommand(1);
  ConfigFlags f;
  bool config_file = true;  // the embed-* and models commands ignore <data-dir>/config.json
  EmbedArgs embed;
  SearchArgs search;
  std::vector<std::string> folders;
  bool no_wait = false;
  std::string model_name, source = "hf";

  auto* ei = app.add_subcommand("embed-image", "print the CLIP embedding of each image as a JSON line");
  clip_flags(ei, f);
  ei->add_flag("--raw", embed.raw, "do not L2-normalise");
  ei->add_option("images", embed.inputs, "image files")->required();
  int_flag(ei, "--threads", f.threads, "inference threads (0 = all cores)");

  auto* et = app.add_subcommand("embed-text", "print the CLIP text embedding and token ids of each text");
  clip_flags(et, f);
  et->add_flag("--raw", embed.raw, "do not L2-normalise");
  et->add_option("texts", embed.inputs, "texts")->required();
  int_flag(et, "--threads", f.threads, "inference threads (0 = all cores)");

  auto* es = app.add_subcommand("embed-sentence", "print the sentence embedding (BCE / text2vec) of each text");
  str_flag(es, "--model", f.text_model, "sentence model directory or known name");
  precision_flag(es, f);
  es->add_option("texts", embed.inputs, "texts")->required();
  int_flag(es, "--threads", f.threads, "inference threads (0 = all cores)");

  auto* sv = app.add_subcommand("serve", "run the web album");
  album_flags(sv, f);
  clip_flags(sv, f);
  vlm_flags(sv, f);
  str_flag(sv, "--text-model", f.text_model, "sentence model for description search (dir or known name)");
  str_flag(sv, "--host", f.host, "address to listen on (default 127.0.0.1)");
  int_flag(sv, "--port", f.port, "port (default 5000; 0 = any free port)");
  str_flag(sv, "--web-dir", f.web_dir, "static web files (default: the source tree's web/)");
  ServeArgs serve;
  sv->add_option("--auth", serve.auth, "on (default) or off: no sign-in, allowed on a loopback address only")
      ->check(CLI::IsMember({"on", "off"}));
  sv->add_option("--allowed-host", serve.allowed_hosts, "a host name people use to reach the album (repeatable)");
  sv->add_option("--public-url", serve.public_url, "the album's public address, e.g. https://photos.example.com");
  sv->add_option("--trusted-proxy", serve.trusted_proxies,
                 "address of a reverse proxy whose X-Forwarded-For/-Proto are believed (repeatable)");
  sv->add_option("--tls-cert", serve.tls_cert, "serve HTTPS with this PEM certificate (with --tls-key)")
      ->check(CLI::ExistingFile);
  sv->add_option("--tls-key", serve.tls_key, "PEM private key for --tls-cert")->check(CLI::ExistingFile);
  sv->add_option("--head-deadline", serve.head_deadline_s,
                 "seconds a client has to send a request's line and headers (default 10; 0 = none)")
      ->check(CLI::NonNegativeNumber);
  sv->add_option("--max-connections-per-client", serve.max_connections_per_client,
                 "connections one address may hold open (default 32; 0 = no cap; trusted proxies are exempt)")
      ->check(CLI::NonNegativeNumber);
  decode_flag(sv, f);

  auto* im = app.add_subcommand("import", "import folders of photos (recursive, incremental)");
  album_flags(im, f);
  clip_flags(im, f);
  vlm_flags(im, f);
  str_flag(im, "--text-model", f.text_model, "sentence model (dir or known name)");
  im->add_flag("--no-wait", no_wait, "do not wait for the embedding jobs");
  std::string import_user;
  im->add_option("--user", import_user,
                 "the user whose library the photos join (required when more than one user exists)");
  decode_flag(im, f);
  std::string import_album;
  im->add_option("--album", import_album, "also put the imported photos in this album (created if missing)");
  im->add_option("folders", folders, "folders to import")->required()->check(CLI::ExistingDirectory);

  auto* se = app.add_subcommand("search", "search photos by a Chinese (or any) description");
  album_flags(se, f);
  clip_flags(se, f);
  str_flag(se, "--text-model", f.text_model, "sentence model (needed for --mode hybrid)");
  se->add_option("--limit", search.limit, "results")->check(CLI::Range(1, 500));
  se->add_option("--offset", search.offset, "skip this many results")->check(CLI::Range(0, 100000));
  se->add_option("--mode", search.mode, "clip or hybrid")->check(CLI::IsMember({"clip", "hybrid"}));
  se->add_option("--user", search.user, "search this user's library (required when more than one user exists)");
  se->add_flag("--json", search.json, "print one JSON object");
  se->add_option("query", search.query, "what to look for")->required();

  auto* an = app.add_subcommand("analyze", "describe every photo without a description (VLM)");
  album_flags(an, f);
  clip_flags(an, f);
  vlm_flags(an, f);
  str_flag(an, "--text-model", f.text_model, "sentence model (dir or known name)");
  an->add_flag("--no-wait", no_wait, "queue only; do not wait");
  bool refresh = false;
  an->add_flag("--refresh", refresh, "describe already described photos again (fills in their visible text)");

  UserArgs user;
  auto* us = app.add_subcommand("user", "manage accounts: add, list, passwd, remove");
  us->require_subcommand(1);
  auto* us_add = us->add_subcommand("add", "add an account (asks for the password twice on a terminal)");
  us_add->add_option("name", user.name, "user name")->required();
  us_add->add_flag("--admin", user.admin, "may manage users");
  us_add->add_flag("--password-stdin", user.password_stdin, "read the password from one line of stdin");
  auto* us_list = us->add_subcommand("list", "list accounts");
  auto* us_pw = us->add_subcommand("passwd", "set a new password (signs the user out everywhere)");
  us_pw->add_option("name", user.name, "user name")->required();
  us_pw->add_flag("--password-stdin", user.password_stdin, "read the password from one line of stdin");
  auto* us_rm = us->add_subcommand("remove", "remove an account (not the last admin, not while it owns photos)");
  us_rm->add_option("name", user.name, "user name")->required();
  for (auto* c : {us_add, us_list, us_pw, us_rm}) str_flag(c, "--data-dir", f.data_dir, "album data directory");

  TokenArgs token;
  auto* tk = app.add_subcommand("token", "API tokens for scripts: create, list, revoke");
  tk->require_subcommand(1);
  auto* tk_new = tk->add_subcommand("create", "create a token for a user and print it (shown once)");
  tk_new->add_option("name", token.name, "user name")->required();
  tk_new->add_option("--label", token.label, "what the token is for");
  auto* tk_list = tk->add_subcommand("list", "list tokens (never their secrets)");
  tk_list->add_option("--user", token.name, "only this user's tokens");
  auto* tk_rm = tk->add_subcommand("revoke", "revoke a token by id");
  tk_rm->add_option("id", token.id, "token id (see token list)")->required();
  for (auto* c : {tk_new, tk_list, tk_rm}) str_flag(c, "--data-dir", f.data_dir, "album data directory");

  EvalArgs ev;
  auto* evc = app.add_subcommand("eval", "retrieval recall or zero-shot accuracy on your own photos, "
                                         "counted as Chinese-CLIP's evaluation counts");
  clip_flags(evc, f);
  str_flag(evc, "--models-dir", f.models_dir, "where known model names resolve");
  int_flag(evc, "--threads", f.threads, "inference threads (0 = all cores)");
  evc->add_option("--captions", ev.captions, "JSON: file name -> caption or list of captions")
      ->check(CLI::ExistingFile);
  evc->add_option("--labels", ev.labels, "class names, one a line")->check(CLI::ExistingFile);
  evc->add_option("--templates", ev.templates, "prompts, one a line, {} for the class")
      ->check(CLI::ExistingFile);
  evc->add_option("--truth", ev.truth, "JSON: file name -> 0-based class index")->check(CLI::ExistingFile);
  evc->add_flag("--json", ev.json, "print one JSON object (percent)");
  evc->add_option("folder", ev.folder, "folder holding the images")->required()->check(CLI::ExistingDirectory);

  auto* mo = app.add_subcommand("models", "list or download known models");
  mo->require_subcommand(1);
  auto* ml = mo->add_subcommand("list", "known models and whether they are downloaded");
  str_flag(ml, "--models-dir", f.models_dir, "models directory");
  auto* mp = mo->add_subcommand("pull", "download a known model (HF_ENDPOINT honoured)");
  str_flag(mp, "--models-dir", f.models_dir, "models directory");
  mp->add_option("--source", source, "hf or modelscope")->check(CLI::IsMember({"hf", "modelscope"}));
  mp->add_option("name", model_name, "model name (see models list)")->required();
  auto* mpath = mo->add_subcommand("path", "print where a model name or path resolves; fails if not downloaded");
  str_flag(mpath, "--models-dir", f.models_dir, "models directory");
  mpath->add_option("name", model_name, "model name or path")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fail(std::string(e.what()) + " (see --help)");
    return 2;
  }

  // Logs go to stderr so that stdout stays clean for JSON output.
  auto logger = spdlog::stderr_color_mt("smart-album");
  spdlog::set_default_logger(logger);
  // serve logs what it does; search reports its own failure in one line, so the
  // album's warnings (e.g. a model that did not load) would only repeat it.
  spdlog::set_level(sv->parsed() ? spdlog::level::info
                                 : se->parsed() ? spdlog::level::err : spdlog::level::warn);

  if (ei->parsed() || et->parsed() || es->parsed() || mo->parsed() || evc->parsed()) config_file = false;
  const CliEnv env = CliEnv::from_process();
  auto cfg = load_config(f, env, config_file);
  if (!cfg.ok()) return fail(cfg.status());
  if (ei->parsed() || sv->parsed() || im->parsed() || evc->parsed()) {
    Status s = image_init();
    if (!s.ok()) return fail(s);
  }

  if (ei->parsed()) return cmd_embed_image(*cfg, embed);
  if (et->parsed()) return cmd_embed_text(*cfg, embed);
  if (es->parsed()) return cmd_embed_sentence(*cfg, embed);
  if (sv->parsed()) return cmd_serve(*cfg, serve);
  if (us->parsed()) {
    user.action = us_add->parsed() ? "add" : us_list->parsed() ? "list" : us_pw->parsed() ? "passwd" : "remove";
    return cmd_user(*cfg, user);
  }
  if (tk->parsed()) {
    token.action = tk_new->parsed() ? "create" : tk_list->parsed() ? "list" : "revoke";
    return cmd_token(*cfg, token);
  }
  if (im->parsed()) return cmd_import(*cfg, folders, !no_wait, import_album, import_user);
  if (se->parsed()) return cmd_search(*cfg, search);
  if (an->parsed()) return cmd_analyze(*cfg, !no_wait, refresh);
  if (evc->parsed()) return cmd_eval(*cfg, ev);
  if (ml->parsed()) return cmd_models_list(*cfg);
  if (mp->parsed()) return cmd_models_pull(*cfg, env, model_name, source);
  if (mpath->parsed()) return cmd_models_path(*cfg, model_name);
  return fail("no subcommand");
}

}  // namespace sa::cli

int main(int argc, char** argv) {
  sa::reexec_for_blas_kernels(argv);  // OpenBLAS's own CPU detection may pick SSE3 kernels
  try {
    return sa::cli::run(argc, argv);
  } catch (const std::exception& e) {
    return sa::cli::fail(std::string("unexpected error: ") + e.what());
  }
}
