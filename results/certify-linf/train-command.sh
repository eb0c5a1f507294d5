#!/bin/sh
# How results/certify-linf/model.safetensors was trained (run from the repository root,
# WGPU_BACKEND=vulkan, lavapipe; advlab at the commit that added this file, stages 1-2 at d42be54).
# Five stages, each from the previous stage's weights with a fresh Adam state (--init).
# The LR is constant in every stage, so "stopped after epoch k" equals "--epochs k".
# Each stage's per-epoch validation log is in validation/ (stages 1-2: stage2/train-epochs.json).
set -e
export WGPU_BACKEND=vulkan
OUT=${OUT:-runs/certify-linf}
mkdir -p "$OUT"
COMMON="--arch mlp:784-500-10 --data mnist:../shared/data/mnist --val 5000 --certify linf --cert-method primal \
  --cert-rank 8 --cert-sweeps 1 --cert-eps 0.1 --optim adam --batch 100 --seed 0"
# 1. the primal penalty at weight 0.01, 1 epoch, from the plain 97.91% net
advlab train $COMMON --cert-weight 0.01 --lr 1e-3 --epochs 1 \
  --init results/certify-plain-mlp/mlp-784-500-10-3ep.safetensors --out "$OUT/s1.safetensors"
# 2. the penalty at weight 0.005, 5 epochs (= stage2/model.safetensors, 58.93% certified)
advlab train $COMMON --cert-weight 0.005 --cert-verify-sweeps 30 --lr 1e-3 --epochs 5 \
  --init "$OUT/s1.safetensors" --out "$OUT/s2.safetensors"
# 3. the robust loss (CE of the certified logits) at weight 1, lr 1e-3, 18 epochs
#    (run as --epochs 12, then --resume --epochs 40 and stopped after epoch 18)
advlab train $COMMON --cert-loss robust --cert-weight 1 --cert-verify-sweeps 30 --lr 1e-3 --epochs 18 \
  --init "$OUT/s2.safetensors" --out "$OUT/s3.safetensors"
# 4. the robust loss at weight 2, lr 3e-4, 10 epochs (run with --epochs 40; its epoch-10 weights were taken)
advlab train $COMMON --cert-loss robust --cert-weight 2 --cert-verify-sweeps 30 --cert-count 5000 --lr 3e-4 --epochs 10 \
  --init "$OUT/s3.safetensors" --out "$OUT/s4.safetensors"
# 5. the robust loss at weight 2, lr 1e-4: epoch 6 had the best validation certified accuracy
#    (69.38% of the 5000 validation images; run with --epochs 40 and stopped after epoch 13)
advlab train $COMMON --cert-loss robust --cert-weight 2 --cert-verify-sweeps 30 --cert-count 5000 --lr 1e-4 --epochs 6 \
  --init "$OUT/s4.safetensors" --out "$OUT/model.safetensors"
# the certificate (certify/): the training factors' duals as a second candidate per pair
advlab certify --arch mlp:784-500-10 --model "$OUT/model.safetensors" --threat linf \
  --eps 0.01,0.02,0.05,0.1 --data mnist:../shared/data/mnist --count 10000 --max-sweeps 200 \
  --duals "$OUT/model.cert-duals.npy" --out-dir "$OUT/certify"
