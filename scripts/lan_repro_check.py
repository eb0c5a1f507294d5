#!/usr/bin/env python3
"""Recompute `advlab reproduce lan`'s Tables 1-4 from the per-image records
in its results.json (stdlib only) and compare with the reported counts.

usage: lan_repro_check.py results/lan/results.json

For each attack (direct and transfer): T1 = share of kept x* with
f2(g(x*)) = f2(g(x)) (x = the clean test image of the same index, from
test_per_image), TP = share of kept x* flagged, TN = share of their
originals not flagged, Table 4 = the same over kept x* whose clean mask f2
classifies correctly, plus TN over all test images and f1/f2 accuracy.
Exits 1 if any recomputed count differs from the reported one by more
than one image."""
import json
import sys


def main():
    v = json.load(open(sys.argv[1]))["results"]
    test = {r["index"]: r for r in v["test_per_image"]}
    bad = 0

    def check(what, k, n, rep):
        nonlocal bad
        ok = rep["n"] == n and abs(rep["k"] - k) <= 1
        bad += not ok
        print(f"{what:40s} recomputed {k}/{n}  reported {rep['k']}/{rep['n']}  {'ok' if ok else 'DIFFERS'}")

    n = len(test)
    check("f1 accuracy (test)", sum(r["f1_pred"] == r["label"] for r in test.values()), n, v["f1_test_accuracy"])
    check("f2 accuracy on masks (test)", sum(r["f2_pred"] == r["label"] for r in test.values()), n,
          v["f2_test_accuracy_on_masks"])
    check("TN all test images", sum(not r["flag"] for r in test.values()), n, v["tn_all_test"])
    for group in ("direct", "transfer"):
        for name, a in v[group].items():
            adv = a["per_image"]
            orig = [test[r["index"]] for r in adv]
            for r, o in zip(adv, orig):
                assert r["label"] == o["label"]
            m = len(adv)
            check(f"{group} {name} T1", sum(r["f2_pred"] == o["f2_pred"] for r, o in zip(adv, orig)), m,
                  a["table1_f2_mask_class_kept"])
            check(f"{group} {name} TP", sum(r["flag"] for r in adv), m, a["tp"])
            check(f"{group} {name} TN (originals)", sum(not o["flag"] for o in orig), m, a["tn_originals"])
            f = [i for i in range(m) if orig[i]["f2_pred"] == orig[i]["label"]]
            t4 = a["table4"]
            check(f"{group} {name} T4 TP", sum(adv[i]["flag"] for i in f), len(f), t4["tp"])
            check(f"{group} {name} T4 TN", sum(not orig[i]["flag"] for i in f), len(f), t4["tn"])
            check(f"{group} {name} T4 recovery", sum(adv[i]["f2_pred"] == adv[i]["label"] for i in f), len(f),
                  t4["recovery"])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
