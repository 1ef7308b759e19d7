#!/usr/bin/env bash
# fp32 against bf16 on the English demo's recipe at its fp32 size (160 pretraining and 100 fine-tuning steps), for
# several pretraining seeds: the same pretrain, finetune and evaluate commands as the demo's stages, each evaluated on
# all 500 test captions x 100 test scenes. Needs a finished fp32 demo folder for its scenes, features and initial
# weights:  ./interbert demo --precision fp32 --out /tmp/demo-fp32
# Usage: benchmarks/precision/compare-seeds.sh DEMO_FOLDER WORK_FOLDER [SEEDS...]   (default seeds 1 2 3)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
demo="${1:?demo folder}"; work="${2:?work folder}"; shift 2
if [[ $# -gt 0 ]]; then seeds=("$@"); else seeds=(1 2 3); fi
mkdir -p "$work"
for seed in "${seeds[@]}"; do
  for precision in fp32 bf16; do
    run="$work/$precision-seed$seed"
    rm -rf "$run-pretrain" "$run-finetune"
    "$root/interbert" pretrain --dataset "$demo/scenes/dataset.json" --features "$demo/features" --init "$demo/init/model.safetensors" \
      --out "$run-pretrain" --steps 160 --batch-size 32 --lr 3e-4 --pretrained-lr-multiplier 0.3 --loss-weights 1:1:1 \
      --contrastive-weight 1 --own-negative-rate 0.5 --seed "$seed" --checkpoint-every 50 --keep-checkpoints 1 --eval-every 40 \
      --precision "$precision" > "$run-pretrain.log" 2>&1
    # 0.2424 epochs of the 3,300 training captions in steps of 8: the demo's 100 steps.
    "$root/interbert" finetune --task retrieval --dataset "$demo/scenes/dataset.json" --features "$demo/features" \
      --init "$run-pretrain/model.safetensors" --out "$run-finetune" --epochs 0.2424 --batch-size 8 --lr 3e-4 --seed 1 \
      --val-split none --mine-every 33 --contrastive-weight 1 --own-negative-rate 0.5 --precision "$precision" > "$run-finetune.log" 2>&1
    result=$("$root/interbert" evaluate --task retrieval --dataset "$demo/scenes/dataset.json" --split test --features "$demo/features" \
      --weights "$run-finetune/last.safetensors" --precision bf16 2>&1 | grep -E 'text → image|mean recall' | sed 's/│/ /g' | tr -s ' ' | tr '\n' ' ')
    echo "seed $seed, trained in $precision: $result"
  done
done
