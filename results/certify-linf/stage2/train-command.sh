#!/bin/sh
# How results/certify-linf/model.safetensors was trained (advlab at commit d42be54;
# run from the repository root, WGPU_BACKEND=vulkan, lavapipe). Two stages:
#  1. primal certified training at weight 0.01 from the plain 97.91% net: ONE epoch
#     (the run was started with --epochs 8 and stopped after epoch 1; the LR schedule
#     is constant, so --epochs 1 gives the same epoch);
#  2. from that model, weight 0.005 for 5 epochs (run as --epochs 4, then --resume
#     --epochs 8, stopped after epoch 5 for the deadline; --epochs 5 is equivalent).
# Stage 2's per-epoch log is train-epochs.json (stage 1's is its first entry).
set -e
export WGPU_BACKEND=vulkan
OUT=${OUT:-runs/certify-linf}
mkdir -p "$OUT/stage1" "$OUT/stage2"
advlab train --arch mlp:784-500-10 --data mnist:../shared/data/mnist --val 5000 \
  --certify linf --cert-method primal --cert-rank 8 --cert-sweeps 1 --cert-eps 0.1 --cert-weight 0.01 \
  --init results/certify-plain-mlp/mlp-784-500-10-3ep.safetensors \
  --optim adam --lr 1e-3 --epochs 1 --batch 100 --seed 0 \
  --out "$OUT/stage1/model.safetensors" --results "$OUT/stage1/train-results.json"
advlab train --arch mlp:784-500-10 --data mnist:../shared/data/mnist --val 5000 \
  --certify linf --cert-method primal --cert-rank 8 --cert-sweeps 1 --cert-verify-sweeps 30 --cert-eps 0.1 --cert-weight 0.005 \
  --init "$OUT/stage1/model.safetensors" \
  --optim adam --lr 1e-3 --epochs 5 --batch 100 --seed 0 \
  --out "$OUT/stage2/model.safetensors" --results "$OUT/stage2/train-results.json"
