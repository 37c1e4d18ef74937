#!/usr/bin/env python3
"""Runs one subnet of an ElasticViT supernet from Python (the module evit), as the C++ run_subnet
does: loads the supernet (default: the mini reference supernet of tests/data/elasticvit-mini) or
makes a random one (--random), parses the subnet (--arch: a released name, compact text, JSON or
the official 10-list; default: the largest of the space), runs a batch of images (default: the
reference inputs of a golden case; --random: random images) and prints the top-5 classes of the
first image and the time per image.

  PYTHONPATH=build/py/python python3 examples/python/run_subnet.py
  PYTHONPATH=build/py/python python3 examples/python/run_subnet.py --random --batch 8 --threads 2
  PYTHONPATH=build/py/python python3 examples/python/run_subnet.py \\
      --weights elasticvit.safetensors --space official --arch elastic_T1 --random-images
"""
import argparse
import json
import os
import struct
import time

import numpy as np

import evit

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MINI = os.path.join(ROOT, "tests", "data", "elasticvit-mini")


def golden_images(case):
    """The input of golden case `case` of the mini reference data (a safetensors file, read with
    NumPy: 8-byte header length, JSON header, data) and its subnet."""
    path = os.path.join(MINI, "goldens.safetensors")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        t = header[case + ".input"]
        begin, end = t["data_offsets"]
        f.seek(8 + n + begin)
        images = np.frombuffer(f.read(end - begin), dtype="<f4").reshape(t["shape"])
    cases = json.load(open(os.path.join(MINI, "cases.json")))["cases"]
    arch = next(c["arch"] for c in cases if c["name"] == case)
    return images, evit.spaces.mini.parse(json.dumps(arch), "official")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=os.path.join(MINI, "supernet.safetensors"),
                   help="supernet weights (safetensors, official names)")
    p.add_argument("--space", default="mini", help="official or mini")
    p.add_argument("--random", action="store_true",
                   help="a random supernet and random images instead of the files")
    p.add_argument("--random-images", action="store_true", help="random images")
    p.add_argument("--arch", default="", help="the subnet (default: the golden case's, or max)")
    p.add_argument("--case", default="case1", help="the golden case whose input is used")
    p.add_argument("--batch", type=int, default=2, help="images (random images)")
    p.add_argument("--threads", type=int, default=1, help="worker threads")
    p.add_argument("--repeat", type=int, default=5, help="timed forwards after one warm-up")
    p.add_argument("--seed", type=int, default=1, help="seed of the random supernet and images")
    o = p.parse_args()

    space = evit.spaces.by_name(o.space)
    t0 = time.perf_counter()
    if o.random:
        net = evit.Supernet.random(space, o.seed, threads=o.threads)
    else:
        net = evit.Supernet.load(o.weights, space, threads=o.threads)
    load_ms = (time.perf_counter() - t0) * 1e3

    images = arch = None
    if not (o.random or o.random_images) and space == evit.spaces.mini:
        images, arch = golden_images(o.case)
    if o.arch:
        arch = space.parse(o.arch)
    if arch is None:
        arch = space.max_arch()
    if images is None or images.shape[2] != arch.resolution:
        rng = np.random.default_rng(o.seed)
        images = rng.uniform(-1, 1, (o.batch, 3, arch.resolution, arch.resolution))
        images = images.astype(np.float32)

    logits = net.forward(arch, images)  # warm-up (sizes the workspace)
    ms = []
    for _ in range(o.repeat):
        s = time.perf_counter()
        net.forward(arch, images, out=logits)
        ms.append((time.perf_counter() - s) * 1e3)
    ms.sort()
    median = ms[len(ms) // 2]

    print("isa:      %s" % evit.isa())
    print("supernet: %s (%s, loaded in %.0f ms)" % (net.origin, space.name, load_ms))
    print("subnet:   %s" % arch.to_text())
    print("MMACs:    %.2f (official count); params %.2f M" % (arch.macs() / 1e6,
                                                              arch.params() / 1e6))
    top = np.argsort(-logits[0], kind="stable")[:5]
    names = net.class_names
    print("top-5 of image 0:" + "".join(
        "\n  [%d] %slogit %.4f" % (c, names[c] + "  " if names else "", logits[0, c])
        for c in top))
    print("latency:  %.3f ms per forward of %d images, %.3f ms per image (median of %d, %d "
          "thread%s)" % (median, images.shape[0], median / images.shape[0], o.repeat, o.threads,
                         "" if o.threads == 1 else "s"))


if __name__ == "__main__":
    main()
