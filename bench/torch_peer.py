"""PyTorch peer of `advlab bench suite`: the same workloads on the CPU.

Usage (the suite runs it for you): python3 torch_peer.py JOB_JSON
JOB_JSON: {"workloads": [{"workload": "mlp", "images": N}, ...],
           "mnist": "mnist:DIR" | "random", "cifar": "cifar10:DIR" | "random",
           "seed": S, "threads": T, "cw_steps": 100, "lr": 0.01}
Prints one JSON list (last line): [{"workload", "images", "seconds",
"images_per_sec"}, ...]. Each workload is warmed up on a few images first,
like the advlab side. "random" data: uniform [0,1] images of the same shape.
"""

import gzip
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        return bytearray(f.read())


def idx_images(path):
    raw = read(path)
    n, h, w = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return torch.frombuffer(raw, dtype=torch.uint8, offset=16).reshape(n, 1, h, w).float() / 255.0


def idx_labels(path):
    return torch.frombuffer(read(path), dtype=torch.uint8, offset=8).long()


def find(d, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise SystemExit(f"torch_peer: no {stem}[.gz] in {d}")


def load(source, train, n, shape, seed):
    kind, _, d = source.partition(":")
    if kind == "mnist":
        pre = "train" if train else "t10k"
        x = idx_images(find(d, f"{pre}-images-idx3-ubyte"))[:n]
        y = idx_labels(find(d, f"{pre}-labels-idx1-ubyte"))[:n]
    elif kind == "cifar10":
        files = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
        raw = torch.cat([torch.frombuffer(read(os.path.join(d, f)), dtype=torch.uint8).reshape(-1, 3073) for f in files])
        raw = raw[:n]
        x = raw[:, 1:].reshape(-1, 3, 32, 32).float() / 255.0
        y = raw[:, 0].long()
    else:
        g = torch.Generator().manual_seed(seed)
        x = torch.rand((n,) + shape, generator=g)
        y = torch.randint(0, 10, (n,), generator=g)
    return x.contiguous(), y.contiguous()


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 500), nn.ReLU(), nn.Linear(500, 10))


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("m", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("s", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.m) / self.s


def alexnet():
    lrn = lambda: nn.LocalResponseNorm(3, alpha=5e-5, beta=0.75, k=1.0)
    return nn.Sequential(
        Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
        nn.Conv2d(3, 32, 5, padding=2), nn.MaxPool2d(3, 2), nn.ReLU(), lrn(),
        nn.Conv2d(32, 32, 5, padding=2), nn.ReLU(), nn.AvgPool2d(3, 2), lrn(),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.AvgPool2d(3, 2), nn.Flatten(),
        nn.Linear(576, 10))


def train_epoch(model, x, y, batch, lr, seed):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    for i in range(0, len(x), batch):
        idx = order[i:i + batch]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()


def fgsm(model, x, y, batch, eps=0.1):
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].clone().requires_grad_(True)
        F.cross_entropy(model(xb), y[i:i + batch]).backward()
        adv = (xb + eps * xb.grad.sign()).clamp(0, 1).detach()
        with torch.no_grad():
            model(adv).argmax(1)


def cw(model, x, y, batch, steps, c=1.0, lr=5e-3, seed=0):
    """Targeted C&W-L2 at random targets, one c, `steps` Adam steps, no abort."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    tgt_all = (y + torch.randint(1, 10, y.shape, generator=g)) % 10
    for i in range(0, len(x), batch):
        x0, t = x[i:i + batch], tgt_all[i:i + batch]
        w0 = torch.atanh((x0 * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6))
        w = w0.clone().requires_grad_(True)
        opt = torch.optim.Adam([w], lr=lr)
        onehot = F.one_hot(t, 10).bool()
        best_l2 = torch.full((len(x0),), float("inf"))
        best = x0.clone()
        for _ in range(steps):
            adv = (torch.tanh(w) + 1) / 2
            z = model(adv)
            l2 = ((adv - x0) ** 2).flatten(1).sum(1)
            real = z[onehot]
            other = z.masked_fill(onehot, -1e9).max(1).values
            loss = (l2 + c * (other - real).clamp(min=0)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                ok = (z.argmax(1) == t) & (l2 < best_l2)
                best_l2 = torch.where(ok, l2, best_l2)
                best[ok] = adv[ok].detach()


def main():
    job = json.loads(sys.argv[1])
    torch.set_num_threads(int(job.get("threads", 2)))
    seed = int(job.get("seed", 0))
    torch.manual_seed(seed)
    out = []
    for item in job["workloads"]:
        wl, n = item["workload"], int(item["images"])
        cifar = wl == "alexnet"
        shape = (3, 32, 32) if cifar else (1, 28, 28)
        x, y = load(job["cifar" if cifar else "mnist"], wl in ("mlp", "lenet", "alexnet"), n, shape, seed)
        n = len(x)
        model = {"mlp": mlp, "lenet": lenet, "fgsm": mlp, "cw": mlp, "alexnet": alexnet}[wl]()
        if wl in ("mlp", "lenet", "alexnet"):
            b = min(128, n)
            run = lambda xs, ys: train_epoch(model, xs, ys, b, float(job.get("lr", 0.01)), seed)
        elif wl == "fgsm":
            b = min(1000, n)
            run = lambda xs, ys: fgsm(model, xs, ys, b)
        else:
            b = min(1000, n)
            run = lambda xs, ys: cw(model, xs, ys, b, int(job.get("cw_steps", 100)), seed=seed)
        warm = min(n, 2 * b if wl in ("mlp", "lenet", "alexnet") else 2)
        run(x[:warm], y[:warm])
        t0 = time.perf_counter()
        run(x, y)
        secs = time.perf_counter() - t0
        print(f"torch_peer: {wl}: {n} images in {secs:.2f} s", file=sys.stderr)
        out.append({"workload": wl, "images": n, "seconds": secs, "images_per_sec": n / secs})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
