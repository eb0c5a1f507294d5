"""Per-image optimum of the LAN loss, as a yardstick for the trained LAN g.

Is f2's low accuracy on g's masks the loss's fault (its optimal masks carry
little about the class) or the LAN's (it cannot reach image-dependent
masks)? Here no network makes the masks: each image gets its own
A = sigmoid(theta), and Adam minimises the same loss as `advlab lan train`
(SPEC §5: soft-target cross-entropy against f1's softmax on the noised
image x~ = A*eta + (1-A)*x, eta drawn per pixel from the training set's
marginal, minus beta * mean A). Both mask sets are then scored by one simple
classifier: standardise each pixel, nearest class mean, two-fold over the
images (no training beyond the class means, so its accuracy only says how
much class information the masks carry, not what LeNet would reach).

usage: python3 scripts/lan_oracle_masks.py F1.safetensors CIFAR_BIN_DIR LAN_MASKS.npy
           [--count 512] [--beta 1] [--steps 200] [--draws 2] [--lr 0.05] [--threads 2]
LAN_MASKS.npy holds g's masks of the first --count test images:
`advlab lan masks --lan LAN --data cifar10:DIR --split test --count N --out-dir D`.
Prints one JSON object; only the test split's first --count images are used.
"""
import argparse
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
sys.path.insert(0, os.path.dirname(__file__))
import torch_peer  # noqa: E402
from lan_replica import load_safetensors, read_npy_f32  # noqa: E402


def alexnet_f1(path):
    f1 = torch_peer.alexnet()
    t, _ = load_safetensors(path)
    for i, name in [(1, "conv1"), (5, "conv2"), (9, "conv3"), (13, "fc1")]:
        f1[i].weight.data.copy_(t[name + ".weight"])
        f1[i].bias.data.copy_(t[name + ".bias"])
    f1.eval()
    for p in f1.parameters():
        p.requires_grad_(False)
    return f1


def class_mean_accuracy(m, y):
    """Two-fold nearest-class-mean accuracy on per-pixel standardised masks."""
    n = m.shape[0] // 2
    accs = []
    for tr, te in ((slice(0, n), slice(n, None)), (slice(n, None), slice(0, n))):
        z = (m - m[tr].mean(0)) / (m[tr].std(0) + 1e-6)
        centres = torch.stack([z[tr][y[tr] == k].mean(0) for k in range(10)])
        accs.append((torch.cdist(z[te], centres).argmin(1) == y[te]).double().mean().item())
    return sum(accs) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("f1")
    ap.add_argument("cifar")
    ap.add_argument("lan_masks")
    ap.add_argument("--count", type=int, default=512)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--draws", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    src = "cifar10:" + a.cifar
    xtr, _ = torch_peer.load(src, True, 50000, None, 0)
    x, y = torch_peer.load(src, False, a.count, None, 0)
    n, d = x.shape[0], 3 * 32 * 32
    lan_m = read_npy_f32(a.lan_masks)
    if lan_m.numel() < n * d:
        sys.exit(f"error: {a.lan_masks}: needs masks of at least {n} images ({n}x3x32x32)")
    lan_m = lan_m.reshape(-1, d)[:n].double()
    f1 = alexnet_f1(a.f1)
    with torch.no_grad():
        p0 = F.softmax(f1(x), 1)
    pool = xtr.reshape(xtr.shape[0], -1)
    theta = torch.zeros(n, d, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=a.lr)
    t0 = time.time()
    for step in range(a.steps):
        A = torch.sigmoid(theta)
        lf = 0
        for _ in range(a.draws):
            eta = torch.gather(pool, 0, torch.randint(0, pool.shape[0], (n, d)))
            xt = (A * eta + (1 - A) * x.reshape(n, d)).reshape(n, 3, 32, 32)
            lf = lf - (p0 * F.log_softmax(f1(xt), 1)).sum(1) / a.draws
        obj = (lf - a.beta * A.mean(1)).sum()
        opt.zero_grad()
        obj.backward()
        opt.step()
        if step % 50 == 0 or step == a.steps - 1:
            print(f"step {step}: L_F {lf.mean().item():.4f}, mean A {A.mean().item():.4f}, "
                  f"sd across images {A.std(0).mean().item():.4f}, {time.time() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    oracle = torch.sigmoid(theta).detach().double()
    out = {
        "settings": vars(a),
        "images": n,
        "oracle": {"mean_A": oracle.mean().item(), "sd_across_images": oracle.std(0).mean().item(),
                   "L_F": lf.mean().item(), "class_mean_accuracy": class_mean_accuracy(oracle, y)},
        "lan": {"mean_A": lan_m.mean().item(), "sd_across_images": lan_m.std(0).mean().item(),
                "class_mean_accuracy": class_mean_accuracy(lan_m, y)},
        "seconds": time.time() - t0,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
