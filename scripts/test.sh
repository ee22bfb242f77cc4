#!/usr/bin/env bash
# One command to install, build and run every test: the file readers and decoders
# under AddressSanitizer + UBSan first, the engine's threaded kernels under
# ThreadSanitizer, then unit, integration and browser (e2e) tests through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

echo "[test] AddressSanitizer + UBSan build of the readers, decoders and stores"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSA_ASAN=ON -DSA_BUILD_BENCH=OFF >/dev/null
# The target list is read once into a variable: `ninja ... | grep -q` under pipefail
# fails at random (grep exits at its first match, ninja gets SIGPIPE) and used to
# skip targets silently.
all_targets=$(ninja -C build-asan -t targets all 2>/dev/null)
asan_targets=()
for t in test_core test_model test_image test_store test_index test_vlm; do
  grep -q "^tests/$t:\|^$t:" <<<"$all_targets" && asan_targets+=("$t")
done
[ "${#asan_targets[@]}" -eq 6 ] || { echo "[test] ASan targets missing: found ${asan_targets[*]}" >&2; exit 1; }
ninja -C build-asan -j"$(nproc)" "${asan_targets[@]}"
for t in "${asan_targets[@]}"; do
  echo "[asan] $t"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp" UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build-asan/tests/$t" --gtest_brief=1
done

echo "[test] ThreadSanitizer build of the engine (few-row, packed fp32, INT8 and attention kernels on two threads)"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSA_TSAN=ON -DSA_BUILD_BENCH=OFF >/dev/null
ninja -C build-tsan -j"$(nproc)" test_model
TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/test_model --gtest_brief=1 \
  --gtest_filter='Fp16Linear.*:Bert.*:Ops.*:Layouts/ClipGolden.*:Vit.*:Int8Gemm.*:F32Packed.*:Layouts/ClipInt8Golden.*:Int8Load.*:I8Scan.*'

echo "[test] unit, integration and e2e tests"
cd build
ctest --output-on-failure -j2 --timeout 600
echo "[test] e2e screenshots and the 10,000-photo numbers: build/e2e-artifacts/, build/e2e-screenshots/ (keep them as CI artifacts)"
