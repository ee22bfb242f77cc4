// The inference engine's share of the thread budget (decided by the app,
// app/thread_budget.h): the size of OpenBLAS's pool, which also decides the
// few-row helper thread (few_row_gemm.cpp starts it only when the pool may use
// two or more threads).
#pragma once

namespace sa {

// n > 0: OpenBLAS uses at most n threads. n <= 0: OpenBLAS's own default is kept
// (OPENBLAS_NUM_THREADS, else every core). Call before the first inference: the
// helper thread is decided once, at the first few-row product.
void set_engine_threads(int n);
int engine_threads();  // OpenBLAS's current pool size

}  // namespace sa
