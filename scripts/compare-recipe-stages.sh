#!/usr/bin/env bash
# Runs both recipes (demo and Flickr8k, English and Chinese, a few steps each on a miniature of the sample photos)
# with the code of revision REV and with this checkout, and compares every stage's weights (byte for byte), metrics
# (timings aside) and evaluations. A change to how the recipes are wired should leave them all identical.
# Usage: scripts/compare-recipe-stages.sh REV [WORK]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rev="${1:?usage: compare-recipe-stages.sh REV [WORK]}"
work="${2:-$(mktemp -d)}"
shared="$root/../shared"
mkdir -p "$work"
git -C "$root" worktree add --detach "$work/source" "$rev" > /dev/null
trap 'git -C "$root" worktree remove --force "$work/source"' EXIT
ln -sfn "$shared" "$work/shared"
dotnet build "$work/source/src/InterBert.Cli" -c Release --nologo -v quiet -o "$work/before-bin" > "$work/build.log"
dotnet build "$root/src/InterBert.Cli" -c Release --nologo -v quiet -o "$work/after-bin" > "$work/build.log"

# Ten sample photos as a Flickr8k folder: 6 train, 2 dev, 2 test, two English and two Chinese captions each.
data="$work/flickr8k"
mkdir -p "$data/Flicker8k_Dataset"
english=("a dog runs on the grass" "two children play in a park" "a man rides a bike" "a girl in a pink dress" "a cat sleeps on a sofa")
chinese=("一只狗在草地上奔跑。" "两个孩子在公园里玩。" "一个男人骑自行车。" "一个穿粉色裙子的女孩。" "一只猫在沙发上睡觉。")
: > "$data/Flickr8k.token.txt"; : > "$data/flickr8kzhc.caption.txt"
: > "$data/Flickr_8k.trainImages.txt"; : > "$data/Flickr_8k.devImages.txt"; : > "$data/Flickr_8k.testImages.txt"
k=0
for photo in $(ls "$shared/data/coco-sample/images/"*.jpg | sort | head -10); do
  name="$((1000 + k))_photo.jpg"
  cp "$photo" "$data/Flicker8k_Dataset/$name"
  for n in 0 1; do
    printf '%s#%d\t%s number %d\n' "$name" "$n" "${english[$(((k + n) % 5))]}" "$k" >> "$data/Flickr8k.token.txt"
    printf '%s#zhc#%d %s第%d张\n' "$name" "$n" "${chinese[$(((k + n) % 5))]}" "$k" >> "$data/flickr8kzhc.caption.txt"
  done
  if [ $k -lt 6 ]; then split=train; elif [ $k -lt 8 ]; then split=dev; else split=test; fi
  echo "$name" >> "$data/Flickr_8k.${split}Images.txt"
  k=$((k + 1))
done

detector="$shared/models/yolox-nano/yolox_nano.onnx"
for side in before after; do
  out="$work/$side"
  rm -rf "$out"
  cli=(dotnet "$work/$side-bin/InterBert.Cli.dll")
  echo "recipes with the $side code ..."
  "${cli[@]}" demo --lang zh --preset tiny --out "$out/demo-zh" --images 40 --test-images 8 --pretrain-steps 60 --finetune-steps 30 --threads 2 > "$work/$side.log" 2>&1
  "${cli[@]}" demo --lang en --out "$out/demo-en" --images 40 --test-images 8 --pretrain-steps 30 --finetune-steps 20 --threads 2 >> "$work/$side.log" 2>&1
  "${cli[@]}" benchmark flickr8k --data "$data" --lang zh --preset tiny --text-init random --out "$out/f8k" --detector "$detector" --pretrain-steps 20 --finetune-steps 12 >> "$work/$side.log" 2>&1
  "${cli[@]}" benchmark flickr8k --data "$data" --lang en --out "$out/f8k" --detector "$detector" --pretrain-steps 8 --finetune-steps 8 >> "$work/$side.log" 2>&1
done

same=0; different=0
while read -r file; do
  case "$file" in
    *.safetensors) cmp -s "$work/before/$file" "$work/after/$file" ;;
    *metrics.jsonl) diff -q <(sed 's/"samples_per_second[^,}]*//' "$work/before/$file") <(sed 's/"samples_per_second[^,}]*//' "$work/after/$file") > /dev/null ;;
    *) diff -q <(grep -v seconds "$work/before/$file") <(grep -v seconds "$work/after/$file") > /dev/null ;;
  esac && same=$((same + 1)) || { different=$((different + 1)); echo "differs: $file"; }
done < <(cd "$work/before" && find . \( -name "*.safetensors" -o -name metrics.jsonl -o -path "*/eval/*.json" \) | sort)
echo "recipe stages: $same files identical, $different different ($rev against this checkout; runs in $work)"
[ "$different" -eq 0 ]
