"""An elastic ElasticViT supernet in PyTorch, written from docs/elasticvit.md, whose subnets
compute what evit's C++ forward computes (python/tests/test_torch_parity.py checks it).

`ElasticSupernet(space)` holds the largest (supernet) size of every tensor of the ElasticViT block
structure, under the official state_dict names and layouts that evit loads
(include/evit/models/elasticvit/weights.hpp); `forward(images, arch)` runs one subnet by slicing
them: the first k channels / rows / columns / heads of every tensor, and the centre of the largest
depthwise kernel for a smaller kernel. The geometry comes from the space's description
(`space.stages`), so one class serves evit.spaces.official, mini and fashion.

BatchNorm: in training mode each BatchNorm normalises with its batch's statistics over the active
channels and updates the first channels of the supernet's running statistics (momentum
`bn_momentum`, 0.1; None: a cumulative average, as the official recalibration); in eval mode it
uses the running statistics. Everything is differentiable and runs on CPU.

    import evit, torch
    from elastic_supernet import ElasticSupernet, save_safetensors
    model = ElasticSupernet(evit.spaces.fashion)
    arch = evit.spaces.fashion.sample(evit.Rng(1))
    logits = model(torch.randn(8, 3, 28, 28), arch)
    save_safetensors(model.state_dict(), "supernet.safetensors")   # evit.Supernet.load reads it
    model.load_safetensors("supernet.safetensors")                 # and back (official names)

Only torch and numpy are needed (evit only to describe a space or to copy an evit.Supernet).
"""
import json
import math
import struct
from fractions import Fraction

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# The head constants (num_classes, head_hidden, head_expand) of a plain dict description that does
# not list them, by evit space name (an evit.Space gives them: Space.constants).
HEAD_CONSTANTS = {
    "elasticvit-official": (1000, 1984, 6),
    "elasticvit-mini": (10, 256, 6),
    "elasticvit-fashion": (10, 256, 6),
}
DEFAULT_HEAD_DIM = 16  # ElasticViT's fixed head dimension (docs/elasticvit.md#search-space)
EPS = 1e-5  # every BatchNorm and the per-sample norms
REDUCTION_EXPAND, REDUCTION_KERNEL, SE_DIVISOR, V_CONV_KERNEL = 6, 3, 4, 3


# ---- the space's description ---------------------------------------------------------------------

def describe(space, num_classes=None, head_hidden=None, head_expand=None):
    """A plain dict describing an ElasticViT-family space: name, resolutions, stages (as
    evit.Space.stages: name, kind, width, depth, stride and the per-stage choices), num_classes,
    head_hidden, head_expand. `space`: an evit.Space or such a dict already."""
    if isinstance(space, dict):
        d = dict(space)
        d["stages"] = [dict(s) for s in d["stages"]]
    else:
        d = {"name": space.name, "resolutions": list(space.resolutions),
             "stages": [dict(s) for s in space.stages]}
        d.update({k: v for k, v in space.constants.items() if k != "patch_size" and v})
    known = HEAD_CONSTANTS.get(d.get("name"), (None, None, 6))
    for key, arg, default in (("num_classes", num_classes, known[0]),
                              ("head_hidden", head_hidden, known[1]),
                              ("head_expand", head_expand, known[2])):
        if arg is not None:
            d[key] = arg
        elif d.get(key) is None:
            d[key] = default
        if d[key] is None:
            raise ValueError("space %r: give %s" % (d.get("name"), key))
    stages = d["stages"]
    for g in stages:  # evit's kinds: input_conv, conv_stage, transformer_stage
        g["kind"] = g["kind"].replace("_stage", "")
        if g["kind"] == "transformer":
            # The head dimension (evit: head_dim<16>, heads = width / 16) unless the stage lists
            # its head counts.
            if not g.get("head_dim"):
                g["head_dim"] = (max(g["width"]) // max(g["num_heads"]) if g.get("num_heads")
                                 else DEFAULT_HEAD_DIM)
    if len(stages) < 3 or stages[0]["kind"] != "input_conv" or stages[-1]["kind"] != "transformer":
        raise ValueError("not an ElasticViT-family space (input conv, conv stages, transformers)")
    return d


def side_after(d, r, s):
    """Feature-map side after stage s at resolution r (stride 2 halves it, rounding up)."""
    for t in range(s + 1):
        if d["stages"][t]["stride"] == 2:
            r = (r + 1) // 2
    return r


def arch_dict(arch, default_resolution=None):
    """{"resolution", "stages"} of an evit.Arch, of such a dict, or of a list of stage dicts
    (then the resolution is the images' side)."""
    if isinstance(arch, dict):
        return {"resolution": arch.get("resolution", default_resolution), "stages": arch["stages"]}
    if isinstance(arch, (list, tuple)):
        return {"resolution": default_resolution, "stages": list(arch)}
    return {"resolution": arch.resolution, "stages": arch.stages}


# ---- elastic building blocks (parameters at supernet size, sliced per call) ----------------------

def _uniform_fan_in(t):
    """evit's random-weight scale: uniform with variance 1 / fan_in."""
    fan_in = t[0].numel() if t.dim() >= 2 else 1
    bound = math.sqrt(3.0 / max(fan_in, 1))
    nn.init.uniform_(t, -bound, bound)


class Weight(nn.Module):
    """A conv or linear weight (and optional bias) at supernet size: `.weight`, `.bias`."""

    def __init__(self, shape, bias=False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(*shape))
        self.bias = nn.Parameter(torch.zeros(shape[0])) if bias else None
        _uniform_fan_in(self.weight.data)


class ElasticBatchNorm(nn.Module):
    """BatchNorm over the first c channels of a supernet-size BatchNorm (dim 1 of the input)."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))
        self.momentum = 0.1
        self.batches = 0  # for momentum None: batches averaged so far

    def forward(self, x):
        c = x.shape[1]
        momentum = self.momentum
        if self.training and momentum is None:  # cumulative average (official recalibration)
            self.batches += 1
            momentum = 1.0 / self.batches
        # The running statistics' leading slices are views: batch_norm updates them in place.
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], self.weight[:c],
                            self.bias[:c], self.training, momentum if momentum is not None else 0.0,
                            EPS)


def centre_kernel(w, k):
    """The centre k x k of the supernet's kernel w [..., K, K] (ElasticViT's elastic kernel)."""
    o = (w.shape[-1] - k) // 2
    return w[..., o:o + k, o:o + k]


def depthwise(x, w, stride):
    """Depthwise k x k convolution of x [B, C, H, W] (padding k // 2) with w [C, 1, k, k]. On a
    1 x 1 map at stride 1 only the kernel's centre meets a pixel (the rest meets padding): a
    per-channel product, the same numbers without the convolution's per-call cost."""
    k = w.shape[-1]
    if x.shape[-2:] == (1, 1) and stride == 1:
        return x * w[:, 0, k // 2, k // 2].view(1, -1, 1, 1)
    return F.conv2d(x, w, stride=stride, padding=k // 2, groups=w.shape[0])


def sample_norm(x, weight, bias):
    """ElasticViT's transformer "LayerNorm": one mean and variance per sample over all N x C
    values of x [B, N, C], then the per-channel affine of the first C entries."""
    c = x.shape[-1]
    return F.layer_norm(x, x.shape[-2:], eps=EPS) * weight[:c] + bias[:c]


class MBConv(nn.Module):
    """An MBConv layer (or a transformer stage's reduction block) at supernet size: 1x1 expansion
    (absent when the largest expansion is 1), k x k depthwise, squeeze-excite, 1x1 projection, and
    a 1x1 shortcut conv for width changes."""

    def __init__(self, in_max, inner_max, out_max, kernel_max, has_pw, se):
        super().__init__()
        self.has_pw, self.se = has_pw, se
        if has_pw:
            self.pw_conv = Weight((inner_max, in_max, 1, 1))
            self.pw_bn = ElasticBatchNorm(inner_max)
        self.dw_conv = Weight((inner_max, 1, kernel_max, kernel_max))
        self.dw_bn = ElasticBatchNorm(inner_max)
        if se:
            self.se_conv1 = Weight((inner_max // SE_DIVISOR, inner_max, 1, 1), bias=True)
            self.se_conv2 = Weight((inner_max, inner_max // SE_DIVISOR, 1, 1), bias=True)
        self.pwl_conv = Weight((out_max, inner_max, 1, 1))
        self.pwl_bn = ElasticBatchNorm(out_max)
        self.shortcut_conv = Weight((out_max, in_max, 1, 1))

    def forward(self, x, cout, expand, kernel, stride):
        cin = x.shape[1]
        inner = cin * expand
        h = x
        if self.has_pw:
            h = F.hardswish(self.pw_bn(F.conv2d(h, self.pw_conv.weight[:inner, :cin])))
        h = depthwise(h, centre_kernel(self.dw_conv.weight[:inner], kernel), stride)
        h = F.hardswish(self.dw_bn(h))
        if self.se:
            r = inner // SE_DIVISOR
            s = h.mean((2, 3), keepdim=True)
            s = F.relu(F.conv2d(s, self.se_conv1.weight[:r, :inner], self.se_conv1.bias[:r]))
            s = F.hardsigmoid(F.conv2d(s, self.se_conv2.weight[:inner, :r],
                                       self.se_conv2.bias[:inner]))
            h = h * s
        y = self.pwl_bn(F.conv2d(h, self.pwl_conv.weight[:cout, :inner]))
        if stride == 1 and cin == cout:
            return y + x
        sc = x
        if stride == 2:  # padding 1 on an odd side (zeros counted: every window divides by 4)
            sc = F.avg_pool2d(x, 2, 2, padding=(x.shape[2] % 2, x.shape[3] % 2),
                              count_include_pad=True)
        if cin != cout:
            sc = F.conv2d(sc, self.shortcut_conv.weight[:cout, :cin])
        return y + sc


class Attention(nn.Module):
    """A transformer layer's attention at supernet size (layer 0 also holds the stage's reduction
    MBConv, under the official name `reduction`)."""

    def __init__(self, width_max, heads_max, head_dim, qk_max, v_max, rel_side_max, reduction=None):
        super().__init__()
        if reduction is not None:
            self.reduction = reduction
        self.width_max, self.head_dim, self.rel_side_max = width_max, head_dim, rel_side_max
        dq, dv = head_dim * qk_max, head_dim * v_max
        span = 2 * rel_side_max - 1
        self.attention_bias = nn.Parameter(torch.zeros(span * span, heads_max))
        self.qkv = Weight((heads_max * (2 * dq + dv), width_max))
        self.proj = Weight((width_max, heads_max * dv), bias=True)
        self.dw_v_conv = Weight((heads_max * dv, 1, V_CONV_KERNEL, V_CONV_KERNEL))
        self.norm1 = nn.Module()
        self.norm1.weight = nn.Parameter(torch.ones(width_max))
        self.norm1.bias = nn.Parameter(torch.zeros(width_max))
        nn.init.uniform_(self.attention_bias, -0.02, 0.02)
        self._index = {}

    def bias_index(self, side, device):
        """Table rows of the relative position bias for a side x side grid: [N, N]."""
        key = (side, device)
        if key not in self._index:
            y, x = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
            y, x = y.reshape(-1), x.reshape(-1)
            m = self.rel_side_max
            dy = y[:, None] - y[None, :] + m - 1  # query row - key row, shifted to >= 0
            dx = x[:, None] - x[None, :] + m - 1
            idx = dy * (2 * m - 1) + dx
            self._index[key] = idx.to(device)
        return self._index[key]

    def forward(self, x, side, heads, qk_scale, v_scale):
        B, N, C = x.shape
        dq, dv, cmax = self.head_dim * qk_scale, self.head_dim * v_scale, self.width_max
        xn = sample_norm(x, self.norm1.weight, self.norm1.bias)
        w = self.qkv.weight
        # Row blocks from 0, Cmax and 2 Cmax (docs/elasticvit.md#attention), over the first C
        # columns; the product is split per head, interleaved: [q | k | v] of head 0, head 1, ...
        w = torch.cat([w[:heads * dq, :C], w[cmax:cmax + heads * dq, :C],
                       w[2 * cmax:2 * cmax + heads * dv, :C]])
        qkv = F.linear(xn, w).view(B, N, heads, 2 * dq + dv).permute(0, 2, 1, 3)
        q, k, v = qkv.split([dq, dq, dv], dim=-1)  # [B, h, N, d]
        # Depthwise 3x3 on V seen as an image of h dv channels (channel i dv + t), laid out
        # channels-last ([B, side, side, h dv] in memory: the tokens' own order), so that the
        # conv takes the fast channels-last path and its output is V again without a copy.
        vi = v.transpose(1, 2).reshape(B, side, side, heads * dv).permute(0, 3, 1, 2)
        vi = depthwise(vi, self.dw_v_conv.weight[:heads * dv], 1)
        v = vi.permute(0, 2, 3, 1).reshape(B, N, heads, dv).transpose(1, 2)
        bias = self.attention_bias[:, :heads][self.bias_index(side, x.device)]  # [N, N, h]
        scores = q @ k.transpose(-2, -1) / math.sqrt(dq) + bias.permute(2, 0, 1)
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, N, heads * dv)
        out = F.linear(F.hardswish(out), self.proj.weight[:C, :heads * dv], self.proj.bias[:C])
        return x + out


class FFN(nn.Module):
    """A transformer layer's MLP at supernet size (its pre-norm is officially named norm1)."""

    def __init__(self, width_max, hidden_max):
        super().__init__()
        self.norm1 = nn.Module()
        self.norm1.weight = nn.Parameter(torch.ones(width_max))
        self.norm1.bias = nn.Parameter(torch.zeros(width_max))
        self.fc1 = Weight((hidden_max, width_max), bias=True)
        self.fc2 = Weight((width_max, hidden_max), bias=True)

    def forward(self, x, mlp_ratio):
        C = x.shape[-1]
        hidden = math.floor(Fraction(mlp_ratio) * C)
        h = sample_norm(x, self.norm1.weight, self.norm1.bias)
        h = F.hardswish(F.linear(h, self.fc1.weight[:hidden, :C], self.fc1.bias[:hidden]))
        return x + F.linear(h, self.fc2.weight[:C, :hidden], self.fc2.bias[:C])


class Stage(nn.Module):
    """A stage: its layers under `layers` (official names)."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)


# ---- the supernet --------------------------------------------------------------------------------

class ElasticSupernet(nn.Module):
    """The ElasticViT supernet of a space (an evit.Space, or describe()'s dict), at its largest
    size; forward(images, arch) runs subnet `arch` (an evit.Arch, {"resolution", "stages"}, or
    the list of stage dicts of arch.stages) on images [B, 3, H, W] (resized bicubically to the
    arch's resolution when H or W differs, as the official forward). channels_last: run the
    convolutions on NHWC feature maps (faster on CPU; the same numbers to float rounding)."""

    def __init__(self, space, num_classes=None, head_hidden=None, head_expand=None,
                 channels_last=True):
        super().__init__()
        # Feature maps channels-last (NHWC in memory): PyTorch's CPU (oneDNN) depthwise
        # convolutions and their gradients run several times faster on it than on NCHW, which made
        # training about twice as fast; the logits agree with NCHW to float rounding (~1e-6).
        self.channels_last = channels_last
        d = self.desc = describe(space, num_classes, head_hidden, head_expand)
        st = d["stages"]
        maxw = [max(s["width"]) for s in st]
        first = st[0]
        kf = max(first.get("kernel_size") or [3])
        self.first_conv = Weight((maxw[0], 3, kf, kf))
        self.first_conv_bn = ElasticBatchNorm(maxw[0])
        self.feature_exactor = nn.ModuleList()  # (sic) the official name
        for s in range(1, len(st)):
            g = st[s]
            in_max = max(maxw[s], maxw[s - 1])  # layer 0 reads the previous stage's width
            depth = max(g["depth"])
            if g["kind"] == "transformer":
                red = MBConv(in_max, in_max * REDUCTION_EXPAND, maxw[s], REDUCTION_KERNEL, True,
                             True)
                head_dim = g["head_dim"]
                heads_max = maxw[s] // head_dim
                rel = max(side_after(d, r, s) for r in d["resolutions"])
                hidden_max = math.floor(max(Fraction(m) for m in g["mlp_ratio"]) * maxw[s])
                layers = []
                for j in range(depth):
                    layers.append(Attention(maxw[s], heads_max, head_dim, max(g["qk_scale"]),
                                            max(g["v_scale"]), rel, red if j == 0 else None))
                    layers.append(FFN(maxw[s], hidden_max))
            else:
                e_max = max(g["expand_ratio"])
                layers = [nn.ModuleList([MBConv(in_max, in_max * e_max, maxw[s],
                                                max(g["kernel_size"]), e_max > 1,
                                                bool(g.get("squeeze_excite")))])
                          for _ in range(depth)]
            stage = Stage(layers)
            if s == 1:
                self.conv_stem = stage
            else:
                self.feature_exactor.append(stage)
        c, ec = maxw[-1], d["head_expand"] * maxw[-1]
        self.pre_head_0 = Weight((ec, c), bias=True)
        self.pre_head_norm_0 = ElasticBatchNorm(ec)
        self.pre_head_1 = Weight((d["head_hidden"], ec), bias=True)
        self.classifer = Weight((d["num_classes"], d["head_hidden"]), bias=True)  # (sic)

    @classmethod
    def from_evit(cls, net):
        """The PyTorch supernet of an evit.Supernet's space, with its weights."""
        model = cls(net.space, num_classes=net.num_classes,
                    head_hidden=net.tensor("classifer.weight").shape[1])
        model.load_evit(net)
        return model

    def stage_module(self, s):
        return self.conv_stem if s == 1 else self.feature_exactor[s - 2]

    @property
    def bn_momentum(self):
        return self.first_conv_bn.momentum

    @bn_momentum.setter
    def bn_momentum(self, m):
        """Momentum of every BatchNorm's running statistics; None: a cumulative average from the
        next training batch on (call reset_bn_statistics first for a recalibration)."""
        for mod in self.modules():
            if isinstance(mod, ElasticBatchNorm):
                mod.momentum, mod.batches = m, 0

    def reset_bn_statistics(self):
        for mod in self.modules():
            if isinstance(mod, ElasticBatchNorm):
                mod.running_mean.zero_()
                mod.running_var.fill_(1)
                mod.batches = 0

    def forward(self, images, arch):
        d = self.desc
        a = arch_dict(arch, images.shape[-1])
        R, stages = a["resolution"], a["stages"]
        if images.shape[-2] != R or images.shape[-1] != R:
            images = F.interpolate(images, size=(R, R), mode="bicubic", align_corners=False)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        # First conv + BN + Hardswish.
        cf = stages[0]["width"]
        layers0 = stages[0].get("layers") or [{}]
        k = layers0[0].get("kernel_size") or self.first_conv.weight.shape[-1]
        w = centre_kernel(self.first_conv.weight[:cf], k)
        x = F.conv2d(images, w, stride=d["stages"][0]["stride"], padding=k // 2)
        x = F.hardswish(self.first_conv_bn(x))
        tokens = False
        for s in range(1, len(d["stages"])):
            g, a_s = d["stages"][s], stages[s]
            c, mod = a_s["width"], self.stage_module(s)
            if g["kind"] != "transformer":
                for j, lay in enumerate(a_s["layers"]):
                    x = mod.layers[j][0](x, c, lay["expand_ratio"], lay["kernel_size"],
                                         g["stride"] if j == 0 else 1)
                continue
            if tokens:  # tokens [B, N, C] back to planes, row-major
                side = math.isqrt(x.shape[1])
                x = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], side, side)
            x = mod.layers[0].reduction(x, c, REDUCTION_EXPAND, REDUCTION_KERNEL, g["stride"])
            side = x.shape[-1]
            x = x.flatten(2).transpose(1, 2)
            tokens = True
            for j, lay in enumerate(a_s["layers"]):
                heads = lay.get("num_heads") or c // g["head_dim"]
                x = mod.layers[2 * j](x, side, heads, lay.get("qk_scale", 1), lay["v_scale"])
                x = mod.layers[2 * j + 1](x, lay["mlp_ratio"])
        # MobileNetV3 head: per-token C -> eC, BatchNorm over every token of the batch, Hardswish,
        # mean over tokens, eC -> hidden, Hardswish, classifier.
        B, N, C = x.shape
        ec = d["head_expand"] * C
        h = F.linear(x, self.pre_head_0.weight[:ec, :C], self.pre_head_0.bias[:ec])
        h = F.hardswish(self.pre_head_norm_0(h.reshape(B * N, ec))).reshape(B, N, ec).mean(1)
        h = F.hardswish(F.linear(h, self.pre_head_1.weight[:, :ec], self.pre_head_1.bias))
        return F.linear(h, self.classifer.weight, self.classifer.bias)

    # ---- weights in and out (official names) ----------------------------------------------------

    def load_tensors(self, tensors, strict=True):
        """Copies {name: array} (official names, supernet shapes) into the module. Ignores the
        buffers the official state_dict has and this module computes itself (num_batches_tracked,
        relative_position_index); with strict, every tensor of the module must be given and no
        other float tensor may be. Returns the names of the module's tensors that were set."""
        own = self.state_dict()
        done, unused = [], []
        for name, value in tensors.items():
            if name.endswith(".num_batches_tracked") or name.endswith(".relative_position_index"):
                continue
            if name not in own:
                unused.append(name)
                continue
            t = torch.from_numpy(np.array(value, dtype=np.float32))
            if tuple(t.shape) != tuple(own[name].shape):
                raise ValueError("%s: shape %s, the module needs %s"
                                 % (name, list(t.shape), list(own[name].shape)))
            with torch.no_grad():
                own[name].copy_(t)
            done.append(name)
        missing = sorted(set(own) - set(done))
        if strict and (missing or unused):
            raise ValueError("missing tensors %s; unused tensors %s" % (missing[:8], unused[:8]))
        return done

    def load_evit(self, net, strict=True):
        """Copies the weights of an evit.Supernet (tensor_names() / tensor(name))."""
        return self.load_tensors({n: net.tensor(n) for n in net.tensor_names()}, strict)

    def load_safetensors(self, path, strict=True):
        return self.load_tensors(read_safetensors(path), strict)

    def save_safetensors(self, path, metadata=None):
        save_safetensors(self.state_dict(), path, metadata)


# ---- a minimal safetensors reader and writer (numpy + json) --------------------------------------

_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1",
           "BOOL": "?"}


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (float tensors as float32; BF16 too)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        if t["dtype"] == "BF16":
            u = np.frombuffer(data[b:e], dtype="<u2").astype(np.uint32) << 16
            a = u.view(np.float32)
        else:
            a = np.frombuffer(data[b:e], dtype=_DTYPES[t["dtype"]])
        if a.dtype.kind == "f":
            a = a.astype(np.float32)
        out[name] = a.reshape(t["shape"])
    return out


def save_safetensors(tensors, path, metadata=None):
    """Writes {name: tensor or array} as a safetensors file (float tensors as F32, uint8 ones as
    U8, other integer ones as I64): 8-byte little-endian header length, JSON header padded to 8
    bytes, the data."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
        if a.dtype.kind == "f":
            a, dtype = np.ascontiguousarray(a, dtype="<f4"), "F32"
        elif a.dtype == np.uint8:
            a, dtype = np.ascontiguousarray(a), "U8"
        else:
            a, dtype = np.ascontiguousarray(a, dtype="<i8"), "I64"
        blob = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
