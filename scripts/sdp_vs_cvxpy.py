#!/usr/bin/env python3
"""Compare `advlab sdp` with cvxpy/SCS on seeded random zero-diagonal symmetric P.

For D in (50, 200, 500): writes P.npy, runs `advlab sdp`, solves
max <P, Z> s.t. diag Z <= 1, Z PSD with SCS, and checks
  lower <= optimum <= upper (up to SCS's own accuracy),
  (upper - lower) <= 1e-3 * |optimum|,
  D * max(lambda_max(P - diag c), 0) + sum(max(c, 0)) from c.npy in numpy <= upper.
Usage: scripts/sdp_vs_cvxpy.py [ADVLAB_BINARY] [OUT_DIR]   (needs numpy, cvxpy)
Not part of `cargo test` (SCS on D = 500 takes minutes)."""
import json, subprocess, sys, time
from pathlib import Path

import cvxpy as cp
import numpy as np

exe = sys.argv[1] if len(sys.argv) > 1 else "target/release/advlab"
root = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/sdp-vs-cvxpy")
rows, ok_all = [], True
for d in (50, 200, 500):
    rng = np.random.default_rng(d)
    a = rng.standard_normal((d, d))
    p = np.triu(a, 1)
    p = p + p.T
    out = root / f"d{d}"
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "P.npy", p)
    t = time.time()
    subprocess.run([exe, "sdp", "--matrix", str(out / "P.npy"), "--out-dir", str(out)], check=True, capture_output=True)
    t_adv = time.time() - t
    r = json.load(open(out / "results.json"))["results"]
    c = np.load(out / "c.npy")
    lam = np.linalg.eigvalsh(p - np.diag(c)).max()
    recomputed = d * max(lam, 0.0) + np.maximum(c, 0).sum()
    z = cp.Variable((d, d), PSD=True)
    prob = cp.Problem(cp.Maximize(cp.trace(p @ z)), [cp.diag(z) <= 1])
    t = time.time()
    prob.solve(solver=cp.SCS, eps=1e-7, max_iters=200000)
    t_scs = time.time() - t
    opt = prob.value
    slack = 1e-5 * abs(opt)  # SCS's accuracy
    checks = {
        "lower<=opt": bool(r["lower"] <= opt + slack),
        "opt<=upper": bool(opt <= r["upper"] + slack),
        "gap<=1e-3|opt|": bool(r["upper"] - r["lower"] <= 1e-3 * abs(opt)),
        "recomputed<=upper": bool(recomputed <= r["upper"]),
    }
    ok_all &= all(checks.values())
    rows.append(dict(D=d, lower=r["lower"], scs=float(opt), upper=r["upper"], gap=r["upper"] - r["lower"],
                     recomputed=float(recomputed), sweeps=r["iterations"], advlab_s=round(t_adv, 2),
                     scs_s=round(t_scs, 2), scs_status=prob.status, **checks))
    print(json.dumps(rows[-1]), flush=True)
json.dump({"command": " ".join(sys.argv), "rows": rows, "all_ok": ok_all}, open(root / "summary.json", "w"), indent=1)
sys.exit(0 if ok_all else 1)
