#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Convert an official ElasticViT or AutoFormer training checkpoint (.pth) into a safetensors file
that evit::elasticvit::supernet<...>::load or evit::autoformer::supernet<...>::load reads.

Takes the EMA weights when the checkpoint has them (as the official code does when it evaluates),
else the plain model weights: ElasticViT keeps them under state_dict_ema / state_dict, AutoFormer
(microsoft/Cream supernet_train.py) under model_ema / model (model_ema may be absent or None when
training ran without EMA, or a saved ModelEma object). Strips DistributedDataParallel's "module."
prefix; writes every floating-point tensor as F32 (AutoFormer trains under AMP: F16 tensors are
widened; integer buffers such as num_batches_tracked are kept as I64, evit ignores them). Says which
family the weights are and, for AutoFormer, the supernet sizes and classes the evit space must
have. Needs PyTorch only (Debian: python3-torch).

usage: convert_checkpoint.py CHECKPOINT.pth OUT.safetensors [--key KEY] [--list]
"""
import argparse
import json
import struct
import sys

# Where official and timm-style checkpoints keep their weights, in order of preference: the EMA
# copy first.
EMA_KEYS = ("state_dict_ema", "model_ema", "ema", "ema_state_dict")
PLAIN_KEYS = ("state_dict", "model", "net")


def pick_state_dict(checkpoint, key=None):
    """Returns (name, state_dict) of the weights to convert."""
    if not isinstance(checkpoint, dict):
        raise SystemExit("convert_checkpoint: the checkpoint is not a dict")
    if key is not None:
        if key not in checkpoint:
            raise SystemExit("convert_checkpoint: no key %r (keys: %s)" % (key, sorted(checkpoint)))
        return key, checkpoint[key]
    for k in EMA_KEYS + PLAIN_KEYS:
        v = as_state_dict(checkpoint.get(k))
        if v:
            return k, v
    # A bare state_dict: name -> tensor.
    return "(bare state_dict)", checkpoint


def as_state_dict(value):
    """A state_dict from a dict, a module (or timm's ModelEma, whose copy is .ema), else None."""
    if isinstance(value, dict):
        return value
    if value is not None and hasattr(value, "ema") and hasattr(value.ema, "state_dict"):
        return value.ema.state_dict()
    if value is not None and hasattr(value, "state_dict") and callable(value.state_dict):
        return value.state_dict()
    return None


def describe(tensors):
    """One line on the family of the converted (name, dtype, shape, bytes) list and, for
    AutoFormer, the supernet sizes an evit space needs."""
    shapes = {name: shape for name, _, shape, _ in tensors}
    if "patch_embed_super.proj.weight" in shapes:
        embed, _, patch, _ = shapes["patch_embed_super.proj.weight"]
        depth = len({n.split(".")[1] for n in shapes if n.startswith("blocks.")})
        q = shapes.get("blocks.0.attn.qkv.weight", (0, 0))[0] // 3
        hidden = shapes.get("blocks.0.fc1.weight", (0, 0))[0]
        classes = shapes.get("head.weight", (0, 0))[0]
        tokens = shapes.get("pos_embed", (0, 0, 0))[1]
        return ("AutoFormer supernet: embed %d, depth %d, qkv width %d (%d heads of 64), MLP hidden %d, "
                "patch %d, %d tokens, %d classes (evit::autoformer spaces: max_width<%d>, max_depth<%d>, "
                "max_heads<%d>, num_classes<%d>)" % (embed, depth, q, q // 64, hidden, patch, tokens,
                                                    classes, embed, depth, q // 64, classes))
    if any(n.startswith("feature_exactor.") for n in shapes):
        return "ElasticViT supernet"
    return "unknown family (neither ElasticViT nor AutoFormer names)"


def clean_name(name):
    return name[len("module."):] if name.startswith("module.") else name


def to_safetensors(tensors, metadata):
    """tensors: list of (name, dtype string, shape, raw little-endian bytes)."""
    header = {}
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)  # keep the data 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors)


def convert(state_dict):
    """Returns the (name, dtype, shape, bytes) list of a torch state_dict."""
    import torch

    out = []
    for name, value in state_dict.items():
        if not torch.is_tensor(value):
            continue
        t = value.detach().cpu().contiguous()
        if t.is_floating_point():
            t = t.to(torch.float32)
            dtype = "F32"
        elif t.dtype == torch.int64:
            dtype = "I64"
        else:
            continue
        out.append((clean_name(name), dtype, tuple(t.shape), t.numpy().tobytes()))
    return out


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("out", nargs="?")
    p.add_argument("--key", help="take the weights under this key of the checkpoint")
    p.add_argument("--list", action="store_true", help="list the converted tensors and exit")
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        raise SystemExit("convert_checkpoint: needs PyTorch (Debian: apt-get install python3-torch)")
    try:
        checkpoint = torch.load(args.checkpoint, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - report any load failure in one line
        raise SystemExit("convert_checkpoint: cannot load %s: %s" % (args.checkpoint, e))
    source, state = pick_state_dict(checkpoint, args.key)
    tensors = convert(state)
    if not tensors:
        raise SystemExit("convert_checkpoint: no tensors under %s" % source)
    if args.list or not args.out:
        for name, dtype, shape, _ in tensors:
            print("%-70s %-4s %s" % (name, dtype, list(shape)))
        print(describe(tensors))
        return 0
    family = describe(tensors)
    print("convert_checkpoint: " + family)
    data = to_safetensors(tensors, {"format": "pt", "source": "%s of %s" % (source, args.checkpoint),
                                    "family": family.split(" supernet")[0]})
    with open(args.out, "wb") as f:
        f.write(data)
    print("convert_checkpoint: %d tensors from %s -> %s" % (len(tensors), source, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
