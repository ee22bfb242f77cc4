#!/usr/bin/env bash
# Peak RSS of `smart-album serve` (tiny model) while 8 clients upload 8 different
# ~100-Mpx PNGs (9999x9999, ~300 KB each: decompression bombs just under the pixel
# limit) at the same time. Prints VmHWM of the server process. Issue 11, item 4.
#   bench/peak_rss_uploads.sh [build-dir]      (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build}/smart-album
tmp=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
w = h = 9999
for i in range(8):
    c = zlib.compressobj(9)
    row0 = b"\0" + bytes([i + 1, 2, 3]) + bytes(w * 3 - 3)  # a distinct first pixel
    row = b"\0" + bytes(w * 3)
    data = c.compress(row0) + b"".join(c.compress(row) for _ in range(h - 1)) + c.flush()
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", data) + chunk(b"IEND", b"")
    open(f"{sys.argv[1]}/bomb{i}.png", "wb").write(png)
PY
ls -l "$tmp"/bomb0.png | awk '{print "each PNG: " $5 " bytes, 9999x9999"}'
port=$((20000 + RANDOM % 20000))
"$bin" serve --data-dir "$tmp/album" --port $port --auth off \
  --model "$here/tests/data/clip/tiny-b16/hf-safetensors" > "$tmp/serve.log" 2>&1 &
srv=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/health" > /dev/null && break; sleep 0.1; done
grep VmHWM /proc/$srv/status | awk '{print "idle server peak RSS: " $2/1024 " MiB"}'
start=$(date +%s.%N)
for i in $(seq 0 7); do
  curl -s -o "$tmp/r$i.json" -F "files=@$tmp/bomb$i.png" "http://127.0.0.1:$port/api/photos" &
done
wait $(jobs -p | grep -v "^$srv$") 2>/dev/null || true
end=$(date +%s.%N)
for i in $(seq 0 7); do head -c 200 "$tmp/r$i.json"; echo; done
grep VmHWM /proc/$srv/status | awk '{print "peak RSS after 8 parallel uploads: " $2/1024 " MiB"}'
echo "wall: $(echo "$end - $start" | bc) s"
