#include "model/blas_setup.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace sa {

std::string blas_core_override() {
  if (std::getenv("OPENBLAS_CORETYPE")) return "";
  const char* core = openblas_get_corename();
  if (!core) return "";
  // OpenBLAS's x86-64 kernel sets older than Haswell: what it falls back to.
  static const char* const kGeneric[] = {"Prescott", "Core2",   "Penryn",  "Dunnington",
                                         "Nehalem",  "Atom",    "Banias",  "Katmai",
                                         "Coppermine", "Northwood", "Sandybridge", "Unknown"};
  bool generic = false;
  for (const char* g : kGeneric) generic = generic || strcasecmp(core, g) == 0;
  if (!generic) return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

void reexec_for_blas_kernels(char** argv) {
  const std::string core = blas_core_override();
  if (core.empty() || !argv || !argv[0]) return;
  if (setenv("OPENBLAS_CORETYPE", core.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // exec failed: carry on with what we have
}

}  // namespace sa
