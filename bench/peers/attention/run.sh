#!/usr/bin/env bash
# NativeProb — MIT License.
# Peer comparison of attention: NativeProb FlashAttention vs libtorch SDPA (TorchSharp-cpu 0.107.0) vs
# ggml flash_attn_ext (LLamaSharp.Backend.Cpu 0.30.0), one process, one run.
#   bench/peers/attention/run.sh [--threads N] [--passes N] [--decode-reps N] [--prefill-reps N]
#                                [--kv-len N] [--prefill-len N] [--backends nativeprob,torch,ggml]
#                                [--json FILE] [--md FILE]
# Results go to bench/peers/attention/results/peers-attention.{json,md} unless --json / --md say otherwise
# (relative paths are taken from this folder).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

command -v python3 >/dev/null || { echo "run.sh needs python3 (for elf_weak_version.py)" >&2; exit 1; }

# Restores the peer packages on first use (TorchSharp-cpu pulls libtorch: several hundred MB).
dotnet build PeersAttention.csproj -c Release --nologo -v q

# TorchSharp-cpu's libLibTorchSharp.so asks for GLIBCXX_3.4.32 (GCC 13) for one unused marker symbol;
# Debian 12's libstdc++ stops at 3.4.30. Mark that need weak in the build-output copy only (the build
# copies a pristine file from the package cache again whenever it changes, so patch after every build).
out="bin/Release/net10.0"
python3 elf_weak_version.py "$out/runtimes/linux-x64/native/libLibTorchSharp.so"

exec dotnet "$out/PeersAttention.dll" "$@"
