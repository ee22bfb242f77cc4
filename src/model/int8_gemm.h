// INT8 matrix products (the `--precision int8` engine): weights quantized once
// per output channel (symmetric, scale = max|w| / 127), activations per row at
// each product (symmetric, scale = max|x| / 127), int32 accumulation, fp32
// epilogue (scales, bias, residual, activation) on the registers' way out.
//
// Kernels, picked at run time from what the CPU and OS offer:
// - kAmx: Intel AMX tiles (tdpbssd, s8 x s8), 32 x 32 output blocks;
// - kAvx512Vnni: vpdpbusd (u8 x s8 -> int32: activations stored +128, the
//   offset taken back with each column's weight sum), 8 x 32 register blocks;
// - kAvx2: vpmaddwd on sign-extended int16 (no vpmaddubsw: its int16 pair
//   sums saturate at u8 x s8 = 255 x 127 x 2), 4 x 16 blocks;
// - kReference: portable scalar code, the tests' yardstick.
// Every kernel computes the same int32 sums, so results agree bit for bit
// before the fp32 epilogue, which all share.
// Thread safety: any number of threads may call gemm_q8 at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/ops.h"
#include "model/weights.h"

namespace sa {

// Output columns per packed panel. A slice of a quantized Linear's outputs
// (linear_slice) can use the int8 weights when it starts on a multiple of this.
constexpr int kQ8PanelCols = 16;

enum class Q8Kernel { kReference, kAvx2, kAvx512Vnni, kAmx };
const char* q8_kernel_name(Q8Kernel k);

// The fastest kernel this CPU and OS support (AMX asks the kernel for tile
// state once). SA_INT8_KERNEL=ref|avx2|vnni|amx in the environment caps it
// (for comparisons); a kernel the machine lacks is never chosen.
Q8Kernel q8_best_kernel();
bool q8_kernel_supported(Q8Kernel k);

// Quantizes w [n, k] (row-major, PyTorch layout) into *out.
void q8_quantize_weights(const float* w, int n, int k, Q8Weights* out);

// y[m, j] = act(x[m, k] @ W^T[:, j] + beta * y + bias[j]) for columns
// j in [col0, col0 + n_cols) of the quantized weights (col0 a multiple of 16),
// written to y with row stride ldy at y[r * ldy + (j - col0)]. bias is indexed
// from col0 (bias[0] is column col0's). Splits the work over the calling
// thread and the few-row helper thread.
void gemm_q8(const float* x, int m, const Q8Weights& w, int col0, int n_cols, float beta, float* y,
             int ldy, const float* bias, Act act);

// The same with a chosen kernel (tests, benchmarks); it must be supported.
void gemm_q8_with(Q8Kernel kernel, const float* x, int m, const Q8Weights& w, int col0,
                  int n_cols, float beta, float* y, int ldy, const float* bias, Act act);

}  // namespace sa
