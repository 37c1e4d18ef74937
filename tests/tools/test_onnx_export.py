#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test of tools/export_onnx.py: ONNX Runtime (npm's onnxruntime-node, through tools/ort/run.js)
on an exported subnet gives evit's logits within 1e-5, BatchNorm folded and kept.

For each subnet of the chosen set, run_subnet runs it on random images (batch 2) and writes the
subnet file (--export-subnet), the images and its logits; export_onnx.py turns the file into ONNX
twice (--bn fold, --bn keep) and run.js runs both on the same images. Prints each model's largest
absolute difference and the largest over the set; fails when one exceeds the bar (or a logit is not
finite, or a step fails).

    test_onnx_export.py --run-subnet build/release/examples/run_subnet --set released|random|mini

Sets: released (the 9 released subnets of evit's random official-size supernet), random (random
subnets of the same supernet), mini (the reference supernet of tests/data/elasticvit-mini: its max
subnet, the 16 reference cases and random subnets). Exits 77 (skipped) when python3-onnx or
onnxruntime-node is missing, unless CI=true (then it fails): tools/dev.sh test installs both."""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
runner = os.path.join(root, "tools", "ort", "run.js")
mini_supernet = os.path.join(root, "tests", "data", "elasticvit-mini", "supernet.safetensors")
mini_cases = os.path.join(root, "tests", "data", "elasticvit-mini", "cases.json")
BAR = 1e-5
BATCH = 2
RELEASED = ["elastic_T1", "elastic_T2", "elastic_S1", "elastic_S2", "elastic_M", "elastic_L1",
            "elastic_L1.5", "elastic_L2", "elastic_L3"]


def skip(why):
    if os.environ.get("CI") == "true":
        print("FAILED (under CI): " + why)
        sys.exit(1)
    print("SKIPPED: " + why)
    sys.exit(77)


def cases(which):
    """(label, run_subnet arguments) of the set."""
    if which == "released":
        return [(n, ["--arch", n]) for n in RELEASED]
    if which == "random":
        return [("random seed %d" % s, ["--random-arch", str(s)]) for s in (1, 2, 3, 4)]
    mini = ["--space", "mini", "--weights", mini_supernet]
    with open(mini_cases) as f:
        ref = json.load(f)["cases"]
    out = [("mini max", mini)]
    out += [("mini " + c["name"], mini + ["--arch", json.dumps(c["arch"])]) for c in ref]
    out += [("mini random seed %d" % s, mini + ["--random-arch", str(s)]) for s in (1, 2, 3)]
    return out


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (os.path.basename(cmd[0]), r.returncode,
                                                 (r.stderr or r.stdout).strip()))
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-subnet", required=True)
    ap.add_argument("--set", required=True, choices=("released", "random", "mini"))
    ap.add_argument("--node", default=shutil.which("node") or "/usr/bin/node")
    args = ap.parse_args()
    try:
        import onnx  # noqa: F401
    except ImportError:
        skip("python3-onnx is not installed (apt-get install python3-onnx)")
    if not os.path.isfile(args.node):
        skip("node is not installed (apt-get install nodejs)")
    r = subprocess.run([args.node, runner, "--version"], capture_output=True, text=True)
    if r.returncode != 0:
        skip("onnxruntime-node is not installed (%s)" % r.stderr.strip())
    ort_version = r.stdout.strip()
    sys.path.insert(0, os.path.join(root, "tools"))
    import export_onnx

    print("%s, onnx %s, numpy %s; bar %.0e on every logit of a batch of %d"
          % (ort_version, onnx.__version__, np.__version__, BAR, BATCH))
    worst, failures, count = 0.0, [], 0
    with tempfile.TemporaryDirectory() as tmp:
        sub, images, evit = (os.path.join(tmp, n) for n in ("subnet.safetensors", "in.f32",
                                                            "evit.f32"))
        for label, extra in cases(args.set):
            try:
                out = run([args.run_subnet, "--batch", str(BATCH), "--repeat", "1",
                           "--export-subnet", sub, "--save-input", images, "--save-logits", evit]
                          + extra)
                arch = re.search(r"^subnet: +(.*)$", out, re.M).group(1)
                ref = np.fromfile(evit, dtype="<f4")
                print("%s: %s" % (label, arch))
                for bn in ("fold", "keep"):
                    model, _ = export_onnx.export(sub, bn=bn)
                    path = os.path.join(tmp, "subnet-%s.onnx" % bn)
                    export_onnx.save(model, path)
                    got_path = os.path.join(tmp, "ort-%s.f32" % bn)
                    run([args.node, runner, path, "--input", images, "--output", got_path,
                         "--repeat", "0"])
                    got = np.fromfile(got_path, dtype="<f4")
                    count += 1
                    if got.shape != ref.shape:
                        failures.append("%s BN %s: %d logits from ORT, %d from evit"
                                        % (label, bn, got.size, ref.size))
                        continue
                    err = float(np.max(np.abs(got.astype(np.float64) - ref)))
                    if not np.all(np.isfinite(got)) or not math.isfinite(err):
                        err = float("inf")
                    worst = max(worst, err)
                    flag = "" if err <= BAR else "   <-- over the bar"
                    print("  BN %-4s max |ORT - evit| = %.2e (largest |logit| %.3f)%s"
                          % (bn, err, float(np.max(np.abs(ref))), flag))
                    if err > BAR:
                        failures.append("%s BN %s: %.3e" % (label, bn, err))
            except (RuntimeError, export_onnx.ExportError, AttributeError) as e:
                failures.append("%s: %s" % (label, e))
                print("  FAILED: %s" % e)
    print("max error over %d models (%s set, BN folded and kept): %.2e (bar %.0e)"
          % (count, args.set, worst, BAR))
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
