#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test of tools/export_onnx.py: ONNX Runtime (npm's onnxruntime-node, through tools/ort/run.js)
on an exported subnet gives evit's logits within 1e-5, BatchNorm folded and kept.

For each subnet of the chosen set, run_subnet runs it on random images (batch 2) and writes the
subnet file (--export-subnet), the images and its logits; export_onnx.py turns the file into ONNX
twice (--bn fold, --bn keep) and run.js runs both on the same images. Prints each model's largest
absolute difference and the largest over the set; fails when one exceeds the bar (or a logit is not
finite, or a step fails).

    test_onnx_export.py --run-subnet build/release/examples/run_subnet
                        --set released|random|mini|autoformer|autoformer-ref

Sets: released (the 9 released subnets of evit's random official-size supernet), random (random
subnets of the same supernet), mini (the reference supernet of tests/data/elasticvit-mini: its max
subnet, the 16 reference cases and random subnets), autoformer (run_subnet --model autoformer-t on
evit's random T supernet: the released AutoFormer-T and 4 random subnets of the T space; and the
released AutoFormer-S and -B on evit's random S and B supernets),
autoformer-ref (the real AutoFormer-T supernet of tests/data/autoformer-t, random weights: its
smallest and largest subnets and two sampled ones of the reference cases; ORT on the official
inputs is also compared with the official logits of goldens.safetensors). AutoFormer has no
BatchNorm: one model per subnet. Exits 77 (skipped) when python3-onnx or
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

from skipping import skip  # tests/tools/skipping.py

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
runner = os.path.join(root, "tools", "ort", "run.js")
mini_supernet = os.path.join(root, "tests", "data", "elasticvit-mini", "supernet.safetensors")
mini_cases = os.path.join(root, "tests", "data", "elasticvit-mini", "cases.json")
af_dir = os.path.join(root, "tests", "data", "autoformer-t")
AF_REF_CASES = (0, 1, 2, 5)  # smallest, largest, two draws of the official sampler
BAR = 1e-5
BATCH = 2
RELEASED = ["elastic_T1", "elastic_T2", "elastic_S1", "elastic_S2", "elastic_M", "elastic_L1",
            "elastic_L1.5", "elastic_L2", "elastic_L3"]


def autoformer_text(cfg):
    """Compact text of an official sample_config (embed_dim, num_heads, mlp_ratio, layer_num)."""
    def ratio(m):
        return str(int(m)) if float(m).is_integer() else "%d/2" % int(round(2 * m))
    depth = cfg["layer_num"]
    layers = ",".join("m%sh%dq1v1" % (ratio(cfg["mlp_ratio"][i]), cfg["num_heads"][i])
                      for i in range(depth))
    return "r224 blocks=%dx%d:%s" % (cfg["embed_dim"][0], depth, layers)


def autoformer_slices(sup, cfg):
    """name -> the slice of the supernet's tensors (dict of arrays) that the subnet of official
    sample_config `cfg` reads: what run_subnet --export-subnet must write, bit for bit."""
    e, depth = cfg["embed_dim"][0], cfg["layer_num"]
    out = {"pos_embed": sup["pos_embed"][:, :, :e], "cls_token": sup["cls_token"][:, :, :e],
           "patch_embed_super.proj.weight": sup["patch_embed_super.proj.weight"][:e],
           "patch_embed_super.proj.bias": sup["patch_embed_super.proj.bias"][:e],
           "norm.weight": sup["norm.weight"][:e], "norm.bias": sup["norm.bias"][:e],
           "head.weight": sup["head.weight"][:, :e], "head.bias": sup["head.bias"]}
    for i in range(depth):
        q, f, b = 64 * cfg["num_heads"][i], int(cfg["mlp_ratio"][i] * e), "blocks.%d." % i
        out[b + "attn.qkv.weight"] = sup[b + "attn.qkv.weight"][:3 * q, :e]
        out[b + "attn.qkv.bias"] = sup[b + "attn.qkv.bias"][:3 * q]
        for kv in "kv":
            for axis in "vh":
                n = b + "attn.rel_pos_embed_%s.embeddings_table_%s" % (kv, axis)
                out[n] = sup[n]
        out[b + "attn.proj.weight"] = sup[b + "attn.proj.weight"][:e, :q]
        for n in ("attn.proj.bias", "attn_layer_norm.weight", "attn_layer_norm.bias",
                  "ffn_layer_norm.weight", "ffn_layer_norm.bias", "fc2.bias"):
            out[b + n] = sup[b + n][:e]
        out[b + "fc1.weight"] = sup[b + "fc1.weight"][:f, :e]
        out[b + "fc1.bias"] = sup[b + "fc1.bias"][:f]
        out[b + "fc2.weight"] = sup[b + "fc2.weight"][:e, :f]
    return out


def check_autoformer_file(path, sup, cfg):
    """run_subnet --export-subnet's AutoFormer file holds exactly the subnet's slices."""
    import export_onnx
    got, meta = export_onnx.read_safetensors(path)
    want = autoformer_slices(sup, cfg)
    if sorted(got) != sorted(want):
        raise RuntimeError("exported tensors: extra %s, missing %s"
                           % (sorted(set(got) - set(want)), sorted(set(want) - set(got))))
    for n, a in want.items():
        if got[n].shape != a.shape or not np.array_equal(got[n], a):
            raise RuntimeError("exported tensor %s: shape %s, expected the slice %s%s"
                               % (n, got[n].shape, a.shape,
                                  "" if got[n].shape != a.shape else " (values differ)"))
    z = json.loads(meta["autoformer"])
    if z["embed"] != cfg["embed_dim"][0] or z["depth"] != cfg["layer_num"]:
        raise RuntimeError("exported metadata: embed %d depth %d" % (z["embed"], z["depth"]))


def cases(which):
    """(label, run_subnet arguments[, (golden input, golden logits) names]) of the set."""
    if which == "autoformer":
        af = ["--model", "autoformer-t"]
        return ([("AutoFormer-T", af + ["--arch", "AutoFormer-T"])] +
                [("autoformer-t random seed %d" % s, af + ["--random-arch", str(s)])
                 for s in (1, 2, 3, 4)] +
                [("AutoFormer-%s" % m, ["--model", "autoformer-" + m.lower(), "--arch",
                                        "AutoFormer-" + m]) for m in ("S", "B")])
    if which == "autoformer-ref":
        with open(os.path.join(af_dir, "cases.json")) as f:
            ref = json.load(f)["cases"]
        af = ["--model", "autoformer-t", "--weights", os.path.join(af_dir, "supernet.safetensors")]
        return [("autoformer-t case %d" % k,
                 af + ["--arch", autoformer_text(ref[k]["sample_config"])],
                 ("case%d.input" % k, "case%d.logits" % k, ref[k]["sample_config"]))
                for k in AF_REF_CASES]
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
    ap.add_argument("--set", required=True,
                    choices=("released", "random", "mini", "autoformer", "autoformer-ref"))
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
        goldens = supernet = None
        if args.set == "autoformer-ref":
            goldens, _ = export_onnx.read_safetensors(os.path.join(af_dir, "goldens.safetensors"))
            supernet, _ = export_onnx.read_safetensors(os.path.join(af_dir,
                                                                    "supernet.safetensors"))
        bns = ("fold", "keep") if not args.set.startswith("autoformer") else ("none",)
        for label, extra, *golden in cases(args.set):
            try:
                out = run([args.run_subnet, "--batch", str(BATCH), "--repeat", "1",
                           "--export-subnet", sub, "--save-input", images, "--save-logits", evit]
                          + extra)
                arch = re.search(r"^subnet: +(.*)$", out, re.M).group(1)
                if args.set.startswith("autoformer"):  # "NAME: TEXT" (the name, or random)
                    arch = arch.split(": ", 1)[-1]
                ref = np.fromfile(evit, dtype="<f4")
                print("%s: %s" % (label, arch))
                runs = [(bn, images, ref) for bn in bns]
                if golden:  # the file holds the exact slices; the official inputs and logits
                    check_autoformer_file(sub, supernet, golden[0][2])
                    print("  exported file: exactly the subnet's slices of the supernet")
                    gin = os.path.join(tmp, "golden-in.f32")
                    goldens[golden[0][0]].astype("<f4").tofile(gin)
                    runs.append(("official", gin, goldens[golden[0][1]].ravel()))
                model_path = None
                for bn, inputs, ref in runs:
                    if model_path is None or bn not in ("none", "official"):
                        model, _ = export_onnx.export(sub, bn="fold" if bn == "none" else bn)
                        model_path = os.path.join(tmp, "subnet-%s.onnx" % bn)
                        export_onnx.save(model, model_path)
                    path = model_path
                    got_path = os.path.join(tmp, "ort-%s.f32" % bn)
                    profile = count == 0
                    printed = run([args.node, runner, path, "--input", inputs, "--output",
                                   got_path, "--repeat", "1" if profile else "0"]
                                  + (["--profile"] if profile else []))
                    if profile:  # ORT's per-operator profile: the layers are there, timed
                        line = next((l for l in printed.splitlines()
                                     if l.startswith("profile:")), "")
                        total = re.search(r"nodes total ([0-9.]+)$", line)
                        if " MatMul " not in line and " Gemm " not in line or not total \
                                or float(total.group(1)) <= 0:
                            failures.append("run.js --profile printed %r" % line)
                        # ElasticViT: every block kind found in the node names, and timed
                        blocks = next((l for l in printed.splitlines()
                                       if l.startswith("blocks:")), None)
                        kinds = dict(re.findall(r"(first_conv|mbconv|reduction|attention|ffn|"
                                                r"head) ([0-9.]+)", blocks or ""))
                        if args.set.startswith("autoformer"):
                            if blocks is not None:
                                failures.append("run.js --profile printed ElasticViT block kinds "
                                                "for an AutoFormer model: %r" % blocks)
                        elif len(kinds) != 6 or min(float(v) for v in kinds.values()) <= 0:
                            failures.append("run.js --profile printed %r" % blocks)
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
                    what = {"none": "max |ORT - evit|",
                            "official": "official inputs: max |ORT - official logits|"}.get(
                                bn, "BN %-4s max |ORT - evit|" % bn)
                    print("  %s = %.2e (largest |logit| %.3f)%s"
                          % (what, err, float(np.max(np.abs(ref))), flag))
                    if err > BAR:
                        failures.append("%s BN %s: %.3e" % (label, bn, err))
            except (RuntimeError, export_onnx.ExportError, AttributeError) as e:
                failures.append("%s: %s" % (label, e))
                print("  FAILED: %s" % e)
    print("max error over %d runs (%s set%s): %.2e (bar %.0e)"
          % (count, args.set, "" if args.set.startswith("autoformer") else
             ", BN folded and kept", worst, BAR))
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
