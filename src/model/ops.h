// Building blocks of the transformer forward passes (fp32, row-major).
//
// The compute functions work on caller-owned buffers and allocate nothing
// (`attention` takes an explicit scratch buffer; attach_fp16 is the one that
// allocates, once per weight at load). Matrix products (few_row_gemm.cpp) go to OpenBLAS
// (its own thread pool serves the large products), except products with few
// rows (text queries, class tokens: up to 32 rows, or 128 from the fp16 copy
// Linear::w16 when one is attached), which the few-row kernels stream faster,
// split over the calling thread and one helper thread of their own (never at
// the same time as an OpenBLAS call from the same caller), as are the heads of
// short-sequence attention; everything else runs on the calling thread,
// vectorised with AVX2/FMA when the compiler targets it and with a scalar
// fallback of the same formulas otherwise.
// Thread safety: any number of threads may call these at once.
#pragma once

#include <cstddef>
#include <cstdint>

#include <string>

#include "core/status.h"
#include "model/weights.h"

namespace sa {

enum class Act { kNone, kQuickGelu, kGeluErf };

// y[m, n_out] = act(x[m, n_in] @ l.w^T + l.b). x and y must not overlap.
void linear(const Linear& l, const float* x, int m, float* y, Act act = Act::kNone);

// y[m, r1 - r0] = x[m, n_in] @ l.w[r0:r1]^T + l.b[r0:r1]: a slice of the outputs
// (e.g. only k and v of a stacked qkv projection).
void linear_slice(const Linear& l, int r0, int r1, const float* x, int m, float* y);

// y[m, n_out] += x[m, n_in] @ l.w^T (+ l.b if add_bias): the residual connection
// fused into the GEMM. Callers that normalise y next pass add_bias = false and
// let add_bias_layer_norm add the bias, saving a pass over y.
void linear_accumulate(const Linear& l, const float* x, int m, float* y, bool add_bias = true);

// Fills l.w16 with the fp16 form of l.w when every value converts to fp16 and
// back bit-exactly (checkpoints stored in fp16), so that few-row products (text
// queries) read half the bytes of the same weights; otherwise, or when this
// build has no F16C kernel, leaves w16 empty and products keep reading w.
// w16 is packed for the few-row kernel (panels of 16 output columns, k-major;
// fp16_copy_halves values). Returns whether w16 was filled.
bool attach_fp16(Linear& l);

// Quantizes l.w to INT8 (int8_gemm.h: per output channel, symmetric) into
// l.q8; from then on linear / linear_slice / linear_accumulate on l run the
// INT8 kernels (activations quantized per row). Drops the fp16 copy, and the
// fp32 weights too when drop_fp32 (check_linear then checks the INT8 copy's
// shape instead). Returns whether l has an INT8 copy.
bool attach_int8(Linear& l, bool drop_fp32);

// On CPUs with AVX-512 (f32_gemm.h): moves l.w into l.p32, packed for the
// engine's fp32 GEMM, which then runs every product of l (OpenBLAS no more);
// l.w is released (same memory). Returns whether l has the packed copy.
bool attach_packed_f32(Linear& l);

// y[m, n] = x[m, k] @ w[n, k]^T with fp32 w (row-major, PyTorch layout): the
// few-row kernel and helper thread for up to 32 rows, OpenBLAS beyond. For
// callers outside the model with the same shape of work, e.g. the vector
// index scoring one query against every stored vector: routing that through
// cblas would wake OpenBLAS's pool, whose threads then spin for ~0.1 s and
// slow the next query's text encoding (search p99 82 -> 31 ms without them).
void matmul_xwt(const float* x, int m, const float* w, int n, int k, float* y);

// The same product with w given only as fp16 panels, the layout attach_fp16
// makes (panel c holds rows [16c, 16c + 16) of w k-major: w16[c * 16 * k +
// p * 16 + j] = w[16c + j][p]; rows past n are zero; fp16_copy_halves(n, k)
// halves). m <= 128. The vector index keeps its vectors this way (half the
// bytes of fp32 to stream per query). Without the F16C kernel
// (fp16_kernel_available() false) a scalar loop computes the same sums.
void matmul_xwt_fp16_panels(const float* x, int m, const uint16_t* w16, int n, int k, float* y);

// Size of the fp16 copy attach_fp16 makes of an [n_out, n_in] weight, in
// halves: n_out rounded up to 16, times n_in (0 without the F16C kernel).
size_t fp16_copy_halves(int n_out, int n_in);

// True when this build has the F16C few-row kernel that reads Linear::w16.
bool fp16_kernel_available();

// Row-wise LayerNorm over d: y = (x - mean) / sqrt(var + eps) * g + b, biased
// variance as torch.nn.LayerNorm. In place (x == y) is allowed.
void layer_norm(const LayerNormW& ln, const float* x, int m, int d, float eps, float* y);

// x[r] += bias (bias may be null), then y[r] = layer_norm(x[r]), in one pass
// per row. In place (x == y) is allowed.
void add_bias_layer_norm(float* x, const float* bias, const LayerNormW& ln, int m, int d,
                         float eps, float* y);

// In-place activations.
void quick_gelu(float* x, size_t n);  // x * sigmoid(1.702 x)  (OpenAI CLIP)
void gelu_erf(float* x, size_t n);    // 0.5 x (1 + erf(x / sqrt(2)))  (BERT "gelu")

// In-place softmax over each row of x [m, n] (row stride ld >= n).
void softmax_rows(float* x, int m, int n, int ld);

// Element-wise exp, max relative error ~2 ulp on [-87, 88]; inputs below clamp to
// ~1e-38, above to ~3e38. Exposed for tests.
void exp_inplace(float* x, size_t n);
// erf with absolute error < 5e-7 (GELU relative error < 3e-7). Exposed for tests.
void erf_inplace(float* x, size_t n);

// Multi-head self-attention of one unmasked sequence.
// qkv: [n_tok, ld_qkv] where columns [0,d) = q, [d,2d) = k, [2d,3d) = v, heads
// contiguous slices of d / heads columns. out: [n_tok, ld_out], columns [0,d)
// written. scratch: at least n_tok * n_tok floats.
void attention(const float* qkv, int ld_qkv, int n_tok, int d, int heads, float* out, int ld_out,
               float* scratch);

// attention() for n_seq sequences of n_tok tokens each, stacked: sequence b's
// rows start at qkv + b * n_tok * ld_qkv and out + b * n_tok * ld_out. The
// same results; all (sequence, head) pairs go to the threads at once.
void attention_batch(const float* qkv, int ld_qkv, int n_seq, int n_tok, int d, int heads,
                     float* out, int ld_out, float* scratch);

// The general form: n_q queries q [n_q, ld_q] attend over n_kv keys k and values
// v [n_kv, ld_kv]; out [n_q, ld_out]. scratch: at least n_q * n_kv floats.
void attention(const float* q, int ld_q, int n_q, const float* k, const float* v, int ld_kv,
               int n_kv, int d, int heads, float* out, int ld_out, float* scratch);

// Shape checks shared by the weight validators: `name` appears in the error.
// bias: true = b must have n_out entries; false = b must be empty or n_out.
// A Linear whose fp32 weights were dropped for its INT8 copy passes when the
// copy has the expected shape.
Status check_linear(const Linear& l, int n_out, int n_in, bool bias, const std::string& name);
Status check_layer_norm(const LayerNormW& ln, int d, const std::string& name);
Status check_size(const std::vector<float>& v, size_t n, const std::string& name);

}  // namespace sa
