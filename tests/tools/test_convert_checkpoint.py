#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test of tools/convert_checkpoint.py: a checkpoint made from the reference supernet, with the EMA
weights under DistributedDataParallel names and decoy plain weights, converts back to the reference
tensors exactly. The reference supernet ships in tests/data (see its README): when it is missing the
test fails. The same for the AutoFormer reference supernet in the official AutoFormer layout
("model", with "model_ema" taken first when it holds weights). Exits 77 (skipped) without PyTorch, unless CI=true."""
import json
import os
import struct
import subprocess
import sys
import tempfile

from skipping import skip  # tests/tools/skipping.py

here = os.path.dirname(os.path.abspath(__file__))
tool = os.path.join(here, "..", "..", "tools", "convert_checkpoint.py")
reference = os.path.join(here, "..", "data", "elasticvit-mini", "supernet.safetensors")
autoformer = os.path.join(here, "..", "data", "autoformer-t", "supernet.safetensors")


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    return {k: (v["dtype"], v["shape"], data[base + v["data_offsets"][0] : base + v["data_offsets"][1]])
            for k, v in header.items()}


def main():
    ref = os.path.normpath(reference)
    if not os.path.isfile(ref):
        print("FAILED: test data not found: %s (it ships in the repository)" % ref)
        return 1
    try:
        import torch
    except ImportError:
        skip("PyTorch is not installed (apt-get install python3-torch)")
    tensors = read_safetensors(ref)
    ema, plain = {}, {}
    for name, (dtype, shape, raw) in tensors.items():
        torch_dtype = {"F32": torch.float32, "I64": torch.int64}[dtype]
        t = torch.frombuffer(bytearray(raw), dtype=torch_dtype).reshape(shape).clone()
        ema["module." + name] = t
        plain[name] = torch.zeros_like(t)  # a decoy: must not be taken when EMA weights exist
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "checkpoint.pth")
        out = os.path.join(tmp, "converted.safetensors")
        torch.save({"epoch": 599, "state_dict": plain, "state_dict_ema": ema}, ckpt)
        r = subprocess.run([sys.executable, tool, ckpt, out], capture_output=True, text=True)
        if r.returncode != 0:
            print("FAILED: converter exited %d: %s" % (r.returncode, r.stderr))
            return 1
        got = read_safetensors(out)
        bad = [k for k in tensors if k not in got or got[k][2] != tensors[k][2] or got[k][1] != tensors[k][1]]
        if bad or len(got) != len(tensors):
            print("FAILED: %d tensors differ, e.g. %s" % (len(bad), bad[:3]))
            return 1
        r = subprocess.run([sys.executable, tool, os.path.join(tmp, "missing.pth"), out],
                           capture_output=True, text=True)
        if r.returncode == 0 or "cannot load" not in r.stderr:
            print("FAILED: a missing checkpoint must fail with one clear line: %r" % r.stderr)
            return 1
    print("convert_checkpoint: %d tensors round-trip exactly, EMA weights taken" % len(tensors))
    return autoformer_round_trip(torch)


def autoformer_round_trip(torch):
    ref = os.path.normpath(autoformer)
    if not os.path.isfile(ref):
        print("FAILED: test data not found: %s (it ships in the repository)" % ref)
        return 1
    tensors = read_safetensors(ref)
    weights = {n: torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(shape).clone()
               for n, (dtype, shape, raw) in tensors.items()}
    decoy = {n: torch.zeros_like(t) for n, t in weights.items()}
    layouts = [  # supernet_train.py without EMA, and with it (the plain weights must not be taken)
        {"model": weights, "model_ema": None, "optimizer": {}, "epoch": 499, "args": None},
        {"model": decoy, "model_ema": weights, "epoch": 499},
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for i, layout in enumerate(layouts):
            ckpt = os.path.join(tmp, "af%d.pth" % i)
            out = os.path.join(tmp, "af%d.safetensors" % i)
            torch.save(layout, ckpt)
            r = subprocess.run([sys.executable, tool, ckpt, out], capture_output=True, text=True)
            if r.returncode != 0 or "AutoFormer supernet: embed 256, depth 14" not in r.stdout:
                print("FAILED: AutoFormer layout %d: exit %d: %s%s" % (i, r.returncode, r.stdout, r.stderr))
                return 1
            got = read_safetensors(out)
            bad = [k for k in tensors if k not in got or got[k][2] != tensors[k][2]]
            if bad or len(got) != len(tensors):
                print("FAILED: AutoFormer layout %d: %d tensors differ, e.g. %s" % (i, len(bad), bad[:3]))
                return 1
    print("convert_checkpoint: the AutoFormer supernet's %d tensors round-trip exactly from 'model' "
          "and from 'model_ema'" % len(tensors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
