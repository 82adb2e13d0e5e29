#!/usr/bin/env bash
# NativeProb — MIT License.
# Runs one fuzz target for as long as asked, keeping every input that breaks the contract as a regression
# file under tests/fuzz/regressions/TARGET/ (replayed by the CTest test fuzz_regressions).
#   bash tests/fuzz/run.sh TARGET SECONDS [SEED] [--coverage]
#   bash tests/fuzz/run.sh list
# --coverage: runs a copy of the build whose NativeProb assemblies are instrumented with SharpFuzz (edge
# coverage, as afl-fuzz counts it); inputs that reach new edges join the corpus later plans mutate, and the
# summary line reports the edges reached.
# TARGET: npy, w2v-text, w2v-binary, tokenizer-bpe, tokenizer-wordpiece, tokenizer-unigram, trial-log,
# cli-args, abi-options, tiktoken, bert-vocab, abi-pool. SEED defaults to the current time (so long runs explore new plans); CTest's runs
# use seed 1. Long runs on a shared machine: taskset -c 1 bash tests/fuzz/run.sh TARGET 600
# Exit status: 0 nothing found, 1 a violation kept, 3 a timeout kept, other: the process crashed (its last
# input is kept as well).
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
project="$root/tests/fuzz/NativeProb.Fuzz/NativeProb.Fuzz.csproj"
dll="$root/tests/fuzz/NativeProb.Fuzz/bin/Release/net10.0/NativeProb.Fuzz.dll"
[ -f "$dll" ] || dotnet build "$project" -c Release --nologo -v q >&2 || exit 2
if [ "${1:-}" = list ]; then exec dotnet "$dll" list; fi
[ $# -ge 2 ] || { echo "usage: run.sh TARGET SECONDS [SEED] [--coverage] | run.sh list" >&2; exit 2; }
coverage=""
args=()
for a in "$@"; do if [ "$a" = --coverage ]; then coverage=1; else args+=("$a"); fi; done
target="${args[0]}" seconds="${args[1]}" seed="${args[2]:-$(date +%s)}"
regressions="$root/tests/fuzz/regressions"
run_dll="$dll" extra=()
if [ -n "$coverage" ]; then
  copy="$(mktemp -d "${TMPDIR:-/tmp}/np-fuzz-cov.XXXXXX")"
  trap 'rm -rf "$copy"' EXIT
  cp -r "$(dirname "$dll")"/. "$copy"/
  dotnet "$dll" instrument "$copy" >&2 || exit 2
  run_dll="$copy/NativeProb.Fuzz.dll" extra=(--coverage)
fi
echo "fuzz $target: $seconds s, seed $seed${coverage:+, edge coverage}" >&2
dotnet "$run_dll" run "$target" "$seconds" --seed "$seed" --keep-going --regressions "$regressions" "${extra[@]}" &
pid=$!
wait $pid
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 1 ] && [ $rc -ne 3 ]; then
  # A crash the harness could not catch (a fault in native code, a stack overflow): the input being run is
  # still in the harness's work folder.
  work="${TMPDIR:-/tmp}/np-fuzz-$pid-$target"
  for f in "$work"/input*; do
    [ -f "$f" ] || continue
    mkdir -p "$regressions/$target"
    name="crash-$(sha256sum "$f" | cut -c1-16)"
    cp "$f" "$regressions/$target/$name.${f##*.}"
    echo "process ended with status $rc on this input" > "$regressions/$target/$name.why"
    echo "fuzz $target: the process crashed (status $rc); input kept as $regressions/$target/$name.${f##*.}" >&2
  done
  rm -rf "$work"
fi
exit $rc
