// Observing the decode memory budget of image.h (image_set_decode_budget), for tests
// and diagnostics. Kept apart from image.h so that what most code includes stays small.
#pragma once

#include <cstdint>

namespace sa {

// The most the decode budget held at once since the last reset: bytes reserved and
// decodes running. reset: start over from what is held now. limit is the budget's
// current size. Thread-safe.
struct DecodeBudgetPeaks {
  int64_t limit = 0;
  int64_t reserved = 0;
  int active = 0;
};
DecodeBudgetPeaks image_decode_budget_peaks(bool reset = false);

}  // namespace sa
