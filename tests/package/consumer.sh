#!/usr/bin/env bash
# NativeProb — MIT License.
# The packages as a user gets them: packs the solution into a folder feed, then a new console project that
# references only the NativeProb package (from that folder) runs attention and a SAQ cache, and the tool
# package installs a working `nativeprob`. Usage: tests/package/consumer.sh [WORK_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-$(mktemp -d)}"
rm -rf "$work/feed" "$work/app" "$work/tool"
mkdir -p "$work/feed" "$work/app"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet pack "$repo/NativeProb.sln" -c Release -o "$work/feed" --nologo -v q
ls "$work/feed"
for p in NativeProb NativeProb.OpenCL NativeProb.Tool; do
  [ -f "$work/feed/$p.0.1.0.nupkg" ] || { echo "missing package $p" >&2; exit 1; }
done
if ls "$work/feed" | grep -qiE 'Native\.|Tests|Bench|Bindings|Cluster|AbiDriver'; then
  echo "a project that is not a package was packed" >&2; exit 1
fi
cd "$work/app"
# Restore into a package folder of this run's own, so that an older NativeProb 0.1.0 in the user's NuGet
# cache is never taken for the one just packed.
export NUGET_PACKAGES="$work/packages"
rm -rf "$NUGET_PACKAGES"
# A project of its own: empty Directory.Build.props / Directory.Packages.props stop MSBuild from importing the
# repository's (central versions, warnings as errors) when the work folder lies inside the checkout (build/),
# so `dotnet add package` writes the version into app.csproj, not into the repository's files.
echo '<Project />' > Directory.Build.props
echo '<Project />' > Directory.Packages.props
cat > app.csproj <<'XML'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
</Project>
XML
cat > Program.cs <<'CS'
using NativeProb.Attention;
using NativeProb.KvCache;

var shape = new AttentionShape(Batch: 1, Heads: 4, KvHeads: 2, QueryLength: 1, KeyLength: 300, HeadDim: 64);
var rng = new Random(1);
float[] Fill(long n) { var a = new float[n]; for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
float[] q = Fill(shape.QueryElements), k = Fill(shape.KeyElements), v = Fill(shape.KeyElements);
var dense = new float[q.Length];
FlashAttention.Forward(q, k, v, dense, shape);
var cache = new QuantizedKvCache(2, 64, new KvCacheOptions { Format = KvFormat.Fp32 });
cache.AppendBlock(k, v, 300);
var fromCache = new float[q.Length];
cache.Attend(q, fromCache, heads: 4, queryLength: 1);
double err = 0;
for (int i = 0; i < q.Length; i++) err = Math.Max(err, Math.Abs(dense[i] - fromCache[i]));
var saq = new QuantizedKvCache(2, 64);
saq.AppendBlock(k, v, 300);
Console.WriteLine($"dense vs fp32 cache max diff {err:E2}; SAQ cache {saq.BitsPerElement:F2} bits/element");
return err < 1e-5 && saq.Format == KvFormat.Saq ? 0 : 1;
CS
dotnet add package NativeProb --version 0.1.0 --source "$work/feed" >/dev/null
dotnet run -c Release
dotnet tool install --tool-path "$work/tool" --add-source "$work/feed" NativeProb.Tool --version 0.1.0 >/dev/null
"$work/tool/nativeprob" info | grep -q cpu_path_best
echo "package consumer: ok"
