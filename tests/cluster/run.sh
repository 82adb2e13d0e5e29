#!/usr/bin/env bash
# NativeProb — MIT License.
# The cluster search under faults (CTest label "cluster"). Starts a Redis server on a free loopback port
# and three `nativeprob worker` processes, runs a CEHPO search with budget 12 (three rounds of 4, one
# training thread per trial) as `word2vec search --cluster`, kills the coordinator with SIGKILL once and
# restarts it with the same arguments, kills a worker with SIGKILL while it trains a trial of the running
# coordinator and starts a fourth worker in its place. Checks: the trial log holds exactly 12 distinct
# finished trials (in the coordinator's file and in the store); the restarted coordinator resumed from it;
# the lost trial was dispatched again and logged once; the late worker got trials; the best configuration
# and score equal those of the single-machine search with the same seed. Then a coordinator with an empty
# --log resumes all 12 from the store and trains none. Every process it starts is stopped on exit.
# Usage: tests/cluster/run.sh [Release|Debug]
config=${1:-Release}
source "$(dirname "$0")/lib.sh"

finished() { [ -f "$work/cluster.jsonl" ] && [ "$(grep -c '"key"' "$work/cluster.jsonl")" -ge "$1" ]; }

start_store
cluster_id="ctest-$$"

# A small corpus (the first 200 lines of sotu.txt) and a 16-configuration grid: trials of a few seconds.
head -n 200 "$data/sotu.txt" > "$work/corpus.txt"
search=(word2vec search --corpus "$work/corpus.txt" --normalize --objective similarity --similarity "$data/wordsim353.tsv"
        --strategy ce --budget 12 --ce-samples 4 --ce-patience 5 --search-seeds 1 --seed 1 --threads-per-trial 1
        --windows 2,5 --dims 16,32 --samples 1e-3,1e-4 --negatives 3,5 --epochs 4 --min-counts 3)

echo "== single-machine search (the reference)"
timeout 300 "${cli[@]}" "${search[@]}" --parallel 2 --log "$work/local.jsonl" --json "$work/local.json" > "$work/local.log" 2>&1 \
  || fail "the single-machine search failed"

echo "== store on $store; starting three workers"
for i in 1 2 3; do start_worker $i "$cluster_id"; done
wait_ready 1 2 3

coordinator=("${cli[@]}" "${search[@]}" --cluster "$store" --cluster-id "$cluster_id" --log "$work/cluster.jsonl" --json "$work/cluster.json")

echo "== coordinator, first run: SIGKILL after 2 finished trials"
"${coordinator[@]}" > "$work/coordinator1.log" 2>&1 &
c1=$!
pids+=($c1)
wait_for 120 finished 2 || fail "the first coordinator finished no 2 trials"
kill -KILL "$c1"
set +e; wait "$c1"; c1_code=$?; set -e
[ "$c1_code" -eq 137 ] || fail "the first coordinator was not killed by SIGKILL (exit $c1_code)"
before=$(grep -c '"key"' "$work/cluster.jsonl")
echo "   killed with $before trial(s) in the log"

echo "== coordinator, restarted with the same arguments"
"${coordinator[@]}" > "$work/coordinator2.log" 2>&1 &
c2=$!
pids+=($c2)

# A worker training a trial that the restarted coordinator dispatched to it and that is not logged yet.
victim=""
pick_victim() {
  local i name key
  for i in 1 2 3; do
    name=$(sed -n 's/^worker \(.*\) ready.*/\1/p' "$work/worker$i.log")
    key=$(grep '^trial ' "$work/worker$i.log" | tail -n 1 | sed -n 's/^trial start \([^ ]*\)$/\1/p')
    [ -n "$key" ] || continue
    grep -q "\"key\":\"$key\"" "$work/cluster.jsonl" && continue
    grep -q "trial $key -> $name\$" "$work/coordinator2.log" || continue
    victim=$i victim_name=$name victim_key=$key
    return 0
  done
  return 1
}
wait_for 120 finished $((before + 1)) || fail "the restarted coordinator finished no trial"
wait_for 120 pick_victim || fail "no worker was training a trial of the restarted coordinator"
victim_pid_var="worker_pid_$victim"
kill -KILL "${!victim_pid_var}"
echo "   SIGKILL to $victim_name while it trained $victim_key"

# A worker that joins mid-search gets trials from the next dispatch on.
start_worker 4 "$cluster_id"

wait_for 300 exited "$c2" || fail "the restarted coordinator did not finish within 300 s (was the lost trial dispatched again?)"
set +e; wait "$c2"; c2_code=$?; set -e
[ "$c2_code" -eq 0 ] || fail "the restarted coordinator failed (exit $c2_code)"

echo "== checks"
lines=$(grep -c '"key"' "$work/cluster.jsonl")
distinct=$(grep -o '"key":"[^"]*"' "$work/cluster.jsonl" | sort -u | wc -l)
[ "$lines" -eq 12 ] || fail "the trial log holds $lines finished trials, expected 12"
[ "$distinct" -eq 12 ] || fail "the trial log holds $distinct distinct trials, expected 12"
json_field() { grep -o "\"$2\": *[^,}]*" "$1" | head -n 1 | sed 's/^[^:]*: *//'; }
resumed=$(json_field "$work/cluster.json" trials_resumed)
[ "${resumed:-0}" -ge 2 ] || fail "the restarted coordinator resumed ${resumed:-no} trial(s), expected at least 2"
grep -q "worker $victim_name left the cluster during trial $victim_key; dispatching it again" "$work/coordinator2.log" \
  || fail "the trial $victim_key of the killed worker was not dispatched again"
[ "$(grep -c "\"key\":\"$victim_key\"" "$work/cluster.jsonl")" -eq 1 ] || fail "$victim_key is not logged exactly once"
again=$(grep -l "^trial start $victim_key\$" "$work"/worker*.log | grep -v "worker$victim.log" | head -n 1)
late=$(grep -c '^trial start ' "$work/worker4.log" || true)
[ "$late" -ge 1 ] || fail "the worker that joined mid-search got no trial"
[ -n "$again" ] || fail "no other worker trained $victim_key"
fp_local=$(grep -o '"fingerprint":"[^"]*"' "$work/local.jsonl" | sort -u)
fp_cluster=$(grep -o '"fingerprint":"[^"]*"' "$work/cluster.jsonl" | sort -u)
[ "$fp_local" = "$fp_cluster" ] || fail "objective fingerprints differ: $fp_local / $fp_cluster"
for field in best best_score trainings; do
  l=$(json_field "$work/local.json" "$field"); c=$(json_field "$work/cluster.json" "$field")
  [ -n "$l" ] && [ "$l" = "$c" ] || fail "$field: single machine $l, cluster $c"
  echo "   $field: $c (single machine: $l)"
done
# The store's copy of the log: the same 12 trials.
store_key=$(sed -n 's/^cluster: trial log in the store at \([^:]*\): .*/\1/p' "$work/coordinator2.log" | head -n 1)
[ -n "$store_key" ] || fail "the coordinator named no trial log in the store"
redis-cli -p "$port" --raw lrange "$store_key" 0 -1 > "$work/store.jsonl"
store_keys=$(grep -o '"key":"[^"]*"' "$work/store.jsonl" | sort -u)
[ "$(grep -c '"key"' "$work/store.jsonl")" -eq 12 ] || fail "the store's log holds $(grep -c '"key"' "$work/store.jsonl") trials, expected 12"
[ "$store_keys" = "$(grep -o '"key":"[^"]*"' "$work/cluster.jsonl" | sort -u)" ] || fail "the store's log and the file hold other trials"

echo "== a coordinator on a fresh --log (as on another machine) resumes all 12 from the store and trains none"
timeout 120 "${cli[@]}" "${search[@]}" --cluster "$store" --cluster-id "$cluster_id" --log "$work/fresh/trials.jsonl" --json "$work/fresh.json" \
  > "$work/coordinator3.log" 2>&1 || fail "the coordinator on a fresh log failed"
[ "$(json_field "$work/fresh.json" trials_resumed)" = 12 ] || fail "the fresh coordinator resumed $(json_field "$work/fresh.json" trials_resumed) trials, expected 12"
[ "$(json_field "$work/fresh.json" trainings_run)" = 0 ] || fail "the fresh coordinator trained $(json_field "$work/fresh.json" trainings_run) trials, expected 0"
[ "$(json_field "$work/fresh.json" best_score)" = "$(json_field "$work/local.json" best_score)" ] || fail "the fresh coordinator's best differs"

overhead=$(grep 'dispatch overhead' "$work/coordinator2.log" | sed 's/^cluster: //')
echo "   $overhead"
echo "   killed coordinator resumed $resumed trial(s); killed worker's trial $victim_key dispatched again to $(basename "$again" .log); the worker that joined mid-search trained $late trial(s)"
echo "cluster search: 1 passed, 0 failed"
