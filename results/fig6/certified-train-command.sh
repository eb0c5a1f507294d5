#!/bin/sh
# The certified model (mlp-certified.safetensors): the plain model fine-tuned with the flow-certificate
# penalty (SPEC §7; duals trained jointly). Run from the repository root. Launched for 3 epochs and stopped
# during epoch 3 (time); mlp-certified.safetensors is the model as saved after epoch 1 (the epoch with the
# best validation accuracy, i.e. OUT.best.safetensors; see README.md). Per-epoch log: certified-train-epochs.json.
export WGPU_BACKEND=vulkan
exec nice -n 10 advlab train --arch mlp:784-500-10 --data mnist:../shared/data/mnist --certify flow \
  --cert-eps 0.01 --cert-weight 0.04 --init results/certify-plain-mlp/mlp-784-500-10-3ep.safetensors \
  --optim adam --lr 1e-3 --epochs 3 --batch 100 --seed 0 --val 5000 --cert-count 500 \
  --out /tmp/fig6/candA/model.safetensors --results /tmp/fig6/candA/train-results.json
