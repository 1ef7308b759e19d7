#!/usr/bin/env bash
# Times the "search your own photos" walk-through (docs/your-photos.md): features of N photos, the first index --update,
# a search by words and one by photo, an update after adding 20 photos and deleting 5, and an update with nothing new.
# Usage: scripts/time-photo-search.sh PHOTOS_LIST EXTRA_LIST IMAGES_DIR MODEL DETECTOR [WORK] [N]
#   PHOTOS_LIST: file names, one per line (the first N are indexed); EXTRA_LIST: file names of the 20 added later;
#   IMAGES_DIR: where those files are; MODEL: a search model folder; WORK: a scratch folder (default photo-search-timing).
# Flickr8k: scripts/time-photo-search.sh data/flickr8k/Flickr_8k.testImages.txt data/flickr8k/Flickr_8k.devImages.txt \
#   data/flickr8k/Flicker8k_Dataset flickr8k-output/en/finetune-pretrained ../shared/models/yolox-nano/yolox_nano.onnx
set -euo pipefail
[ $# -ge 5 ] || { sed -n 2,8p "$0" >&2; exit 2; }
list=$1; extra=$2; images=$3; model=$4; detector=$5; work=${6:-photo-search-timing}; count=${7:-1000}
cli="$(dirname "$0")/../interbert"
if [ -e "$work" ] && [ ! -e "$work/.photo-search-timing" ]; then echo "$work exists and is not this script's scratch folder; choose another" >&2; exit 1; fi
rm -rf "$work"; mkdir -p "$work/photos"; touch "$work/.photo-search-timing"
head -"$count" "$list" | while read -r f; do cp "$images/$f" "$work/photos/"; done
seconds() { local start=$(date +%s.%N); "$@" > "$work/last.log" 2>&1; printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)"; }
"$cli" --help > /dev/null  # builds the command line first, so no step's time includes the build
echo "photos: $(ls "$work/photos" | wc -l) ($(du -sh "$work/photos" | cut -f1))"
echo "features: $(seconds "$cli" features --images "$work/photos" --detector "$detector" --out "$work/features") s; $(grep -o 'stored.*images/s)' "$work/last.log")"
update=(index --weights "$model" --features "$work/features" --images "$work/photos" --out "$work/index" --update)
echo "first update: $(seconds "$cli" "${update[@]}") s; $(grep -o '[0-9]* new.*embedded' "$work/last.log")"
echo "search by words: $(seconds "$cli" search --index "$work/index" --top 5 -- "a dog runs through the grass") s; $(grep -o 'in [0-9]* ms' "$work/last.log") inside"
# Globs, not `ls | head`: with pipefail, head closing the pipe early can fail the script (SIGPIPE).
photos=("$work"/photos/*)
photo=${photos[0]}
echo "search by photo: $(seconds "$cli" search --index "$work/index" --top 5 --image "$photo") s; $(grep -o 'in [0-9]* ms' "$work/last.log") inside"
head -20 "$extra" | while read -r f; do cp "$images/$f" "$work/photos/"; done
photos=("$work"/photos/*)
rm -- "${photos[@]:0:5}"
echo "update after +20 -5: $(seconds "$cli" "${update[@]}") s; $(grep -o '[0-9]* new.*embedded' "$work/last.log")"
echo "update, nothing changed: $(seconds "$cli" "${update[@]}") s; $(grep -o 'up to date.*' "$work/last.log")"
