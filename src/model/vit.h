// ViT image tower of (Chinese-)CLIP, OpenAI-CLIP style, fp32 on OpenBLAS.
#pragma once

#include "core/status.h"
#include "model/weights.h"

namespace sa {

// Checks that every tensor of `w` has the size its config implies (and that the
// config itself is sane), naming the first offending tensor.
Status validate_vit(const VitWeights& w);

// attach_int8 (ops.h) on the four projections of every block: vit_forward then
// runs them on the INT8 kernels, and the patch embedding too (pixels quantize
// per patch as well as activations do: random ViT-B-16, cosine to fp32 with
// and without it alike). The final projection stays fp32. Returns how many
// Linears have an INT8 copy.
int vit_attach_int8(VitWeights& w, bool drop_fp32);

// attach_packed_f32 (ops.h) on the patch embedding and the four projections of
// every block: the fp32 image tower then runs on the engine's AVX-512 GEMM
// where the CPU has it (else nothing changes). Returns how many were packed.
int vit_attach_packed_f32(VitWeights& w);

// pixels: [n, 3, R, R] channel-major (R = cfg.image_size), preprocessed.
// out: [n, embed_dim] = ln_post(class token) @ proj^T, raw (not normalised).
// Weights must have passed validate_vit. Memory use grows linearly with n
// (~7 MB of activations per ViT-B/16 image); callers batch large inputs.
void vit_forward(const VitWeights& w, const float* pixels, int n, float* out);

}  // namespace sa
