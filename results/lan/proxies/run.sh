#!/bin/sh
# LAN proxy experiments (2026-12-07): β = 2 only, the sweep's protocol (LAN on 5,000 training images,
# f2 15 epochs on their masks, scored on the masks of 2,000 validation images), one knob changed each.
# Only the sweep row (stages/sweep.json, copied here as TAG.json) is the result; the tiny later stages
# only let the command finish. The baseline is the β = 2 row of ../stages/sweep.json.
set -e
export WGPU_BACKEND=vulkan
run() { tag=$1; shift
  ./target/release/advlab reproduce lan --out-dir /tmp/lan-proxy/$tag --betas 2 --sweep-count 5000 --sweep-val 2000 \
    --sweep-f2-epochs 15 --lan-count 200 --lan-epochs 1 --f2-count 200 --f2-epochs 1 --fgsm-count 20 --jsma-count 2 \
    --cw-count 2 --transfer-fgsm-count 20 --transfer-jsma-count 0 --transfer-cw-count 0 --adaptive-count 2 "$@"
  cp /tmp/lan-proxy/$tag/stages/sweep.json results/lan/proxies/$tag.json
}
run e6 --sweep-epochs 6
run lr3 --sweep-epochs 2 --lan-lr 3e-3
run b16 --sweep-epochs 2 --lan-batch 16
run uni --sweep-epochs 2 --noise uniform
run mse --sweep-epochs 2 --loss mse
run bn --sweep-epochs 2 --lan-arch mask:3x32x32-1024-1024:bn
