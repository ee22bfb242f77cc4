// The vector index's scan kernel (issue 16): one fp32 query against many int8
// vectors, each with its own scale, stored in the 16-column panel layout of the
// fp16 few-row kernel (ops.h): panel c holds vectors [16c, 16c + 16) k-major,
//   panels[c * 16 * k + p * 16 + j] = component p of vector 16c + j
// (vectors past n are zero). Lives in the model module so that the index and
// the towers share one place for their SIMD code and one helper thread.
#pragma once

#include <cstdint>

namespace sa {

// Vectors per panel of the int8 (and fp16) scan layout.
constexpr int kScanPanelCols = 16;

// y[j] = scales[j] * sum_p q[p] * panels(j, p) for j in [0, n), k components.
// Sums in fp32, in an order that depends on the CPU's kernel (AVX-512, AVX2 or
// scalar): results agree within k * 2^-23 * sum_p |q[p] * scales[j] * w|.
// Large scans are split over the calling thread and the engine's helper thread.
void score_i8_panels(const float* q, const int8_t* panels, const float* scales, int64_t n, int k, float* y);

// Several scans with one query at once (the IVF lists a search reads in one
// batch, each too short to split on its own): segment i scores n vectors at
// panels/scales into y, as score_i8_panels would; the pieces of all segments
// are shared between the two threads.
struct I8Segment {
  const int8_t* panels;
  const float* scales;
  int64_t n;
  float* y;
};
void score_i8_segments(const float* q, const I8Segment* segments, int count, int k);

// The scalar reference of the same sums (tests).
void score_i8_panels_reference(const float* q, const int8_t* panels, const float* scales, int64_t n, int k,
                               float* y);

}  // namespace sa
