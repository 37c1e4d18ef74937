#!/usr/bin/env python3
"""Sampler ablation of the fashion supernet: which of evit's sampling strategies trains the best
supernet for the same step budget.

For each strategy (uniform, sandwich, ca, ca+pa) and seed, examples/python/train_supernet.py
trains the supernet for --steps steps (--holdout training images kept out: the validation split);
then, for each MACs level of train_supernet.py (4, 8, 13, 19, 26 MMACs, windows [L, L + 3]):

  (a) random  --per-level subnets drawn in the level's window (a fixed draw, the same subnets for
              every run), each scored by top-1 after BatchNorm recalibration;
  (b) search  evit's evolutionary search (evit.search.evolutionary) for the subnet of best top-1
              with its MACs inside the level's window; the winner is then scored as in (a).

Where the numbers come from: every reported top-1 is on the first --test-images images of the
Fashion-MNIST test set, on which nothing is chosen. The search's objective is top-1 on the first
--search-images of the validation split (training images no run trains on): choosing the winner
on the test images would make (b) look better than a fresh sample of images would show. The
recalibration uses --calib-batches x --calib-batch training images (not validation ones), the same
for every subnet. Scoring runs through evit's runtime (Supernet.load, recalibrate, forward; the
same numbers as the PyTorch model, python/tests/test_train_smoke.py, and several times faster).

Output in --out: runs/<strategy>-s<seed>/ (training checkpoint, random.json, search.json,
result.json), results.json (every run), results.md (strategy x level, mean ± std over seeds)
and results.png (top-1 against MACs per strategy; matplotlib). A run whose result.json exists is
skipped, an interrupted training resumes from its checkpoint and an interrupted evaluation from its
finished phase: run the same command again to continue.

--jobs N runs N single-threaded worker processes (2 on a 2-core machine). --quick shrinks
everything for a check of the pipeline (minutes); its figures mean nothing.

  /usr/bin/python3 benchmarks/ablation/run_ablation.py --out /tmp/ablation --quick
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import evit  # noqa: E402
import train_supernet as ts  # noqa: E402

STRATEGIES = ("uniform", "sandwich", "ca", "ca+pa")
SUBNET_SEED = 4242  # the (a) draw: the same subnets in every run, so runs compare pairwise


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="results directory (resumes what it holds)")
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=200, help="training steps of every run")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--holdout", type=int, default=5000, help="validation images (of training)")
    p.add_argument("--per-level", type=int, default=50, help="(a) random subnets per level")
    p.add_argument("--test-images", type=int, default=1000, help="reported top-1 on these")
    p.add_argument("--search-images", type=int, default=300, help="the search's validation images")
    p.add_argument("--calib-batches", type=int, default=4)
    p.add_argument("--calib-batch", type=int, default=64)
    p.add_argument("--population", type=int, default=12, help="search population")
    p.add_argument("--iterations", type=int, default=2,
                   help="search iterations (each population/2 mutations and crossovers)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes, one thread each")
    p.add_argument("--quick", action="store_true", help="a tiny budget: checks the pipeline")
    p.add_argument("--run", nargs=2, metavar=("STRATEGY", "SEED"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.batch, args.warmup, args.holdout = 6, 16, 2, 1000
        args.per_level, args.test_images, args.search_images = 3, 200, 100
        args.calib_batches, args.calib_batch, args.population, args.iterations = 1, 32, 4, 1
    args.strategy_list = args.strategies.split(",")
    args.seed_list = [int(s) for s in args.seeds.split(",")]
    for s in args.strategy_list:
        if s not in STRATEGIES:
            p.error("unknown strategy %r" % s)
    return args


def write_json(path, value):
    """Writes atomically: an interrupted write leaves no half file that resume would trust."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1)
    os.replace(tmp, path)


def run_dir(args, strategy, seed):
    return os.path.join(args.out, "runs", "%s-s%d" % (strategy, seed))


# ---- one run (in a worker process) ---------------------------------------------------------------

class Scorer:
    """Top-1 of subnets of one trained supernet through evit: recalibrate, then forward."""

    def __init__(self, path, calib):
        self.net = evit.Supernet.load(path, ts.SPACE, threads=1)
        self.calib = calib
        self.inputs = {}  # (name, resolution) -> images resized once

    def _resized(self, name, images, r):
        """images (a tensor or a list of them) at r x r, bicubic as the model's forward, as
        NumPy arrays for evit: made once per resolution (the space has two, 28 and 32)."""
        key = (name, r)
        if key not in self.inputs:
            def at(x):
                if x.shape[-1] != r:
                    x = F.interpolate(x, size=(r, r), mode="bicubic", align_corners=False)
                return x.numpy()
            self.inputs[key] = [at(b) for b in images] if isinstance(images, list) else at(images)
        return self.inputs[key]

    def top1(self, arch, name, images, labels, batch=250):
        r = arch.resolution
        bn = self.net.recalibrate(arch, self._resized("calib", self.calib, r))
        x = self._resized(name, images, r)
        correct = 0
        for i in range(0, len(x), batch):
            logits = np.asarray(self.net.forward(arch, x[i:i + batch], bn=bn))
            correct += int((logits.argmax(1) == labels[i:i + batch]).sum())
        return correct / len(x)


def train_run(args, strategy, seed, d):
    argv = ["--sampler", strategy, "--seed", str(seed), "--steps", str(args.steps),
            "--batch", str(args.batch), "--warmup", str(args.warmup), "--holdout",
            str(args.holdout), "--threads", "1", "--out", os.path.join(d, "train"), "--resume",
            "--ckpt-every", str(max(10, args.steps // 10)),
            "--log-every", str(max(10, args.steps // 10))]
    t0 = time.time()
    r = ts.main(argv)
    return {"train_seconds_this_call": time.time() - t0, "steps_this_call": r["steps"],
            "cpu_seconds_this_call": r["cpu_seconds"]}


def one_run(args, strategy, seed):
    d = run_dir(args, strategy, seed)
    os.makedirs(d, exist_ok=True)
    ts.set_threads(1)
    timing_path = os.path.join(d, "timing.json")
    timing = json.load(open(timing_path)) if os.path.exists(timing_path) else {}
    if "train" not in timing:
        timing["train"] = train_run(args, strategy, seed, d)
        write_json(timing_path, timing)
    train_x, train_y = ts.load_split("train")
    keep, val = ts.holdout_split(len(train_x), args.holdout)
    calib = ts.calibration_batches(train_x[keep], args.calib_batches, args.calib_batch, 0)
    test_x, test_y = ts.load_split("t10k")
    test = ts.to_input(test_x[:args.test_images]), test_y[:args.test_images]
    search_set = ts.to_input(train_x[val[:args.search_images]]), train_y[val[:args.search_images]]
    scorer = Scorer(os.path.join(d, "train", "supernet.safetensors"), calib)
    levels = ts.make_sampler("ca", SUBNET_SEED)

    # (a) random subnets per level: the same draw (SUBNET_SEED) in every run.
    random_path = os.path.join(d, "random.json")
    if not os.path.exists(random_path):
        t0, c0, out = time.time(), time.process_time(), []
        for level in range(levels.num_levels()):
            for _ in range(args.per_level):
                arch = levels.draw_in_level(level)
                out.append({"level": level, "arch": arch.to_text(), "mmacs": arch.macs() / 1e6,
                            "top1": scorer.top1(arch, "test", *test)})
        write_json(random_path, out)
        timing["random_seconds"] = time.time() - t0
        timing["random_cpu_seconds"] = time.process_time() - c0
        write_json(timing_path, timing)

    # (b) the best subnet per level by evolutionary search (top-1 on validation images).
    search_path = os.path.join(d, "search.json")
    if not os.path.exists(search_path):
        t0, c0, out = time.time(), time.process_time(), []
        half = max(1, args.population // 2)
        options = evit.search.EvolutionOptions(
            "elasticvit", population=args.population, parents=half, mutations=half,
            crossovers=half, iterations=args.iterations)
        macs = evit.cost.macs(ts.SPACE)
        for level in range(levels.num_levels()):
            lo, hi = levels.window_of(level)
            cache = {}  # a subnet the search proposes again is not scored again

            def objective(arch):
                key = arch.to_text()
                if key not in cache:
                    cache[key] = scorer.top1(arch, "search", *search_set)
                return cache[key]
            r = evit.search.evolutionary(
                ts.SPACE, evit.search.maximize(objective, "top1_val"),
                [evit.search.within(macs, lo, hi, "macs")], options, seed=seed)
            best = r.best.arch
            out.append({"level": level, "arch": best.to_text(), "mmacs": best.macs() / 1e6,
                        "top1_val": r.best.value, "top1": scorer.top1(best, "test", *test),
                        "evaluations": len(cache), "feasible": r.best.feasible})
        write_json(search_path, out)
        timing["search_seconds"] = time.time() - t0
        timing["search_cpu_seconds"] = time.process_time() - c0
        write_json(timing_path, timing)

    result = {"strategy": strategy, "seed": seed, "steps": args.steps, "batch": args.batch,
              "random": json.load(open(random_path)), "search": json.load(open(search_path)),
              "timing": timing}
    write_json(os.path.join(d, "result.json"), result)


# ---- the driver ----------------------------------------------------------------------------------

def settings(args):
    """What the runs depend on: a results directory made with other settings is refused."""
    keys = ("steps", "batch", "warmup", "holdout", "per_level", "test_images", "search_images",
            "calib_batches", "calib_batch", "population", "iterations")
    return {k: getattr(args, k) for k in keys}


def run_all(args):
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "settings.json")
    if os.path.exists(path):
        saved = json.load(open(path))
        if saved != settings(args):
            raise SystemExit("%s holds runs made with %s, not %s"
                             % (args.out, saved, settings(args)))
    else:
        write_json(path, settings(args))
    todo = [(s, seed) for seed in args.seed_list for s in args.strategy_list
            if not os.path.exists(os.path.join(run_dir(args, s, seed), "result.json"))]
    print("%d runs to do (%d done)" % (len(todo), len(args.strategy_list) * len(args.seed_list)
                                       - len(todo)), flush=True)
    # Each worker is this script with --run, one thread for torch, OpenBLAS and OpenMP. glibc's
    # malloc keeps the freed feature maps (up to 32 MB each) instead of handing them back to the
    # kernel: otherwise every step faults its pages in again, ~10% of a training step here.
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.setdefault("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=33554432:"
                   "glibc.malloc.trim_threshold=8589934592")
    base = [sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
    running, failed = [], []
    while todo or running:
        while todo and len(running) < args.jobs:
            s, seed = todo.pop(0)
            os.makedirs(run_dir(args, s, seed), exist_ok=True)
            log = open(os.path.join(run_dir(args, s, seed), "log.txt"), "a")
            running.append(((s, seed), log, time.time(), subprocess.Popen(
                base + ["--run", s, str(seed)], env=env, stdout=log, stderr=subprocess.STDOUT)))
        time.sleep(1)
        for item in list(running):
            (s, seed), log, t0, proc = item
            if proc.poll() is not None:
                running.remove(item)
                log.close()
                status = "done" if proc.returncode == 0 else "FAILED (%d)" % proc.returncode
                print("%-8s seed %d %s in %.0f s" % (s, seed, status, time.time() - t0), flush=True)
                if proc.returncode:
                    failed.append((s, seed))
    summarize(args)
    if failed:
        raise SystemExit("failed runs (see their log.txt): %s" % failed)


# ---- the summary ---------------------------------------------------------------------------------

def summarize(args):
    results = []
    for seed in args.seed_list:
        for s in args.strategy_list:
            path = os.path.join(run_dir(args, s, seed), "result.json")
            if os.path.exists(path):
                results.append(json.load(open(path)))
    levels = ts.make_sampler("ca", SUBNET_SEED)
    names = ["%g" % (levels.window_of(i)[0] / 1e6) for i in range(levels.num_levels())]
    # table[kind][strategy][level] = per-seed values (a: the mean over the level's subnets).
    table = {"random": {}, "search": {}}
    for r in results:
        for kind in table:
            row = table[kind].setdefault(r["strategy"], [[] for _ in names])
            for level in range(len(names)):
                top1 = [e["top1"] for e in r[kind] if e["level"] == level]
                row[level].append(float(np.mean(top1)))
    summary = {"settings": settings(args), "levels_mmacs": names, "runs": results,
               "table": {k: {s: [{"mean": float(np.mean(v)), "std": float(np.std(v)),
                                  "seeds": len(v)} for v in row] for s, row in t.items()}
                         for k, t in table.items()}}
    write_json(os.path.join(args.out, "results.json"), summary)
    lines = ["Top-1 (%%) on %d Fashion-MNIST test images after BatchNorm recalibration, mean ± "
             "std over seeds; %d steps of batch %d per run." % (args.test_images, args.steps,
                                                                args.batch), ""]
    titles = {"random": "(a) mean of %d random subnets per level" % args.per_level,
              "search": "(b) best subnet per level by evolutionary search (validation top-1)"}
    for kind in ("random", "search"):
        lines += ["%s" % titles[kind], "",
                  "| strategy | " + " | ".join("%s MMACs" % n for n in names) + " | seeds |",
                  "|---" * (len(names) + 2) + "|"]
        for s in args.strategy_list:
            if s not in table[kind]:
                continue
            cells = ["%.2f ± %.2f" % (100 * np.mean(v), 100 * np.std(v)) for v in table[kind][s]]
            lines.append("| %s | %s | %d |" % (s, " | ".join(cells), len(table[kind][s][0])))
        lines.append("")
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    plot(args, results, os.path.join(args.out, "results.png"))


def plot(args, results, path):
    import matplotlib
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, s in enumerate(args.strategy_list):
        runs = [r for r in results if r["strategy"] == s]
        if not runs:
            continue
        for kind, style in (("random", "-o"), ("search", "--^")):
            levels = sorted({e["level"] for e in runs[0][kind]})
            x = [np.mean([e["mmacs"] for r in runs for e in r[kind] if e["level"] == lv])
                 for lv in levels]
            per_seed = [[np.mean([e["top1"] for e in r[kind] if e["level"] == lv]) for r in runs]
                        for lv in levels]
            ax.errorbar(x, [100 * np.mean(v) for v in per_seed],
                        yerr=[100 * np.std(v) for v in per_seed], fmt=style, color="C%d" % i,
                        capsize=3, label="%s, %s" % (s, "random" if kind == "random" else "best"))
    ax.set_xlabel("MMACs")
    ax.set_ylabel("top-1 (%%, %d test images)" % args.test_images)
    ax.set_title("fashion supernet, %d steps: random subnets (solid), searched best (dashed)"
                 % args.steps, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    args = parse_args(argv)
    if not ts.dataset_available():
        raise SystemExit("Fashion-MNIST not found in %s (Debian: dataset-fashion-mnist)"
                         % ts.DATA_DIR)
    if args.run:
        one_run(args, args.run[0], int(args.run[1]))
    else:
        t0 = time.time()
        run_all(args)
        print("total %.0f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
