#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Draws what examples/search_subnet found: latency against the objective, one panel per device.

usage: python3 tools/plot_search.py OUT_DIR [PNG]
Reads from OUT_DIR (search_subnet --out):
  points.csv      every subnet the searches evaluated: device, budget_ms, latency_ms, objective,
                  chosen (1: the subnet picked for that budget)
  references.csv  the released models (elastic_T1 ... elastic_L3) per device, or for another space its
                  smallest and largest subnets, when present
  results.csv     the chosen subnets, with this machine's measured latency
  shortlist.csv   this machine's shortlisted subnets: predicted and measured latency (with the
                  95% interval of the median), whether each fits its budget, which was chosen
  results.json    the objective's name, axis and unit (official MMACs as a proxy, or top-1 %)
and draws per device: every evaluated subnet (coloured by budget), their Pareto front (the most
objective for the latency), the budget lines, the chosen subnets; on this machine each
shortlisted subnet's predicted latency joined to its measured one (x, with the interval; red:
over budget), the answer at its measured latency; and the released models as reference points. Writes PNG (default
OUT_DIR/latency.png). Needs matplotlib (Debian: python3-matplotlib); exits with status 3 and a
note when it is missing.
"""
import csv
import json
import os
import sys


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def pareto_front(points):
    """The points no other point beats on both latency (lower) and objective (higher)."""
    front, best = [], float("-inf")
    for lat, obj in sorted(points, key=lambda p: (p[0], -p[1])):
        if obj > best:
            front.append((lat, obj))
            best = obj
    return front


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
    points = read_csv(os.path.join(out, "points.csv"))
    references = read_csv(os.path.join(out, "references.csv"))
    results = [r for r in read_csv(os.path.join(out, "results.csv")) if r["status"] == "ok"]
    shortlist = read_csv(os.path.join(out, "shortlist.csv"))
    axis, kind, unit = "objective", "", ""
    if os.path.exists(os.path.join(out, "results.json")):
        with open(os.path.join(out, "results.json")) as f:
            meta = json.load(f)
        axis = meta.get("objective_axis", meta.get("objective", axis))
        kind = meta.get("objective_kind", "")
        unit = meta.get("objective_unit", "")
    short = {"proxy": "official MMACs (proxy, not accuracy)",
             "top-1": "top-1 % after BN recalibration"}.get(kind, axis)
    if unit and unit not in axis:
        axis = "%s [%s]" % (axis, unit)
    devices = []
    for p in points + references:
        if p["device"] not in devices:
            devices.append(p["device"])
    if not devices:
        print("plot_search.py: no points to draw", file=sys.stderr)
        return 1
    cols = min(3, len(devices))
    rows = (len(devices) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.6 * cols, 4.6 * rows), squeeze=False)
    for i, dev in enumerate(devices):
        ax = axes[i // cols][i % cols]
        mine = [p for p in points if p["device"] == dev]
        budgets = sorted({float(p["budget_ms"]) for p in mine})
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for k, b in enumerate(budgets):
            sel = [p for p in mine if float(p["budget_ms"]) == b]
            c = colours[k % len(colours)]
            ax.scatter([float(p["latency_ms"]) for p in sel], [float(p["objective"]) for p in sel],
                       s=5, alpha=0.25, color=c, rasterized=True,
                       label="evaluated, budget %.1f ms (%d)" % (b, len(sel)))
            ax.axvline(b, color=c, linewidth=1.1, linestyle="--",
                       label="budget %.2f ms" % b)
        front = pareto_front([(float(p["latency_ms"]), float(p["objective"])) for p in mine])
        if front:
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="black",
                    linewidth=1.0, label="Pareto front of the evaluated")
        chosen = [p for p in mine if p["chosen"] == "1"]
        sl = [s for s in shortlist if s["device"] == dev]
        if sl:  # predicted -> measured for every shortlisted subnet, the interval as a bar
            for s in sl:
                y = float(s["objective"])
                over = s["fits"] != "1"
                ax.plot([float(s["predicted_ms"]), float(s["measured_ms"])], [y, y],
                        color="tab:red" if over else "tab:green", linewidth=0.8, zorder=4)
                ax.errorbar([float(s["measured_ms"])], [y],
                            xerr=[[float(s["measured_ms"]) - float(s["measured_lo_ms"])],
                                  [float(s["measured_hi_ms"]) - float(s["measured_ms"])]],
                            fmt="x", color="tab:red" if over else "tab:green", markersize=6,
                            elinewidth=0.8, zorder=5)
            ax.scatter([float(s["predicted_ms"]) for s in sl], [float(s["objective"]) for s in sl],
                       s=22, facecolors="none", edgecolors="black", zorder=5,
                       label="shortlisted: predicted")
            ax.plot([], [], "x", color="tab:green", label="shortlisted: measured, within budget")
            ax.plot([], [], "x", color="tab:red", label="shortlisted: measured, over budget")
            win = [s for s in sl if s["chosen"] == "1"]
            ax.scatter([float(s["measured_ms"]) for s in win],
                       [float(s["objective"]) for s in win], s=110, marker="*", color="black",
                       zorder=6, label="answer (measured latency)")
        else:
            ax.scatter([float(p["latency_ms"]) for p in chosen],
                       [float(p["objective"]) for p in chosen], s=70, marker="*", color="black",
                       zorder=5, label="chosen (predicted latency)")
        refs = [r for r in references if r["device"] == dev]
        if refs:
            ax.scatter([float(r["latency_ms"]) for r in refs],
                       [float(r["objective"]) for r in refs], s=36, marker="D",
                       facecolors="none", edgecolors="tab:purple", zorder=4,
                       label="released ElasticViT models"
                       if any(r["name"].startswith("elastic_") for r in refs)
                       else "fixed-size baselines (smallest, largest subnet)")
            for r in refs:
                ax.annotate(r["name"].replace("elastic_", ""),
                            (float(r["latency_ms"]), float(r["objective"])), fontsize=7,
                            color="tab:purple", xytext=(3, 3), textcoords="offset points")
        where = ("predicted by the calibrated block table; shortlist measured" if dev == "this"
                 else "predicted from the phone's block table")
        ax.set_title("%s: objective %s%s" % ("this machine" if dev == "this" else dev, short,
                                             " [%s]" % unit if unit and unit not in short else ""),
                     fontsize=9)
        ax.set_xlabel("latency (ms), %s" % where, fontsize=8)
        ax.set_ylabel(axis, fontsize=8)
        ax.grid(True, linewidth=0.3, alpha=0.5)
        ax.legend(fontsize=6, loc="lower right")
    for j in range(len(devices), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print("plot_search.py: wrote", png)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
