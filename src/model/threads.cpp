#include "model/threads.h"

extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
}

namespace sa {

void set_engine_threads(int n) {
  if (n > 0) openblas_set_num_threads(n);
}

int engine_threads() { return openblas_get_num_threads(); }

}  // namespace sa
