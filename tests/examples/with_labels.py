#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Copies a safetensors file, adding class names to its metadata under "labels" (one per line),
the place run_subnet (evit::io::class_names) looks for them.

usage: python3 with_labels.py IN.safetensors CLASSES.txt OUT.safetensors
"""
import json
import struct
import sys


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    with open(argv[2]) as f:
        names = f.read().rstrip("\n")
    header.setdefault("__metadata__", {})["labels"] = names
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the data 8-byte aligned
    with open(argv[3], "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
