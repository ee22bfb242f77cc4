#include "cli/cli_config.h"

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "hub/model_hub.h"

namespace sa::cli {
namespace {

constexpr const char* kEnvNames[] = {
    "SMART_ALBUM_DATA_DIR", "SMART_ALBUM_MODEL", "SMART_ALBUM_TEXT_MODEL",
    "SMART_ALBUM_MODELS_DIR", "SMART_ALBUM_PRECISION", "QWEN_BASE_URL", "QWEN_API_KEY", "DASHSCOPE_API_KEY",
    "QWEN_MODEL", "HF_ENDPOINT", "HF_TOKEN", "XDG_CACHE_HOME", "HOME"};

// Reads one optional key of the config file into `out`, checking its JSON type.
template <typename T>
Status read_key(const nlohmann::json& j, const char* key, T* out) {
  if (!j.contains(key) || j[key].is_null()) return Status::OK();
  const auto& v = j[key];
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return Status::InvalidArgument(std::string("config.json: '") + key + "' must be a string");
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) return Status::InvalidArgument(std::string("config.json: '") + key + "' must be true or false");
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) return Status::InvalidArgument(std::string("config.json: '") + key + "' must be a number");
  } else {
    if (!v.is_number_integer()) return Status::InvalidArgument(std::string("config.json: '") + key + "' must be an integer");
  }
  *out = v.get<T>();
  return Status::OK();
}

Status apply_config_file(const std::string& path, Config* cfg) {
  if (!file_exists(path)) return Status::OK();
  SA_ASSIGN_OR_RETURN(std::string text, read_file(path, 1u << 20));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(path + " is not a JSON object");
  }
  SA_RETURN_IF_ERROR(read_key(j, "model", &cfg->model));
  SA_RETURN_IF_ERROR(read_key(j, "arch", &cfg->arch));
  SA_RETURN_IF_ERROR(read_key(j, "text_model", &cfg->text_model));
  SA_RETURN_IF_ERROR(read_key(j, "precision", &cfg->precision));
  SA_RETURN_IF_ERROR(read_key(j, "models_dir", &cfg->models_dir));
  SA_RETURN_IF_ERROR(read_key(j, "host", &cfg->host));
  SA_RETURN_IF_ERROR(read_key(j, "port", &cfg->port));
  SA_RETURN_IF_ERROR(read_key(j, "threads", &cfg->threads));
  SA_RETURN_IF_ERROR(read_key(j, "embed_batch", &cfg->embed_batch));
  SA_RETURN_IF_ERROR(read_key(j, "reduced_decode", &cfg->reduced_decode));
  SA_RETURN_IF_ERROR(read_key(j, "max_upload_bytes", &cfg->max_upload_bytes));
  SA_RETURN_IF_ERROR(read_key(j, "max_pixels", &cfg->max_pixels));
  SA_RETURN_IF_ERROR(read_key(j, "ann_min_photos", &cfg->ann_min_photos));
  SA_RETURN_IF_ERROR(read_key(j, "ann_lists", &cfg->ann_lists));
  SA_RETURN_IF_ERROR(read_key(j, "ann_expected_misses", &cfg->ann_expected_misses));
  SA_RETURN_IF_ERROR(read_key(j, "ann_probe_fraction", &cfg->ann_probe_fraction));
  SA_RETURN_IF_ERROR(read_key(j, "web_dir", &cfg->web_dir));
  if (j.contains("vlm")) {
    const auto& v = j["vlm"];
    if (!v.is_object()) return Status::InvalidArgument("config.json: 'vlm' must be an object");
    SA_RETURN_IF_ERROR(read_key(v, "base_url", &cfg->vlm.base_url));
    SA_RETURN_IF_ERROR(read_key(v, "api_key", &cfg->vlm.api_key));
    SA_RETURN_IF_ERROR(read_key(v, "model", &cfg->vlm.model));
    SA_RETURN_IF_ERROR(read_key(v, "timeout_s", &cfg->vlm.timeout_s));
    SA_RETURN_IF_ERROR(read_key(v, "max_retries", &cfg->vlm.max_retries));
    SA_RETURN_IF_ERROR(read_key(v, "concurrency", &cfg->vlm.concurrency));
  }
  return Status::OK();
}

std::string default_web_dir() {
#ifdef SA_SOURCE_DIR
  return std::string(SA_SOURCE_DIR) + "/web";
#else
  return "web";
#endif
}

}  // namespace

CliEnv CliEnv::from_process() {
  CliEnv e;
  for (const char* name : kEnvNames) {
    if (const char* v = std::getenv(name)) e.vars[name] = v;
  }
  return e;
}

std::string CliEnv::get(const std::string& name) const {
  auto it = vars.find(name);
  return it == vars.end() ? "" : it->second;
}

std::string models_dir_from_env(const CliEnv& env) {
  return default_models_dir(env.get("XDG_CACHE_HOME"), env.get("HOME"));
}

Result<Config> load_config(const ConfigFlags& flags, const CliEnv& env, bool read_config_file) {
  Config cfg;
  // The data dir decides where config.json lives, so it is resolved first.
  if (flags.data_dir) cfg.data_dir = *flags.data_dir;
  else if (!env.get("SMART_ALBUM_DATA_DIR").empty()) cfg.data_dir = env.get("SMART_ALBUM_DATA_DIR");
  if (cfg.data_dir.empty()) return Status::InvalidArgument("--data-dir must not be empty");

  if (read_config_file) SA_RETURN_IF_ERROR(apply_config_file(cfg.data_dir + "/config.json", &cfg));

  auto env_over = [&](const char* name, std::string* field) {
    const std::string v = env.get(name);
    if (!v.empty()) *field = v;
  };
  env_over("SMART_ALBUM_MODEL", &cfg.model);
  env_over("SMART_ALBUM_TEXT_MODEL", &cfg.text_model);
  env_over("SMART_ALBUM_PRECISION", &cfg.precision);
  env_over("SMART_ALBUM_MODELS_DIR", &cfg.models_dir);
  env_over("QWEN_BASE_URL", &cfg.vlm.base_url);
  env_over("QWEN_MODEL", &cfg.vlm.model);
  env_over("DASHSCOPE_API_KEY", &cfg.vlm.api_key);
  env_over("QWEN_API_KEY", &cfg.vlm.api_key);  // the more specific name wins

  if (flags.model) cfg.model = *flags.model;
  if (flags.arch) cfg.arch = *flags.arch;
  if (flags.text_model) cfg.text_model = *flags.text_model;
  if (flags.precision) cfg.precision = *flags.precision;
  // Empty: the album's saved setting decides (serve, import), else fp32.
  if (!cfg.precision.empty() && cfg.precision != "fp32" && cfg.precision != "int8") {
    return Status::InvalidArgument("precision '" + cfg.precision + "' is not fp32 or int8");
  }
  if (flags.models_dir) cfg.models_dir = *flags.models_dir;
  if (flags.host) cfg.host = *flags.host;
  if (flags.port) cfg.port = *flags.port;
  if (flags.threads) cfg.threads = *flags.threads;
  if (flags.web_dir) cfg.web_dir = *flags.web_dir;
  if (flags.reduced_decode) cfg.reduced_decode = *flags.reduced_decode;
  if (flags.vlm_base_url) cfg.vlm.base_url = *flags.vlm_base_url;
  if (flags.vlm_model) cfg.vlm.model = *flags.vlm_model;

  if (cfg.models_dir.empty()) cfg.models_dir = models_dir_from_env(env);
  if (cfg.web_dir.empty()) cfg.web_dir = default_web_dir();
  if (cfg.port < 0 || cfg.port > 65535) return Status::InvalidArgument("port must be in [0, 65535]");
  if (cfg.threads < 0) return Status::InvalidArgument("threads must be >= 0");
  if (cfg.embed_batch < 1) return Status::InvalidArgument("embed_batch must be >= 1");
  if (cfg.max_upload_bytes < 1) return Status::InvalidArgument("max_upload_bytes must be >= 1");
  return cfg;
}

}  // namespace sa::cli
