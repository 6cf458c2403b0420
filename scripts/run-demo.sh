#!/usr/bin/env bash
# `make run`: the demo origin on 127.0.0.1:9000 and mcpage in front of it on
# 127.0.0.1:8080. Ctrl-C stops both.
set -euo pipefail
bin=${1:-bin}
"$bin/demo-origin" -listen 127.0.0.1:9000 &
origin=$!
trap 'kill $origin 2>/dev/null || true' EXIT
cat <<MSG

mcpage is starting on http://127.0.0.1:8080 in front of the demo origin (127.0.0.1:9000). Try:

  curl -si http://127.0.0.1:8080/ | grep -i -e x-cache -e generated     # MISS, then HIT on the second run
  curl -si http://127.0.0.1:8080/page/20000 --compressed -o /dev/null -w '%{http_code} %{size_download}\n'
  curl -si http://127.0.0.1:8080/private | grep -i x-cache              # never cached (Set-Cookie, private)
  curl -s  http://127.0.0.1:8080/stats                                  # requests that reached the origin

MSG
"$bin/mcpage" -listen 127.0.0.1:8080 -upstream 127.0.0.1:9000
