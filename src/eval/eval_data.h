// The input files of `smart-album eval`, parsed from their text (no I/O here):
//   captions  JSON object: image file name -> a caption or a list of captions
//   labels    one class name a line (the line number, from 0, is the class index)
//   templates one prompt a line, "{}" where the class name goes
//   truth     JSON object: image file name -> 0-based class index
// Images are taken in byte order of their names (the gallery order that decides
// ties); a list of captions keeps its order. Errors are InvalidArgument naming the
// entry or line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sa::eval {

struct CaptionSet {
  std::vector<std::string> images;    // file names, sorted
  std::vector<std::string> texts;     // every caption, image by image
  std::vector<int> text_image;        // texts[t] describes images[text_image[t]]
};
Result<CaptionSet> parse_captions(std::string_view json);

// Non-empty lines, each stripped of surrounding whitespace (as Python's
// line.strip()); blank lines at the end are ignored, blank lines before the last
// class are an error (they would shift every later class index). `what` names the
// file kind in errors ("labels", "templates").
Result<std::vector<std::string>> parse_lines(std::string_view text, std::string_view what);

// parse_lines, and every template must contain "{}".
Result<std::vector<std::string>> parse_templates(std::string_view text);

struct Truth {
  std::vector<std::string> images;  // file names, sorted
  std::vector<int> classes;         // classes[i] is images[i]'s class
};
// Every index must be an integer in [0, n_classes).
Result<Truth> parse_truth(std::string_view json, int n_classes);

// Each "{}" in the template replaced by the class name.
std::string fill_template(std::string_view tmpl, std::string_view label);

// The text normalisation cn_clip's evaluation applies before tokenising
// (_preprocess_text in cn_clip/eval/data.py): curly double quotes become '"'.
// Lower-casing is left to the tokenizer, which does it the same way.
std::string eval_text(std::string_view text);

}  // namespace sa::eval
