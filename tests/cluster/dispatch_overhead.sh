#!/usr/bin/env bash
# NativeProb — MIT License.
# Measures the cluster's dispatch overhead (a benchmark, not a test): a Redis store and N workers on this
# machine (default 2), then a grid search of 32 tiny trials (the first 10 lines of sotu.txt, one epoch) so
# that almost every trial waits for a worker. The coordinator reports, for each trial that waited, the time
# from the end of the worker's previous trial to the start of this one, by the worker's clock.
# Usage: tests/cluster/dispatch_overhead.sh [WORKERS] [Release|Debug]
workers=${1:-2}
config=${2:-Release}
source "$(dirname "$0")/lib.sh"

start_store
for i in $(seq 1 "$workers"); do start_worker "$i" bench; done
wait_ready $(seq 1 "$workers")
head -n 10 "$data/sotu.txt" > "$work/tiny.txt"
timeout 300 "${cli[@]}" word2vec search --cluster "$store" --cluster-id bench --corpus "$work/tiny.txt" --normalize \
  --similarity "$data/wordsim353.tsv" --strategy grid --budget 32 --windows 1,2,3,4 --dims 4,8 --samples 1e-3,1e-4 \
  --negatives 1,2 --epochs 1 --min-counts 2 --log "$work/trials.jsonl" --json "$work/search.json" > "$work/coordinator.log" 2>&1 \
  || fail "the search failed"
grep 'dispatch overhead' "$work/coordinator.log" || fail "no dispatch overhead reported"
seconds=$(grep -o '"seconds":[0-9.]*' "$work/trials.jsonl" | sed 's/.*://' | awk '{ s += $1 } END { printf "%.3f", s / NR }')
echo "mean trial time on a worker: $seconds s over $(grep -c '"key"' "$work/trials.jsonl") trials; $workers worker(s); $(lscpu | sed -n 's/^Model name: *//p')"
