#!/usr/bin/env bash
# NativeProb — MIT License.
# CTest docs_api: the API reference pages. docfx (pinned in .config/dotnet-tools.json, restored here) reads the
# XML docs of the NativeProb and NativeProb.OpenCL projects and the pages in docs/ (docs/docfx.json) and writes
# the site into OUT_DIR/_site; any warning (a broken cref or link, a missing page) fails the run.
#   docs/build-docs.sh OUT_DIR
set -euo pipefail
out=$(realpath -m "${1:?usage: build-docs.sh OUT_DIR}")
cd "$(dirname "$0")/.."
dotnet tool restore >/dev/null
rm -rf docs/obj docs/api/*.yml docs/api/.manifest "$out"
dotnet tool run docfx docs/docfx.json --warningsAsErrors --output "$out"
test -s "$out/_site/api/NativeProb.Attention.FlashAttention.html"
test -s "$out/_site/api/NativeProb.OpenCL.OpenClDevice.html"
echo "API reference written to $out/_site"
