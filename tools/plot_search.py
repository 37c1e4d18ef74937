#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Draws what examples/search_subnet found: latency against the objective, one panel per device.

usage: python3 tools/plot_search.py OUT_DIR [PNG]
Reads OUT_DIR/points.csv (every final parent of every search: device, budget_ms, latency_ms,
objective, chosen) and OUT_DIR/results.csv, writes PNG (default OUT_DIR/latency.png). Needs
matplotlib (Debian: python3-matplotlib); exits with status 3 and a note when it is missing.
"""
import csv
import os
import sys


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    out = argv[1]
    png = argv[2] if len(argv) > 2 else os.path.join(out, "latency.png")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_search.py: matplotlib is not installed (apt install python3-matplotlib)",
              file=sys.stderr)
        return 3
    with open(os.path.join(out, "points.csv")) as f:
        points = list(csv.DictReader(f))
    results = []
    path = os.path.join(out, "results.csv")
    if os.path.exists(path):
        with open(path) as f:
            results = [r for r in csv.DictReader(f) if r["status"] == "ok"]
    devices = []
    for p in points:
        if p["device"] not in devices:
            devices.append(p["device"])
    if not devices:
        print("plot_search.py: no points to draw", file=sys.stderr)
        return 1
    cols = min(3, len(devices))
    rows = (len(devices) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4 * rows), squeeze=False)
    for i, dev in enumerate(devices):
        ax = axes[i // cols][i % cols]
        mine = [p for p in points if p["device"] == dev]
        budgets = sorted({float(p["budget_ms"]) for p in mine})
        for b in budgets:
            sel = [p for p in mine if float(p["budget_ms"]) == b]
            ax.scatter([float(p["latency_ms"]) for p in sel], [float(p["objective"]) for p in sel],
                       s=6, alpha=0.35, label="budget %.1f ms" % b)
            ax.axvline(b, color="grey", linewidth=0.8, linestyle=":")
        chosen = [p for p in mine if p["chosen"] == "1"]
        ax.scatter([float(p["latency_ms"]) for p in chosen],
                   [float(p["objective"]) for p in chosen], s=40, marker="*", color="black",
                   label="chosen (predicted)")
        meas = [r for r in results if r["device"] == dev and r["measured_ms"]]
        if meas:
            ax.scatter([float(r["measured_ms"]) for r in meas], [float(r["objective"]) for r in meas],
                       s=40, marker="x", color="red", label="chosen (measured)")
        ax.set_title(dev)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel("objective")
        ax.legend(fontsize=7)
    for j in range(len(devices), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print("plot_search.py: wrote", png)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
