#!/bin/sh
# The run committed in results/lan (from the repository root; CIFAR-10 in ../shared/data).
set -e
export WGPU_BACKEND=vulkan
nice -n 10 ./target/release/advlab reproduce lan --out-dir results/lan "$@"
# PyTorch replica of g against the masks advlab wrote (first 100 test images)
python3 scripts/lan_replica.py results/lan/lan.safetensors results/lan/masks_test_first100.npy \
    ../shared/data/cifar-10-batches-bin > results/lan/replica.json
