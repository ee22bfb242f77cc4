// OpenBLAS kernel choice. Debian's OpenBLAS 0.3.21 picks its kernels by CPU
// model number; on CPUs newer than it knows (e.g. the development VM's Xeon
// with AVX-512 and AMX) it falls back to "Prescott", its SSE3 kernels: sgemm
// then runs at ~22 GFLOP/s per core instead of ~100 (a ViT-B/16 image took
// 1.1-1.6 s instead of 0.2 s). The documented override, OPENBLAS_CORETYPE, is
// read only when the library loads, so a process fixes it by re-executing
// itself with the variable set, before it has done any work.
#pragma once

#include <string>

namespace sa {

// The OPENBLAS_CORETYPE this process should use: "SkylakeX" (AVX-512) or
// "Haswell" (AVX2 + FMA) when OpenBLAS fell back to a kernel set below what the
// CPU supports, else empty (also when OPENBLAS_CORETYPE is already set).
std::string blas_core_override();

// When blas_core_override() is non-empty: sets OPENBLAS_CORETYPE and execs
// /proc/self/exe with the same argv (returns only if that fails). Call first
// thing in main().
void reexec_for_blas_kernels(char** argv);

}  // namespace sa
