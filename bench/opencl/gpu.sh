#!/usr/bin/env bash
# NativeProb — MIT License.
# The OpenCL backend on whatever OpenCL GPU this machine has, in under 5 minutes: builds (Release), runs the OpenCL
# tests on the GPU, then `nativeprob bench kv --backend opencl` (every KV format as a device-resident cache, decode
# steps of append one token + attend, against the CPU path), and prints one table: per format the bytes that crossed
# per decode step against their bounds, the device result's relative error against the CPU's, and the step times.
#
# Usage: bench/opencl/gpu.sh [KV_LEN] [STEPS]     (defaults 8192 and 256)
# Environment: NP_OPENCL_DEVICE picks the device (default "gpu": the first GPU); OUT names the folder for the logs
# and the JSON rows (default a new folder under /tmp). Exit 0 when the tests pass and every format holds its bounds.
set -uo pipefail
cd "$(dirname "$0")/../.."
kv_len=${1:-8192}
steps=${2:-256}
export NP_OPENCL_DEVICE=${NP_OPENCL_DEVICE:-gpu}
export NP_REQUIRE_OPENCL=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=${OUT:-$(mktemp -d /tmp/np-opencl-gpu.XXXXXX)}
mkdir -p "$out"
started=$(date +%s)

echo "building (Release) ..."
if ! dotnet build NativeProb.sln -c Release -v q --nologo >"$out/build.log" 2>&1; then
  tail -20 "$out/build.log"; echo "build failed (log: $out/build.log)"; exit 1
fi
cli=(dotnet src/NativeProb.Cli/bin/Release/net10.0/NativeProb.Cli.dll)
"${cli[@]}" info --json "$out/info.json" >/dev/null 2>&1 || true

echo "OpenCL tests on device '$NP_OPENCL_DEVICE' ..."
timeout 170 dotnet test tests/NativeProb.OpenCL.Tests -c Release --no-build >"$out/tests.log" 2>&1
tests_rc=$?
tests_line=$(grep -E "^(Passed|Failed)!" "$out/tests.log" | tail -1)
[ -n "$tests_line" ] || tests_line="no summary (exit $tests_rc; log: $out/tests.log)"

echo "bench kv --backend opencl --kv-len $kv_len --steps $steps ..."
timeout 110 "${cli[@]}" bench kv --backend opencl --device "$NP_OPENCL_DEVICE" --kv-len "$kv_len" --steps "$steps" \
  --formats fp32,fp16,int8,int4,kivi2,kivi4,kivi8,saq --json "$out/kv.json" >"$out/bench.log" 2>&1
bench_rc=$?

echo
echo "tests: $tests_line"
if [ $bench_rc -ne 0 ] || [ ! -s "$out/kv.json" ]; then
  tail -20 "$out/bench.log"; echo "bench failed (exit $bench_rc; log: $out/bench.log)"; exit 1
fi
table='(["format","h2d B/step","bound","d2h B/step","bound","rel err vs CPU","device ms","kernel ms","CPU ms","device/CPU"] | @tsv),
  (.[] | [.kv_format, .h2d_bytes_per_step, .h2d_bound_bytes, .d2h_bytes_per_step, .d2h_bound_bytes, .rel_error_vs_cpu,
          .median_ms, .kernel_ms, .cpu_median_ms, .device_vs_cpu] | @tsv)'
echo "device: $(jq -r '.[0].device' "$out/kv.json"), kv_len=$kv_len, $(jq -r '.[0].steps' "$out/kv.json") decode steps," \
  "heads=$(jq -r '.[0].heads' "$out/kv.json") kv_heads=$(jq -r '.[0].kv_heads' "$out/kv.json") dim=$(jq -r '.[0].dim' "$out/kv.json")"
jq -r "$table" "$out/kv.json" | column -t -s $'\t'
ok=$(jq '[.[] | .h2d_within_bound and .d2h_within_bound and .rel_error_vs_cpu <= 1e-5] | all' "$out/kv.json")
echo "bounds and 1e-5 hold for every format: $ok; $(( $(date +%s) - started )) s; logs and JSON in $out"
[ $tests_rc -eq 0 ] && [ "$ok" = "true" ]
