#!/usr/bin/env bash
# Fill backend/static/vendor/ with the pinned browser libraries the pages serve
# (no CDN at run time). Installs from the npm registry with the lock file into a
# temporary directory, copies the built files, and does nothing when the wanted
# version is already in place. Run from anywhere; needs Python 3, and node and
# npm only when the files have to be fetched.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$repo/backend/static/vendor"
stamp="$vendor/.versions"
# The wanted versions, written as JSON.stringify writes them (the stamp format):
# read with Python so that a machine with the files in place needs no node.
wanted="$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["dependencies"], separators=(",", ":")), end="")' "$repo/package.json")"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -f "$vendor/echarts.min.js" ]]; then
  echo "web assets up to date: $wanted"
  exit 0
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "web assets missing: $vendor needs $wanted, fetched with node and npm," >&2
  echo "which are not installed (Debian: apt-get install nodejs npm), then run $0 again" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$repo/package.json" "$work/"
if [[ -f "$repo/package-lock.json" ]]; then
  cp "$repo/package-lock.json" "$work/"
  (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
else
  (cd "$work" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$work/package-lock.json" "$repo/package-lock.json"
fi

mkdir -p "$vendor"
cp "$work/node_modules/echarts/dist/echarts.min.js" "$vendor/echarts.min.js.tmp"
cp "$work/node_modules/echarts/LICENSE" "$vendor/echarts.LICENSE.txt"
mv "$vendor/echarts.min.js.tmp" "$vendor/echarts.min.js"
printf '%s' "$wanted" > "$stamp"
echo "web assets installed into $vendor: $wanted"
