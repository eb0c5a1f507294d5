#!/usr/bin/env python3
"""Thesis §3 table analogues from an attack's results.json and detect's
results.json (stdlib only): the adversarial set is the attack's adv.npy
(detect --input), the benign set the same test images, clean (detect
--benign-data with the same count), so record i of both is test image i.

Kept x*: clean-correct images whose adversarial f1 misclassifies.
Prints markdown; every rate with a 95% Wilson interval."""
import json
import math
import sys


def wilson(k, n, z=1.96):
    if n == 0:
        return "-"
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return f"{p:.3f} [{max(0, c - h):.3f}, {min(1, c + h):.3f}] ({k}/{n})"


def auc(pos, neg):
    if not pos or not neg:
        return float("nan")
    s = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return s / (len(pos) * len(neg))


attack = json.load(open(sys.argv[1]))
det = json.load(open(sys.argv[2]))
ap = attack["results"]["per_image"]
adv = det["results"]["per_image"]
ben = det["results"]["benign_per_image"]
assert len(ap) == len(adv) <= len(ben), (len(ap), len(adv), len(ben))
kept = [i for i, r in enumerate(ap) if r["clean_pred"] == r["label"] and r["adv_pred"] != r["label"]]
for i in range(len(ap)):
    assert adv[i]["f1_pred"] == ap[i]["adv_pred"], f"record {i}: detect's f1 differs from the attack's"
n = len(ben)
print(f"attack: {attack['command']}, settings.attack = {json.dumps(attack['settings']['attack'])}")
print(f"images {len(ap)}, clean-correct {sum(r['clean_pred'] == r['label'] for r in ap)}, kept x* (fool f1) {len(kept)}\n")
print("| quantity | value [95% CI] (count) |\n|---|---|")
print(f"| f1 accuracy, clean (benign set) | {wilson(sum(r['f1_pred'] == r['label'] for r in ben), n)} |")
print(f"| f2 accuracy on clean masks (benign set) | {wilson(sum(r['f2_pred'] == r['label'] for r in ben), n)} |")
print(f"| T1: P(f2(g(x*)) = f2(g(x))) over kept | {wilson(sum(adv[i]['f2_pred'] == ben[i]['f2_pred'] for i in kept), len(kept))} |")
print(f"| T2: TP = P(flag given x*), kept | {wilson(sum(adv[i]['flag'] for i in kept), len(kept))} |")
print(f"| T2: TN = P(no flag given x), originals of kept | {wilson(sum(not ben[i]['flag'] for i in kept), len(kept))} |")
print(f"| TN over all {n} benign images | {wilson(sum(not r['flag'] for r in ben), n)} |")
a = auc([adv[i]["score"] for i in kept], [ben[i]["score"] for i in kept])
print(f"| AUC of score, kept x* vs their originals | {a:.4f} |")
good = [i for i in kept if ben[i]["f2_pred"] == ben[i]["label"]]
print(f"| T4 filter: kept whose clean mask f2 classifies correctly | {len(good)} of {len(kept)} |")
print(f"| T4: TP | {wilson(sum(adv[i]['flag'] for i in good), len(good))} |")
print(f"| T4: TN (largely by construction: f2 = label, f1 = label) | {wilson(sum(not ben[i]['flag'] for i in good), len(good))} |")
print(f"| T4: recovery, f2(g(x*)) = true label | {wilson(sum(adv[i]['f2_pred'] == adv[i]['label'] for i in good), len(good))} |")
d = det["results"]["detection"]
print(f"| detect's own (all {d['adversarial']} adv vs {d['benign']} benign): TP / TN / AUC | "
      f"{d['tp']:.4f} / {d['tn']:.4f} / {d['auc']:.4f} |")
