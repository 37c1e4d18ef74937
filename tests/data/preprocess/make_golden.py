#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes golden.json: what Pillow, torchvision's transforms and PyTorch make of synthetic images,
for tests/models/test_preprocess.cpp. The steps are those of the official ElasticViT evaluation
(util/data_loader.py: Resize(256, BICUBIC), CenterCrop(224), ToTensor, Normalize; then the model's
forward: interpolate(mode="bicubic") to the subnet's resolution), written out with Pillow and
torch only, as torchvision 0.14 performs them on a PIL image.

Also writes synthetic-37x29.png, the first test image as a PNG file (tests/examples: decoding,
run_subnet --image).

usage: /usr/bin/python3 tests/data/preprocess/make_golden.py   (Debian: python3-pil, python3-torch)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def synthetic(w, h):
    """The test image: the same formula in the C++ test."""
    a = np.zeros((h, w, 3), dtype=np.uint8)
    for y in range(h):
        for x in range(w):
            for c in range(3):
                a[y, x, c] = ((x * 73 + y * 151 + c * 23) * (x + 2 * y + 3 * c + 1)) % 256
    return Image.fromarray(a, "RGB")


def resize_shorter(img, size, resample):  # torchvision Resize(int) on a PIL image
    w, h = img.size
    if w <= h:
        ow, oh = size, int(size * h / w)
    else:
        ow, oh = int(size * w / h), size
    return img.resize((ow, oh), resample)


def center_crop(img, crop):  # torchvision CenterCrop on a PIL image
    w, h = img.size
    top = int(round((h - crop) / 2.0))
    left = int(round((w - crop) / 2.0))
    return img.crop((left, top, left + crop, top + crop))


def weighted_sum(values):
    """An exact checksum of uint8 values: sum of v * (i % 97 + 1)."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    return int((v * (np.arange(v.size) % 97 + 1)).sum())


def case(w, h, resize, crop, resolution, resample=Image.BICUBIC, full=True):
    img = synthetic(w, h)
    cropped = center_crop(resize_shorter(img, resize, resample), crop)
    x = torch.from_numpy(np.array(cropped)).permute(2, 0, 1).float().div(255)
    x = x.sub(torch.tensor(MEAN).view(3, 1, 1)).div(torch.tensor(STD).view(3, 1, 1))
    if resolution != crop:
        x = F.interpolate(x[None], size=resolution, mode="bicubic", align_corners=False)[0]
    out = [float("%.8g" % v) for v in x.contiguous().view(-1).tolist()]
    c = {"width": w, "height": h, "resize": resize, "crop": crop, "resolution": resolution,
         "filter": "bicubic" if resample == Image.BICUBIC else "bilinear",
         "cropped_checksum": weighted_sum(np.array(cropped)),
         "output_sum": float(np.sum(np.asarray(out, dtype=np.float64)))}
    if full:
        c["output"] = out
    else:  # every 997th value
        c["output_every_997"] = out[::997]
    return c


def main():
    cases = [
        case(37, 29, 20, 16, 12),
        case(37, 29, 20, 16, 24),
        case(37, 29, 20, 16, 16),
        case(29, 37, 21, 17, 9, Image.BILINEAR),
        case(300, 240, 256, 224, 128, full=False),
        case(201, 333, 256, 224, 256, full=False),
    ]
    here = os.path.dirname(os.path.abspath(__file__))
    synthetic(37, 29).save(os.path.join(here, "synthetic-37x29.png"))
    path = os.path.join(here, "golden.json")
    with open(path, "w") as f:
        json.dump({"mean": MEAN, "std": STD, "cases": cases}, f)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
