#include "eval/eval_data.h"

#include <nlohmann/json.hpp>

namespace sa::eval {
namespace {

Result<nlohmann::json> parse_object(std::string_view text, std::string_view what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument(std::string(what) + ": not valid JSON");
  if (!j.is_object()) {
    return Status::InvalidArgument(std::string(what) + ": expected a JSON object of file name -> value");
  }
  if (j.empty()) return Status::InvalidArgument(std::string(what) + ": no entries");
  return j;
}

std::string_view strip(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<CaptionSet> parse_captions(std::string_view json) {
  SA_ASSIGN_OR_RETURN(nlohmann::json j, parse_object(json, "captions"));
  CaptionSet out;
  // nlohmann::json keeps object keys sorted (std::map): byte order of the names.
  for (auto it = j.begin(); it != j.end(); ++it) {
    const int image = static_cast<int>(out.images.size());
    out.images.push_back(it.key());
    auto add = [&](const nlohmann::json& v) -> Status {
      if (!v.is_string()) return Status::InvalidArgument("captions: \"" + it.key() + "\": a caption must be a string");
      if (strip(v.get_ref<const std::string&>()).empty()) {
        return Status::InvalidArgument("captions: \"" + it.key() + "\": empty caption");
      }
      out.texts.push_back(v.get<std::string>());
      out.text_image.push_back(image);
      return Status::OK();
    };
    if (it->is_array()) {
      if (it->empty()) return Status::InvalidArgument("captions: \"" + it.key() + "\": empty list");
      for (const auto& v : *it) SA_RETURN_IF_ERROR(add(v));
    } else {
      SA_RETURN_IF_ERROR(add(*it));
    }
  }
  return out;
}

Result<std::vector<std::string>> parse_lines(std::string_view text, std::string_view what) {
  std::vector<std::string> lines;
  int first_blank = 0;  // 1-based line number of a blank line not yet followed by text
  int line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    line = strip(line);
    if (line.empty()) {
      if (!first_blank) first_blank = line_no;
      continue;
    }
    if (first_blank) {
      return Status::InvalidArgument(std::string(what) + ": line " + std::to_string(first_blank) +
                                     " is blank (every line is one entry)");
    }
    lines.emplace_back(line);
  }
  if (lines.empty()) return Status::InvalidArgument(std::string(what) + ": no entries");
  return lines;
}

Result<std::vector<std::string>> parse_templates(std::string_view text) {
  SA_ASSIGN_OR_RETURN(std::vector<std::string> t, parse_lines(text, "templates"));
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i].find("{}") == std::string::npos) {
      return Status::InvalidArgument("templates: line " + std::to_string(i + 1) +
                                     " has no {} for the class name");
    }
  }
  return t;
}

Result<Truth> parse_truth(std::string_view json, int n_classes) {
  SA_ASSIGN_OR_RETURN(nlohmann::json j, parse_object(json, "truth"));
  Truth out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it->is_number_integer()) {
      return Status::InvalidArgument("truth: \"" + it.key() + "\": the class must be an integer index");
    }
    const int64_t c = it->get<int64_t>();
    if (c < 0 || c >= n_classes) {
      return Status::InvalidArgument("truth: \"" + it.key() + "\": class " + std::to_string(c) +
                                     " is not among the " + std::to_string(n_classes) + " labels");
    }
    out.images.push_back(it.key());
    out.classes.push_back(static_cast<int>(c));
  }
  return out;
}

std::string fill_template(std::string_view tmpl, std::string_view label) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = tmpl.find("{}", pos)) != std::string_view::npos; pos = hit + 2) {
    out.append(tmpl.substr(pos, hit - pos));
    out.append(label);
  }
  out.append(tmpl.substr(pos));
  return out;
}

std::string eval_text(std::string_view text) {
  static constexpr std::string_view kLeft = "\xE2\x80\x9C";   // U+201C
  static constexpr std::string_view kRight = "\xE2\x80\x9D";  // U+201D
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const std::string_view rest = text.substr(i);
    if (rest.starts_with(kLeft) || rest.starts_with(kRight)) {
      out.push_back('"');
      i += 3;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

}  // namespace sa::eval
