#!/usr/bin/env bash
# NativeProb — MIT License.
# Llama 3 tokenizer.json encoding speed on sotu.txt (one speech per line), in one run: NativeProb
# (HuggingFaceTokenizer, one thread and all threads) and Microsoft.ML.Tokenizers (TiktokenTokenizer on the
# same vocabulary, one thread; Llama3Speed/), and Hugging Face tokenizers (npm tokenizers@0.23.2: encode one
# line at a time, and encodeBatch on all threads; llama3-hf.js). Checks that all give the same ids.
# Needs node and npm; the tokenizer.json comes from the tests' cache (fetch-tokenizers.sh).
# Usage: bench/peers/tokenizers/run-llama3.sh [CORPUS] [PASSES]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
corpus="${1:-$root/../shared/data/sotu.txt}"
passes="${2:-5}"
cache="${NP_TOKENIZER_CACHE:-$HOME/.cache/nativeprob-tokenizers}"
bash "$root/tests/NativeProb.Tests/Tokenization/HuggingFace/Data/fetch-tokenizers.sh" "$cache"
json="$cache/llama3.json"
export NODE_PATH="$cache/npm/node_modules"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) threads; corpus $corpus"
dotnet build "$here/Llama3Speed" -c Release --nologo -v q >/dev/null
ours="$(dotnet "$here/Llama3Speed/bin/Release/net10.0/Llama3Speed.dll" "$json" "$corpus" "$passes")"
hf="$(node "$here/llama3-hf.js" "$json" "$corpus" "$passes")"
python3 - "$ours" "$hf" <<'PY'
import json, sys
o, h = json.loads(sys.argv[1]), json.loads(sys.argv[2])
same = o["ids_sha256"] == h["ids_sha256"] and o["tokens"] == h["tokens"]
print(f"{o['lines']} lines, {o['bytes'] / 1e6:.1f} MB, {o['tokens']} tokens; ids identical to Hugging Face's: {same}; to Microsoft.ML.Tokenizers': {o['identical_ids']}")
rows = [("NativeProb, 1 thread", o["nativeprob_1_s"]), ("Microsoft.ML.Tokenizers Tiktoken, 1 thread", o["mltokenizers_1_s"]),
        ("Hugging Face tokenizers encode, 1 call at a time", h["hf_1_s"]), (f"NativeProb, {o['threads']} threads", o["nativeprob_all_s"]),
        (f"Hugging Face tokenizers encodeBatch, {o['threads']} threads", h["hf_all_s"])]
print(f"| {'encoder':52s} | seconds | M tokens/s | MB/s |")
print(f"|{'-' * 54}|---------|------------|------|")
for name, s in rows:
    print(f"| {name:52s} | {s:7.3f} | {o['tokens'] / s / 1e6:10.2f} | {o['bytes'] / s / 1e6:4.1f} |")
print(f"NativeProb 1 thread vs Microsoft.ML: {o['mltokenizers_1_s'] / o['nativeprob_1_s']:.2f}x; vs HF encode: {h['hf_1_s'] / o['nativeprob_1_s']:.2f}x; "
      f"all threads vs HF encodeBatch: {h['hf_all_s'] / o['nativeprob_all_s']:.2f}x (goal >= 1 each)")
sys.exit(0 if same else 1)
PY
