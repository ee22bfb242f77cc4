// Internal to src/model: the matrix product behind linear() and matmul_xwt
// (ops.h), with its few-row kernels. Products with few rows (text queries, the
// ViT's class tokens, the vector index's scan) run on the engine's own kernels,
// split between the calling thread and one long-lived helper thread; larger
// ones go to OpenBLAS.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/weights.h"

namespace sa {

// Output columns per panel of the fp16 copy (attach_fp16): a slice of a
// Linear's outputs can use the copy when it starts on a multiple of this.
constexpr int kFp16PanelCols = 16;

// Work on finished output columns: fn(ctx, y, m, ld, j0, j1) updates columns
// [j0, j1) of all m rows of y (row stride ld). A split product runs it on each
// block of columns right after computing it, on the same thread, while the
// block is in cache (bias + activation run in parallel, not after the join).
struct ColumnEpilogue {
  void (*fn)(const void* ctx, float* y, int m, int ld, int j0, int j1) = nullptr;
  const void* ctx = nullptr;
};

// y[m, n] = x[m, k] @ w[n, k]^T + beta * y (row stride n), then ep over all
// columns. w16: the fp16 panels of the same weights (attach_fp16), or null.
void gemm_xwt(const float* x, int m, const float* w, const uint16_t* w16, int n, int k, float beta,
              float* y, ColumnEpilogue ep = {});

// l's fp16 panels when attached (and matching its shape), else null.
const uint16_t* half_weights(const Linear& l);

}  // namespace sa
