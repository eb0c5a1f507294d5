#!/bin/sh
export WGPU_BACKEND=vulkan
cd /work/wt-cert
exec nice -n 10 /work/runs/cert/advlab-bin train --arch mlp:784-500-10 --data mnist:../shared/data/mnist --certify linf --cert-eps 0.1 --cert-weight 0.01 --init results/certify-plain-mlp/mlp-784-500-10-3ep.safetensors --optim adam --lr 1e-3 --epochs 10 --batch 100 --seed 0 --out /work/runs/cert/linf/model.safetensors --results /work/runs/cert/linf/train-results.json "$@"
