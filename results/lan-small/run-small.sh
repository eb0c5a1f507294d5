#!/bin/bash
# Reduced-scale LAN detection preview (see results/lan-small/README.md).
set -euo pipefail
export WGPU_BACKEND=vulkan
B=${ADVLAB:-/work/runs/detect/advlab-bin}
OUT=${OUT:-/work/runs/detect/small}
DATA=cifar10:/work/shared/data/cifar-10-batches-bin
F1=/work/wt-detect/results/alexnet-cifar/alexnet-cifar-final.safetensors
LAN_COUNT=${LAN_COUNT:-10000}; LAN_EPOCHS=${LAN_EPOCHS:-3}; BETA=${BETA:-1}
MASK_TRAIN=${MASK_TRAIN:-20000}; MASK_TEST=${MASK_TEST:-2000}; F2_EPOCHS=${F2_EPOCHS:-5}
ADV=${ADV:-500}; EPS=${EPS:-0.03}
mkdir -p $OUT
t() { local s=$(date +%s.%N); "$@"; echo "STAGE_SECONDS $(echo "$(date +%s.%N) - $s" | bc) :: $*" | tee -a $OUT/stages.txt; }
t $B lan train --arch alexnet-cifar --model $F1 --data $DATA --beta $BETA --val ${VAL:-500} --count $LAN_COUNT \
  --epochs $LAN_EPOCHS --out $OUT/lan.safetensors --results $OUT/lan-train.json
t $B lan masks --lan $OUT/lan.safetensors --data $DATA --split train --count $MASK_TRAIN --out-dir $OUT/masks
t $B lan masks --lan $OUT/lan.safetensors --data $DATA --split test --count $MASK_TEST --out-dir $OUT/masks
t $B train --arch lenet:3x32x32 --data npydir:$OUT/masks --epochs $F2_EPOCHS --out $OUT/f2.safetensors --results $OUT/f2-train.json
t $B attack fgsm --arch alexnet-cifar --model $F1 --data $DATA --split test --count $ADV --eps $EPS --out-dir $OUT/fgsm
t $B detect --arch alexnet-cifar --model $F1 --lan $OUT/lan.safetensors --f2 $OUT/f2.safetensors \
  --input $OUT/fgsm/adv.npy --labels $OUT/fgsm/labels.npy --benign-data $DATA --benign-count $ADV --out-dir $OUT/detect-fgsm
python3 /work/wt-detect/scripts/lan_tables.py $OUT/fgsm/results.json $OUT/detect-fgsm/results.json | tee $OUT/tables.md
