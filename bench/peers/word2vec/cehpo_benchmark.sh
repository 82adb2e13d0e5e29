#!/usr/bin/env bash
# NativeProb — MIT License.
# CEHPO benchmark on sotu.txt (not a test): the full grid of 108 configurations is the reference; CEHPO
# and random search each get a budget of a third of the grid (36 trainings), over several search seeds.
# All runs share one JSON-lines trial log, so every configuration is trained once and the script can be
# interrupted and rerun (it resumes).
#   bench/peers/word2vec/cehpo_benchmark.sh [OUT_DIR] [OBJECTIVE] [TAG] [extra search options, e.g. --ce-iid]
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=${1:-out/cehpo}
OBJECTIVE=${2:-similarity}
TAG=${3:-distinct}
shift $(( $# < 3 ? $# : 3 ))
NP=${NP:-src/NativeProb.Cli/bin/Release/net10.0/nativeprob}
[ -x "$NP" ] || dotnet build src/NativeProb.Cli -c Release --nologo -v q
mkdir -p "$OUT"
"$NP" word2vec search --corpus ../shared/data/sotu.txt --normalize --objective "$OBJECTIVE" \
  --windows 2,3,5,8 --dims 25,50,100 --samples 1e-5,1e-4,1e-3 --negatives 2,5,10 --epochs 2 --min-counts 5 \
  --full-grid --strategy ce,random --budget 36 --search-seeds 1,2,3,4,5 \
  --parallel "${PARALLEL:-$(nproc)}" --threads-per-trial 1 --seed 1 \
  --log "$OUT/trials-$OBJECTIVE.jsonl" --json "$OUT/search-$OBJECTIVE-$TAG.json" --report "$OUT/report-$OBJECTIVE-$TAG" "$@"
