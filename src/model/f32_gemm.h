// The engine's own fp32 GEMM for the image tower's projections (M = 197 x
// batch rows, K and N in 768..3072 for ViT-B/16), used instead of OpenBLAS on
// CPUs with AVX-512: weights packed once at load into panels of 32 output
// columns (k-major); per work item (up to 96 rows, 48 at K > 1024, by a run of
// panels) the rows of x are copied into 12-row blocks of 16-value steps (a
// memcpy's cost; the kernel's broadcasts then read contiguous memory), and a
// 12 x 32 register-blocked micro-kernel (24 zmm accumulators; per k two panel
// loads, twelve broadcasts, the panel prefetched 2 KB ahead) runs each block
// over the whole of K; bias, residual and activation are applied as the block
// leaves the registers. Items (~48 or more per product) go to the calling
// thread and the few-row helper thread from a shared counter. No OpenBLAS pool
// is woken, so nothing spins on the second core between products.
// Thread safety: any number of threads may call gemm_f32_packed at once.
#pragma once

#include <cstddef>

#include "model/ops.h"

namespace sa {

constexpr int kF32PanelCols = 32;

// Whether this build and CPU run the packed kernel (AVX-512F; SA_NO_AVX512
// in the environment says no).
bool f32_packed_available();

// Floats of the packed copy of an [n, k] weight: n rounded up to 32, times k.
size_t f32_packed_floats(int n, int k);

// Packs w [n, k] (row-major) into out[f32_packed_floats(n, k)]:
// out[(c * k + p) * 32 + j] = w[32 c + j][p], zeros for columns past n.
void f32_pack(const float* w, int n, int k, float* out);

// y[r * ldy + j] = act(x[r, :] . W[col0 + j, :] + beta * y + bias[j]) for
// r < m, j < n_cols, from the packed W of n_total columns. col0 must be a
// multiple of 32. bias is indexed from col0 (may be null). Requires
// f32_packed_available().
void gemm_f32_packed(const float* x, int m, const float* panels, int n_total, int k, int col0,
                     int n_cols, float beta, float* y, int ldy, const float* bias, Act act);

}  // namespace sa
