// `smart-album eval`: the numbers Chinese-CLIP publishes, on the user's own photos.
//
// Reads the images named by a captions or truth file from a folder, embeds them
// with the same decode + preprocessing as import (image/clip_preprocess.h), embeds
// the captions or the filled-in templates with the text tower, and scores them with
// eval/metrics.h. Embeddings are L2-normalised before scoring, as cn_clip's
// extract_features.py and zeroshot_evaluation.py do.
//
// Not thread-safe with other inference on the same ChineseClip (one thread budget);
// decoding of the next batch overlaps the encoding of the current one.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/eval_data.h"
#include "eval/metrics.h"
#include "image/image.h"

namespace sa {
class ChineseClip;
}

namespace sa::eval {

struct EvalOptions {
  int image_batch = 8;
  DecodeLimits limits;
  // Called after each batch: what is being embedded ("images", "texts"), done, total.
  std::function<void(std::string_view stage, int done, int total)> progress;
};

// Embeds the files (paths) as the album does; returns [paths.size(), dim], rows
// L2-normalised. Errors name the file (IOError, InvalidArgument, ResourceExhausted).
Result<std::vector<float>> embed_image_files(const ChineseClip& clip, const std::vector<std::string>& paths,
                                             const EvalOptions& opt);

// eval_text() then the tokenizer then the text tower; rows L2-normalised.
Result<std::vector<float>> embed_eval_texts(const ChineseClip& clip, const std::vector<std::string>& texts,
                                            const EvalOptions& opt);

// folder/<name> for every name in the captions file.
Result<RetrievalScores> evaluate_captions(const ChineseClip& clip, const std::string& folder,
                                          const CaptionSet& captions, const EvalOptions& opt);

// Every template filled with every label; templates empty = the single prompt
// kDefaultTemplate. folder/<name> for every name in the truth file.
inline constexpr std::string_view kDefaultTemplate = "{}的照片。";
Result<ZeroShotScores> evaluate_zero_shot(const ChineseClip& clip, const std::string& folder,
                                          const std::vector<std::string>& labels,
                                          const std::vector<std::string>& templates, const Truth& truth,
                                          const EvalOptions& opt);

}  // namespace sa::eval
