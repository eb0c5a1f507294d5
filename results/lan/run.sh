#!/bin/sh
# How results/lan was made (see README.md): three passes into one directory.
# A fresh `advlab reproduce lan --out-dir results/lan` (the defaults) does the same in one pass, ~52 min on 2 cores.
set -e
export WGPU_BACKEND=vulkan
cargo build --release
A=./target/release/advlab
# 1. sweep, LAN, f2, every attack (these flags are the defaults now, except the transfer counts)
$A reproduce lan --out-dir results/lan \
  --sweep-count 5000 --sweep-epochs 2 --sweep-val 2000 --sweep-f2-epochs 15 \
  --lan-count 45000 --lan-epochs 5 --lan-lr 1e-3 --f2-count 45000 --f2-epochs 15 \
  --jsma-count 100 --cw-count 200 --adaptive-count 100 --resume
# 2. transfer JSMA / C&W on more images (reuses everything else)
$A reproduce lan --out-dir results/lan \
  --sweep-count 5000 --sweep-epochs 2 --sweep-val 2000 --sweep-f2-epochs 15 \
  --lan-count 45000 --lan-epochs 5 --lan-lr 1e-3 --f2-count 45000 --f2-epochs 15 \
  --jsma-count 100 --cw-count 200 --adaptive-count 100 \
  --transfer-jsma-count 300 --transfer-cw-count 200 --resume
# 3. the defaults: every trained stage and attack reused
$A reproduce lan --out-dir results/lan --resume
python3 scripts/lan_replica.py results/lan/lan.safetensors results/lan/masks_test_first100.npy \
  ../shared/data/cifar-10-batches-bin > results/lan/replica.json
python3 scripts/lan_repro_check.py results/lan/results.json
# the per-image oracle masks against this LAN's masks of the same 512 test images
$A lan masks --lan results/lan/lan.safetensors --data cifar10:../shared/data/cifar-10-batches-bin \
  --split test --count 512 --out-dir /tmp/lan-m512
python3 scripts/lan_oracle_masks.py results/alexnet-cifar/alexnet-cifar-final.safetensors \
  ../shared/data/cifar-10-batches-bin /tmp/lan-m512/masks.npy --count 512 --beta 2 --threads 1 > results/lan/oracle.json
