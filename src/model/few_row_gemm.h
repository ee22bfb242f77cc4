// Internal to src/model: the matrix product behind linear() and matmul_xwt
// (ops.h), with its few-row kernels. Products with few rows (text queries, the
// ViT's class tokens, the vector index's scan) run on the engine's own kernels,
// split between the calling thread and one long-lived helper thread; larger
// ones go to OpenBLAS.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/ops.h"
#include "model/weights.h"

namespace sa {

// Output columns per panel of the fp16 copy (attach_fp16): a slice of a
// Linear's outputs can use the copy when it starts on a multiple of this.
constexpr int kFp16PanelCols = 16;

// y[m, n] = act(x[m, k] @ w[n, k]^T + beta * y + bias) (row stride n; bias
// may be null). w16: the fp16 panels of the same weights (attach_fp16), or
// null. The fp16 kernel applies bias and activation to its accumulators before
// storing them, on whichever thread computed the columns; the other paths do it
// in a pass over y afterwards.
void gemm_xwt(const float* x, int m, const float* w, const uint16_t* w16, int n, int k, float beta,
              float* y, const float* bias = nullptr, Act act = Act::kNone);

// Runs fn(ctx, i) once for every i in [0, n), on the calling thread and, when
// it is free, the helper thread of the few-row products; returns when all are
// done. fn must be safe to run for different i at once.
void parallel_for(int n, void (*fn)(const void* ctx, int i), const void* ctx);

// l's fp16 panels when attached (and matching its shape), else null.
const uint16_t* half_weights(const Linear& l);

}  // namespace sa
