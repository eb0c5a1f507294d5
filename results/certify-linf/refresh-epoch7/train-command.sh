#!/bin/sh
export WGPU_BACKEND=vulkan
cd /work/wt-cert
exec nice -n 10 /work/runs/cert/advlab-bin2 train --arch mlp:784-500-10 --data mnist:../shared/data/mnist --certify linf --cert-eps 0.1 --cert-weight 0.01 --init results/certify-linf/model.safetensors --optim adam --lr 1e-3 --epochs 1 --batch 100 --seed 1 --out /work/runs/cert/linf2/model.safetensors --results /work/runs/cert/linf2/train-results.json "$@"
