#!/usr/bin/env bash
# Build advlab, run the test suite on the machine's best adapter, then
# `advlab bench suite`, and print one table: the device, the test result,
# and each workload's images/s, GFLOP/s and share of the measured GEMM peak
# (with PyTorch's figures and the ratio when torch is importable).
#
# Usage: scripts/gpu-check.sh [OUT_DIR] [-- extra `bench suite` flags]
#   OUT_DIR (default gpu-check-out/) gets build.log, test.log, bench.log,
#   info.txt, conv-tune.log, conv-tune.json, conv-tuning.json and
#   results.json.
# Environment: MNIST, CIFAR (data specs for bench suite; default the
#   ../shared/data layout), ADVLAB_TEST_DEVICE=gpu to make the tests fail
#   rather than fall back to a CPU adapter, SKIP_TESTS=1 to go straight to
#   the benchmark, TUNE=0 to skip the conv tuning step (`bench conv
#   --tune` at batch 128 into OUT_DIR/conv-tuning.json, which the suite
#   then follows).
# Needs: a Rust toolchain (cargo), a Vulkan/Metal/DX12 driver. On Linux
# without a GPU it runs on lavapipe (apt-get install mesa-vulkan-drivers).
set -euo pipefail

cd "$(dirname "$0")/.."
out="${1:-gpu-check-out}"
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
mkdir -p "$out"
mnist="${MNIST:-mnist:../shared/data/mnist}"
cifar="${CIFAR:-cifar10:../shared/data/cifar-10-batches-bin}"
extra=()
# Without the data sets: the bundled MNIST subset, and no alexnet workload.
if [ -z "${MNIST:-}" ] && [ ! -d ../shared/data/mnist ]; then
    echo "note: ../shared/data/mnist not found: MNIST workloads run on the bundled subset (set MNIST=mnist:DIR)"
    mnist=bundled
fi
if [ -z "${CIFAR:-}" ] && [ ! -d ../shared/data/cifar-10-batches-bin ] && [[ " $* " != *" --only "* ]]; then
    echo "note: ../shared/data/cifar-10-batches-bin not found: skipping alexnet (set CIFAR=cifar10:DIR)"
    extra=(--only mlp,lenet,fgsm,cw)
fi

echo "== build (release + tests)"
cargo build --release >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
bin=target/release/advlab
"$bin" info >"$out/info.txt" 2>/dev/null || true
head -3 "$out/info.txt"

tests="skipped"
if [ "${SKIP_TESTS:-0}" != 1 ]; then
    echo "== cargo test (log: $out/test.log)"
    if cargo test --release >"$out/test.log" 2>&1; then
        tests="passed"
    else
        tests="FAILED"
    fi
    grep -E "^test result:" "$out/test.log" | awk '{p+=$4; f+=$6; i+=$8} END {print "tests: " p " passed, " f " failed, " i " ignored"}'
    grep -E "^(test .* FAILED|failures:)" "$out/test.log" | head -20 || true
fi

# Per-layer conv algorithm choice, measured on this adapter at the suite's
# batch (128) and kept in OUT_DIR/conv-tuning.json, which the suite then
# follows (ops::conv_tuning; TUNE=0 skips this and uses the fast kernels).
if [ "${TUNE:-1}" != 0 ]; then
    export ADVLAB_CONV_TUNING="${ADVLAB_CONV_TUNING:-$(cd "$out" && pwd)/conv-tuning.json}"
    echo "== conv tuning (log: $out/conv-tune.log, records: $ADVLAB_CONV_TUNING)"
    "$bin" bench conv --arch lenet,alexnet-cifar --batch 128 --reps 3 --tune --results "$out/conv-tune.json" \
        >"$out/conv-tune.log" 2>&1 || { tail -5 "$out/conv-tune.log"; exit 1; }
    grep -cE "\| (fast|direct|im2col) \|$" "$out/conv-tune.log" | sed 's/^/conv passes tuned: /'
    grep -E "\| (direct|im2col) \|$" "$out/conv-tune.log" || echo "(every pass chose the fast kernels)"
fi

echo "== bench suite (log: $out/bench.log)"
rm -f "$out/results.json"
"$bin" bench suite --mnist "$mnist" --cifar "$cifar" --results "$out/results.json" "${extra[@]}" "$@" 2>&1 | tee "$out/bench.log" | grep -v XDG_RUNTIME_DIR

echo
echo "== summary"
python3 - "$out/results.json" "$tests" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
r = j["results"]
print(f"device: {j['adapter']} ({j['adapter_driver']})")
print(f"tests: {sys.argv[2]}; GEMM peak {r['gemm_peak_gflops']:.1f} GFLOP/s")
print("| workload | images | seconds | images/s | GFLOP/s | of peak | torch images/s | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for w in r["rows"]:
    t = w.get("torch") or {}
    tip = f"{t['images_per_sec']:.0f}" if t else "n/a"
    ratio = f"{w['ratio']:.2f}" if w.get("ratio") is not None else "n/a"
    print(f"| {w['workload']} | {w['images']} | {w['seconds']:.2f} | {w['images_per_sec']:.0f} | "
          f"{w['gflops']:.1f} | {100 * w['peak_fraction']:.0f}% | {tip} | {ratio} |")
if r.get("peer_skipped"):
    print(f"PyTorch peer skipped: {r['peer_skipped']}")
EOF
[ "$tests" != "FAILED" ]
