#!/usr/bin/env bash
# Installs every Debian and npm dependency of smart-album (Debian 12). Idempotent:
# apt runs only when a package is missing; npm only when node_modules is stale.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libvips-dev libsqlite3-dev libfaiss-dev libopenblas-dev libcpp-httplib-dev
  libcurl4-openssl-dev nlohmann-json3-dev libsentencepiece-dev libutf8proc-dev
  libcli11-dev libspdlog-dev libssl-dev libsodium-dev libgtest-dev libgmock-dev libbenchmark-dev
  libminizip-dev
  nodejs npm chromium
  fonts-noto-cjk
)
# fonts-noto-cjk: the page is Chinese; without a CJK font the e2e screenshots
# (build/e2e-artifacts/, build/e2e-screenshots/) show boxes instead of text.

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere (e.g. a preinstalled Node.js); don't fight it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if ((${#missing[@]})); then
  echo "[deps] installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[deps] Debian packages present"
fi

if [ -f package.json ]; then
  if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "[deps] npm install (playwright-core; uses Debian's chromium, downloads no browser)"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error || \
      PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error
  fi
fi
