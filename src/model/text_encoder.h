// The sentence-embedding hook shared by the jobs (description vectors) and the
// searcher (query vectors). A std::function so neither module depends on how the
// model is loaded; the app binds it to a SentenceEmbedder.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sa {

// Encodes texts to L2-normalised vectors, row-major [texts.size() x dim].
using TextEncoder = std::function<Status(const std::vector<std::string>& texts, std::vector<float>* out)>;

}  // namespace sa
