// The subcommands. Each returns the process exit code: 0 on success, non-zero
// after printing a one-line reason to stderr (see fail()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/cli_config.h"
#include "core/config.h"
#include "core/status.h"

namespace sa::cli {

// Prints "smart-album: <reason>" as one line on stderr; returns 1.
int fail(const Status& s);
int fail(const std::string& message);

struct EmbedArgs {
  std::vector<std::string> inputs;  // image paths or texts
  bool raw = false;                 // skip L2 normalisation
};
int cmd_embed_image(const Config& cfg, const EmbedArgs& a);
int cmd_embed_text(const Config& cfg, const EmbedArgs& a);
int cmd_embed_sentence(const Config& cfg, const EmbedArgs& a);

// serve's sign-in and exposure flags (issue 12; docs/security.md).
struct ServeArgs {
  std::string auth = "on";                  // "on" | "off" (off: loopback only)
  std::vector<std::string> allowed_hosts;   // --allowed-host (repeatable)
  std::string public_url;                   // --public-url
  std::vector<std::string> trusted_proxies; // --trusted-proxy (repeatable)
  std::string tls_cert, tls_key;
  int head_deadline_s = 10;               // --head-deadline (docs/limits.md)
  int max_connections_per_client = 32;    // --max-connections-per-client
};
int cmd_serve(const Config& cfg, const ServeArgs& a);

struct UserArgs {
  std::string action;  // add | list | passwd | remove
  std::string name;
  bool admin = false;
  bool password_stdin = false;
};
int cmd_user(const Config& cfg, const UserArgs& a);

struct TokenArgs {
  std::string action;  // create | list | revoke
  std::string name;    // user (create; optional filter for list)
  std::string label;
  int64_t id = 0;      // revoke
};
int cmd_token(const Config& cfg, const TokenArgs& a);
// album_name: also put the imported photos (new and already present) in this album.
// user: whose library the photos join (--user NAME); required when more than
// one user exists, else the only user (or no owner without accounts).
int cmd_import(const Config& cfg, const std::vector<std::string>& folders, bool wait,
               const std::string& album_name = "", const std::string& user = "");

struct SearchArgs {
  std::string query;
  int limit = 20;
  int offset = 0;
  std::string mode = "clip";
  bool json = false;
  std::string user;  // whose library (as import --user)
};
int cmd_search(const Config& cfg, const SearchArgs& a);
// refresh: describe every photo again, not only those without a description.
int cmd_analyze(const Config& cfg, bool wait, bool refresh = false);

struct EvalArgs {
  std::string folder;
  std::string captions;   // retrieval: file name -> caption(s)
  std::string labels;     // zero-shot: one class a line
  std::string templates;  // zero-shot: one prompt a line with {} (optional)
  std::string truth;      // zero-shot: file name -> class index
  bool json = false;
};
int cmd_eval(const Config& cfg, const EvalArgs& a);

int cmd_models_list(const Config& cfg);
// Prints the loadable path a model name (or path) resolves to; non-zero if absent.
int cmd_models_path(const Config& cfg, const std::string& name);
int cmd_models_pull(const Config& cfg, const CliEnv& env, const std::string& name,
                    const std::string& source);

}  // namespace sa::cli
