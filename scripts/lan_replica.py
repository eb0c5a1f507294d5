#!/usr/bin/env python3
"""PyTorch replica of the LAN g (SPEC §5): reads lan.safetensors by its
tensor names fc1…fcN (PyTorch Linear layout: weight [out, in], bias [out]),
runs Flatten → (Linear → ReLU)… → Linear → sigmoid → reshape on CIFAR-10
test images, and compares with the masks advlab wrote.

usage: lan_replica.py LAN.safetensors MASKS.npy [CIFAR_DIR] [--first N]

MASKS.npy holds the masks of the first N test images (N×3×32×32), e.g.
results/lan/masks_test_first100.npy from `advlab reproduce lan` or
masks.npy from `advlab lan masks --split test --count N`. Prints the max
absolute difference and exits 1 if it exceeds 1e-4."""
import json
import struct
import sys

import ast

import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", (name, t["dtype"])
        a, b = t["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(t["shape"])
    return out, header.get("__metadata__", {})


class Lan(torch.nn.Module):
    def __init__(self, tensors, chw):
        super().__init__()
        n = len([k for k in tensors if k.startswith("fc") and k.endswith(".weight")])
        # a `mask:…:bn` LAN standardises each input pixel first (BatchNorm1d, eval mode, eps 1e-5)
        self.bn = None
        if "bn0.weight" in tensors:
            d = tensors["bn0.weight"].shape[0]
            self.bn = torch.nn.BatchNorm1d(d, eps=1e-5)
            for k in ("weight", "bias", "running_mean", "running_var"):
                getattr(self.bn, k).data.copy_(tensors[f"bn0.{k}"])
        self.fcs = torch.nn.ModuleList()
        for i in range(1, n + 1):
            w, b = tensors[f"fc{i}.weight"], tensors[f"fc{i}.bias"]
            fc = torch.nn.Linear(w.shape[1], w.shape[0])
            fc.weight.data.copy_(w)
            fc.bias.data.copy_(b)
            self.fcs.append(fc)
        self.chw = chw

    def forward(self, x):
        h = x.flatten(1)
        if self.bn is not None:
            h = self.bn(h)
        for i, fc in enumerate(self.fcs):
            h = fc(h)
            if i + 1 < len(self.fcs):
                h = torch.relu(h)
        return torch.sigmoid(h).reshape(-1, *self.chw)


def read_npy_f32(path):
    """A little-endian float32 C-order .npy (what advlab writes), without numpy."""
    with open(path, "rb") as f:
        assert f.read(6) == b"\x93NUMPY", path
        major = f.read(2)[0]
        n = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        h = ast.literal_eval(f.read(n).decode("latin1"))
        assert h["descr"] == "<f4" and not h["fortran_order"], h
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(h["shape"])


def cifar_test(dir_, n):
    with open(f"{dir_}/test_batch.bin", "rb") as f:
        raw = torch.frombuffer(bytearray(f.read(3073 * n)), dtype=torch.uint8).reshape(n, 3073)
    return raw[:, 1:].reshape(n, 3, 32, 32).float() / 255.0


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    lan_path, masks_path = args[0], args[1]
    cifar = args[2] if len(args) > 2 else "../shared/data/cifar-10-batches-bin"
    want = read_npy_f32(masks_path)
    tensors, meta = load_safetensors(lan_path)
    model = Lan(tensors, tuple(want.shape[1:])).eval()
    x = cifar_test(cifar, want.shape[0])
    with torch.no_grad():
        got = model(x)
    diff = float((got - want).abs().max())
    print(json.dumps({"lan": lan_path, "arch": meta.get("arch"), "masks": masks_path, "images": int(want.shape[0]),
                      "max_abs_diff": diff, "torch": torch.__version__, "ok": diff <= 1e-4}))
    sys.exit(0 if diff <= 1e-4 else 1)


if __name__ == "__main__":
    main()
