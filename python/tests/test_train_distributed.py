"""Distributed supernet training (examples/python/train_supernet.py --distributed): two processes
(torch.distributed, gloo, 127.0.0.1) train a few ca+pa steps on their shards of Fashion-MNIST;
both ranks draw the same subnets at every step (the PA banks updated with the all-reduced scores)
and end with identical weights. Skipped when torch or the dataset are missing, except under
CI=true, where that is a failure."""
import json
import os
import socket
import subprocess
import sys

import pytest

import evit

CI = os.environ.get("CI") == "true"
try:
    import torch  # noqa: F401
    import torch.distributed as dist
except ImportError:  # pragma: no cover
    if CI:
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "examples", "python", "train_supernet.py")
sys.path.insert(0, os.path.dirname(SCRIPT))
import train_supernet as ts  # noqa: E402

if not ts.dataset_available() or not dist.is_available():  # pragma: no cover
    reason = "Fashion-MNIST (Debian: dataset-fashion-mnist) or torch.distributed missing"
    if CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python_env():
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(evit.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in sys.path if p])
    return env


def test_two_ranks_same_subnets_same_weights(tmp_path):
    trace = str(tmp_path / "trace{rank}.json")
    cmd = [sys.executable, SCRIPT, "--distributed", "--world", "2", "--port", str(free_port()),
           "--sampler", "ca+pa", "--steps", "6", "--steps-per-epoch", "2", "--bank", "2",
           "--exploit", "0.6,0.2,1", "--batch", "8", "--threads", "1", "--warmup", "2",
           "--trace", trace, "--out", str(tmp_path / "ckpt"), "--ckpt-every", "3"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=python_env(), timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    ranks = []
    for r in (0, 1):
        with open(trace.replace("{rank}", str(r))) as f:
            ranks.append(json.load(f))
    r0, r1 = ranks
    assert len(r0["trace"]) == 6 and all(len(t) == 5 for t in r0["trace"])
    assert r0["trace"] == r1["trace"]  # the same subnets at every step
    assert r0["digest"] == r1["digest"]  # identical weights (and averaged BN statistics)
    assert r0["history"] == r1["history"]  # the all-reduced losses
    # Not a constant sequence: the step's level and subnets change.
    assert len({tuple(t) for t in r0["trace"]}) > 1
    assert (tmp_path / "ckpt" / "supernet.safetensors").exists()
