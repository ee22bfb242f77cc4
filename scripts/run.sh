#!/usr/bin/env bash
# One command to install, build and run the album on http://127.0.0.1:5000.
#   ./scripts/run.sh                         # data in ./data, model ViT-B-16 (pulled if missing)
#   SMART_ALBUM_MODEL=/path/to/clip_cn_vit-b-16.pt ./scripts/run.sh --port 8080
# Extra arguments are passed to `smart-album serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
DATA_DIR="${SMART_ALBUM_DATA_DIR:-$PWD/data}"
MODEL="${SMART_ALBUM_MODEL:-ViT-B-16}"
args=(serve --data-dir "$DATA_DIR")
if [ -e "$MODEL" ] || ./build/smart-album models path "$MODEL" >/dev/null 2>&1 || ./build/smart-album models pull "$MODEL"; then
  args+=(--model "$MODEL")
else
  echo "[run] model '$MODEL' is not available; the album starts without search (see README: Models)" >&2
fi
[ -n "${SMART_ALBUM_TEXT_MODEL:-}" ] && args+=(--text-model "$SMART_ALBUM_TEXT_MODEL")
exec ./build/smart-album "${args[@]}" "$@"
