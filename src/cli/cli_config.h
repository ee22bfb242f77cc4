// Configuration loading for the CLI: the only place that reads the environment.
// Precedence: command-line flags > environment > <data-dir>/config.json > defaults.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/config.h"
#include "core/status.h"

namespace sa::cli {

// A snapshot of the environment variables the CLI understands.
struct CliEnv {
  std::map<std::string, std::string> vars;
  static CliEnv from_process();  // reads getenv for the known names only
  std::string get(const std::string& name) const;
};

// Values given on the command line; unset = not given.
struct ConfigFlags {
  std::optional<std::string> data_dir, model, arch, text_model, models_dir, host, web_dir, precision;
  std::optional<int> port, threads;
  std::optional<std::string> vlm_base_url, vlm_model;
  std::optional<bool> reduced_decode;
};

// Builds the Config. InvalidArgument for a malformed config.json (named, with the
// offending key) or out-of-range values.
// read_config_file = false skips <data-dir>/config.json (commands that do not use an album).
Result<Config> load_config(const ConfigFlags& flags, const CliEnv& env, bool read_config_file = true);

// Default models dir from XDG_CACHE_HOME / HOME.
std::string models_dir_from_env(const CliEnv& env);

}  // namespace sa::cli
