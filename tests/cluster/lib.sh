#!/usr/bin/env bash
# NativeProb — MIT License.
# Shared by the cluster scripts (sourced): the CLI, a temporary work folder, a Redis store on a free loopback
# port, workers, and a cleanup that SIGKILLs every process started here and shows the logs on failure.
# Before sourcing, a script may set config (Release or Debug; default Release).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
config=${config:-Release}
cli=(dotnet "$repo/src/NativeProb.Cli/bin/$config/net10.0/NativeProb.Cli.dll")
data=$(cd "$repo/../shared/data" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/nativeprob-cluster.XXXXXX")
pids=()

cleanup() {
  local code=$?
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ $code -ne 0 ]; then
    for f in "$work"/*.log; do echo "---- $(basename "$f") (last lines)"; tail -n 25 "$f"; done
  fi
  [ -n "${NP_KEEP_CLUSTER_WORK:-}" ] && echo "work folder kept: $work" || rm -rf "$work"
  exit $code
}
trap cleanup EXIT
# Killed by a timeout (CTest's, or timeout(1)): still stop every process started here.
trap 'exit 143' TERM INT

fail() { echo "FAIL: $*" >&2; exit 1; }

# A loopback port nothing listens on (bash's /dev/tcp connect fails on a free port).
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  fail "no free loopback port found"
}

# exited PID: the process is gone.
exited() { ! kill -0 "$1" 2>/dev/null; }

# wait_for SECONDS COMMAND...: polls the command every 0.2 s until it succeeds.
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}

# start_store: Redis on loopback only, no persistence, in the work folder; sets port and store.
start_store() {
  command -v redis-server >/dev/null || fail "redis-server is not installed (Debian: apt-get install redis-server)"
  [ -f "${cli[1]}" ] || fail "${cli[1]} is missing: build the solution first"
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work" --save '' --appendonly no > "$work/redis.log" 2>&1 &
  pids+=($!)
  wait_for 20 redis-cli -p "$port" ping >/dev/null 2>&1 || fail "redis-server did not start on port $port"
  store="127.0.0.1:$port"
}

# start_worker N CLUSTER_ID: `nativeprob worker` with one training thread, output in worker<N>.log; sets worker_pid_<N>.
start_worker() {
  "${cli[@]}" worker --cluster "$store" --cluster-id "$2" --threads 1 > "$work/worker$1.log" 2>&1 &
  pids+=($!)
  eval "worker_pid_$1=$!"
}

# wait_ready N...: waits until the workers have joined.
wait_ready() {
  local i
  for i in "$@"; do
    wait_for 90 grep -q ' ready ' "$work/worker$i.log" || fail "worker $i did not start"
  done
}
