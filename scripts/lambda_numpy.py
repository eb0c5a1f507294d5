#!/usr/bin/env python3
"""λ = sqrt(diag((NᵀN)⁻¹)) of the flow certificate (SPEC §7) in numpy, from
scratch: N₁ is built row by row as explicit differences r_p − r_{p+s} with
zero (constant) padding, then NᵀN is inverted with numpy.linalg.inv.

Writes OUT_DIR/lambda_{diag4,cross4}.npy (28×28, float64) and summary.json;
tests/certify.rs (`lambda_equals_numpy`) compares advlab's λ with them
(max |Δ| ≤ 1e-6). If ADVLAB_LAMBDA (a lambda.npy written by `advlab certify
--threat flow`, 2×28×28) is given, it is compared here too.
Usage: scripts/lambda_numpy.py [OUT_DIR] [ADVLAB_LAMBDA]   (needs numpy)"""
import json, sys
from pathlib import Path

import numpy as np

OFFSETS = {"diag4": [(1, 1), (1, -1), (-1, 1), (-1, -1)], "cross4": [(1, 0), (-1, 0), (0, 1), (0, -1)]}


def lam(h, w, nb):
    rows = []
    for i in range(h):
        for j in range(w):
            for di, dj in OFFSETS[nb]:
                r = np.zeros(h * w)
                r[i * w + j] += 1.0
                qi, qj = i + di, j + dj
                if 0 <= qi < h and 0 <= qj < w:
                    r[qi * w + qj] -= 1.0
                rows.append(r)
    n = np.array(rows)
    return np.sqrt(np.diag(np.linalg.inv(n.T @ n))).reshape(h, w)


out = Path(sys.argv[1] if len(sys.argv) > 1 else "results/lambda-numpy")
out.mkdir(parents=True, exist_ok=True)
summary = {"numpy": np.__version__, "image": [28, 28], "padding": "constant (zero)", "command": " ".join(sys.argv)}
for nb in OFFSETS:
    l = lam(28, 28, nb)
    np.save(out / f"lambda_{nb}.npy", l)
    summary[nb] = {"min": float(l.min()), "max": float(l.max())}
if len(sys.argv) > 2:
    adv = np.load(sys.argv[2])
    d = float(np.abs(adv[0] - np.load(out / "lambda_diag4.npy")).max())
    summary["advlab_lambda_npy"] = {"file": sys.argv[2], "neighbours": "diag4", "max_abs_diff": d, "ok": d <= 1e-6}
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(json.dumps(summary, indent=2))
