#!/usr/bin/env bash
# The grounding check on the demo's scenes with a gradual one-way curriculum (docs/levers.md, "On the demo: spatial
# relations"): masked region modeling alone, every region hidden, on the two-object scenes' relation captions, first
# stated one way (left, above), then with a third, two thirds and all of the scenes stated both ways; and the same
# steps without the curriculum. Prints the grounding probe after each stage.
#   scripts/grounding-curriculum.sh DEMO_FOLDER OUT
# DEMO_FOLDER: a demo working folder whose scenes, features and initial weights are made (for the figures in the docs:
# ./interbert demo --images 3000 --location-frequencies 8 --geometry-bias --out demo-3000). OUT: a new folder.
set -euo pipefail
demo="${1:?usage: scripts/grounding-curriculum.sh DEMO_FOLDER OUT}"; out="${2:?usage: scripts/grounding-curriculum.sh DEMO_FOLDER OUT}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for f in scenes/dataset.json scenes/dataset.one-way.json features/store.json init/model.safetensors; do
  [[ -f "$demo/$f" ]] || { echo "grounding-curriculum: $demo/$f not found: run the demo into $demo first" >&2; exit 1; }
done
if [[ -e "$out" ]]; then echo "grounding-curriculum: $out exists: give a new folder" >&2; exit 1; fi
mkdir -p "$out"
python3 - "$demo/scenes" "$out" <<'PY'
import json, random, re, sys
scenes, out = sys.argv[1], sys.argv[2]
relation = re.compile(' (to the left of|to the right of|above|below) ')
def two_objects(name):
    # The scenes whose relation captions name two objects and nothing more, with those captions only; the trainer reads
    # the train split, the probe the test split (which keeps its relation negatives).
    images = json.load(open(f'{scenes}/{name}.json'))
    kept = []
    for image in images['images']:
        captions = [s for s in image['sentences'] if relation.search(s['raw']) and ', plus' not in s['raw']]
        if not captions: continue
        image = dict(image, sentences=captions)
        if image['split'] != 'test': image.pop('hard_negatives', None)
        else: image['hard_negatives'] = [n for n in image.get('hard_negatives', []) if n['changed'] == 'relation']
        kept.append(image)
    return dict(images, images=kept)
both, one_way = two_objects('dataset'), two_objects('dataset.one-way')
json.dump(both, open(f'{out}/both-ways.json', 'w'))
json.dump(one_way, open(f'{out}/one-way.json', 'w'))
draw = random.Random(1)
for share, name in [(0.33, 'third'), (0.67, 'two-thirds')]:
    mixed = [b if draw.random() < share else o for o, b in zip(one_way['images'], both['images'])]
    json.dump(dict(both, images=mixed), open(f'{out}/{name}.json', 'w'))
# The probe's test scenes: those with two objects, every caption and hard negative kept (negatives index the captions).
for name, path in [('dataset', 'test-two-objects.json'), ('dataset.one-way', 'test-two-objects.one-way.json')]:
    images = json.load(open(f'{scenes}/{name}.json'))
    test = [i for i in images['images'] if i['split'] == 'test' and any(relation.search(s['raw']) for s in i['sentences'])
            and not any(relation.search(s['raw']) and ', plus' in s['raw'] for s in i['sentences'])]
    json.dump(dict(images, images=test), open(f'{out}/{path}', 'w'))
PY
interbert() { "$root/interbert" "$@"; }
pretrain() { # NAME DATASET INIT STEPS
  echo "grounding-curriculum: pretraining $1 ($4 steps on $2.json; log $out/$1.log)"
  interbert pretrain --dataset "$out/$2.json" --features "$demo/features" --init "$3" --out "$out/$1" --steps "$4" --lr 3e-4 \
    --pretrained-lr-multiplier 1 --loss-weights 0:1:0 --mask-all-regions 1 --precision bf16 --seed 1 > "$out/$1.log"
}
probe() { # NAME TEST
  echo "$1 on $(basename "$2"): $(interbert evaluate --task grounding --dataset "$2" --split test --features "$demo/features" --weights "$out/$1" | tail -n 1)"
}
pretrain one-way one-way "$demo/init/model.safetensors" 400
probe one-way "$out/test-two-objects.one-way.json"
probe one-way "$out/test-two-objects.json"
pretrain third third "$out/one-way/model.safetensors" 300;        probe third "$out/test-two-objects.json"
pretrain two-thirds two-thirds "$out/third/model.safetensors" 300; probe two-thirds "$out/test-two-objects.json"
pretrain both-ways both-ways "$out/two-thirds/model.safetensors" 300; probe both-ways "$out/test-two-objects.json"
probe both-ways "$demo/scenes/dataset.json"
pretrain plain both-ways "$demo/init/model.safetensors" 1300;      probe plain "$out/test-two-objects.json"
probe plain "$demo/scenes/dataset.json"
