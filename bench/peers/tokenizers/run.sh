#!/usr/bin/env bash
# NativeProb — MIT License.
# Side-by-side tokenizer runs on sotu.txt split into sentences, all threads, measured in one run:
#   1. BPE training to 30000 entries: NativeProb (the same \w+|[^\w\s]+ pre-tokenizer as Hugging Face's
#      "Whitespace") vs sentencepiece's spm_train --model_type=bpe vs Hugging Face tokenizers
#      (npm tokenizers@0.23.2: BPE.empty(), whitespace pre-tokenizer, train).
#      Passes are interleaved (ours, spm, HF, ours, ...) and the median of each is reported, with
#      wall seconds and peak resident memory from /usr/bin/time.
#   2. Single-thread GPT-2 byte-level encoding: NativeProb vs Microsoft.ML.Tokenizers (EncodeSpeed/).
#   3. Interchange: files written here load in Hugging Face tokenizers and encode to the same ids; a
#      Hugging Face trained file loads here and encodes to the same ids.
# Needs: apt-get install sentencepiece time nodejs npm; npm install tokenizers@0.23.2 (done in a
# temporary folder by this script). Not part of the test suite.
# Usage: bench/peers/tokenizers/run.sh [CORPUS] [PASSES]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
corpus="${1:-$root/../shared/data/sotu.txt}"
passes="${2:-3}"
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"
echo "work folder: $work"

dotnet build "$root/src/NativeProb.Cli" -c Release --nologo -v q >/dev/null
np="$root/src/NativeProb.Cli/bin/Release/net10.0/nativeprob"
if [ ! -d "$work/hf/node_modules/tokenizers" ]; then
  mkdir -p "$work/hf" && (cd "$work/hf" && npm init -y >/dev/null && npm install --silent tokenizers@0.23.2 >/dev/null)
fi
export NODE_PATH="$work/hf/node_modules"
command -v spm_train >/dev/null || { echo "spm_train missing: apt-get install sentencepiece" >&2; exit 1; }

sent="$work/sotu-sentences.txt"
"$np" tokenizer split-sentences "$corpus" "$sent"
echo "corpus: $(wc -l < "$sent") sentences, $(wc -c < "$sent") bytes, $(nproc) threads"

measure() { # name command...: appends "name seconds peak_kb" to results
  local name="$1"; shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >"$work/$name.log" 2>&1 || { echo "$name failed:"; tail -5 "$work/$name.log"; return 1; }
  echo "$name $(cat "$work/time.txt")" >> "$work/results.txt"
}
: > "$work/results.txt"
for pass in $(seq "$passes"); do
  measure nativeprob "$np" tokenizer train --algo bpe --vocab-size 30000 --min-frequency 1 --pre-tokenizer words --threads "$(nproc)" --output "$work/np-bpe.json" "$sent"
  measure spm_train spm_train --input="$sent" --model_prefix="$work/spm" --vocab_size=30000 --model_type=bpe --num_threads="$(nproc)" --minloglevel=1
  measure huggingface node "$here/hf.js" train "$sent" "$work/hf-bpe.json"
done
echo
echo "BPE training to 30000 entries, $passes passes each, interleaved (median wall seconds, median peak MB):"
python3 - "$work/results.txt" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, sec, kb = line.split()
    runs[name].append((float(sec), int(kb) / 1024))
med = {n: (statistics.median(s for s, _ in v), statistics.median(m for _, m in v)) for n, v in runs.items()}
for n, (s, m) in med.items():
    print(f"  {n:12s} {s:7.2f} s  {m:6.0f} MB   passes: {' '.join(f'{x:.2f}' for x, _ in runs[n])}")
ours = med['nativeprob'][0]
print(f"  ratio nativeprob / spm_train   = {ours / med['spm_train'][0]:.2f} (goal <= 1)")
print(f"  ratio nativeprob / huggingface = {ours / med['huggingface'][0]:.2f} (goal <= 1.5)")
PY

echo
echo "Single-thread GPT-2 byte-level encoding (same text, same vocabulary, identical output required):"
dotnet run -c Release --project "$here/EncodeSpeed" -- "$sent" "$corpus"

echo
echo "Interchange with Hugging Face tokenizers:"
head -n 2000 "$sent" > "$work/sample.txt"
for algo in bpe wordpiece swe; do
  "$np" tokenizer train --algo "$algo" --vocab-size 8000 --output "$work/np-$algo.json" "$sent" >/dev/null
  "$np" tokenizer encode --tokenizer "$work/np-$algo.json" --ids < "$work/sample.txt" > "$work/np-$algo.ids"
  node "$here/hf.js" encode "$work/np-$algo.json" "$work/sample.txt" > "$work/hf-$algo.ids"
  if cmp -s "$work/np-$algo.ids" "$work/hf-$algo.ids"; then echo "  $algo: written here, loaded by Hugging Face: identical ids on 2000 sentences"
  else echo "  $algo: DIFFERENT ids ($(diff "$work/np-$algo.ids" "$work/hf-$algo.ids" | grep -c '^<') lines differ)"; fi
done
"$np" tokenizer encode --tokenizer "$work/hf-bpe.json" --ids < "$work/sample.txt" > "$work/np-hfbpe.ids"
node "$here/hf.js" encode "$work/hf-bpe.json" "$work/sample.txt" > "$work/hf-hfbpe.ids"
if cmp -s "$work/np-hfbpe.ids" "$work/hf-hfbpe.ids"; then echo "  Hugging Face BPE (Whitespace pre-tokenizer, the timed run's file) loaded here: identical ids on 2000 sentences"
else echo "  Hugging Face BPE (Whitespace) loaded here: DIFFERENT ids ($(diff "$work/np-hfbpe.ids" "$work/hf-hfbpe.ids" | grep -c '^<') lines differ)"; fi
node "$here/hf.js" train-bert "$sent" "$work/hf-bert.json" >/dev/null
"$np" tokenizer encode --tokenizer "$work/hf-bert.json" --ids < "$work/sample.txt" > "$work/np-hfbert.ids"
node "$here/hf.js" encode "$work/hf-bert.json" "$work/sample.txt" > "$work/hf-hfbert.ids"
if cmp -s "$work/np-hfbert.ids" "$work/hf-hfbert.ids"; then echo "  Hugging Face BPE (BERT pre-tokenizer) loaded here: identical ids on 2000 sentences"
else echo "  Hugging Face BPE loaded here: DIFFERENT ids ($(diff "$work/np-hfbert.ids" "$work/hf-hfbert.ids" | grep -c '^<') lines differ)"; fi
