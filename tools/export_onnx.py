#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Exports one ElasticViT or AutoFormer subnet as a static ONNX graph holding only that subnet's
weights.

Input: a standalone subnet file (safetensors) as evit writes it, `run_subnet --export-subnet FILE`
or `supernet::export_subnet`: the subnet's sliced weights under the official names, and in the
metadata its arch and its plan (every block's kind, module name, geometry and chosen dimensions,
`include/evit/models/elasticvit/plan_json.hpp`). The graph follows evit's forward pass
(docs/elasticvit.md, include/evit/models/elasticvit/detail/forward_impl.hpp) op for op; no
geometry is derived here, it all comes from the plan. Or, with --arch / --random-arch, this script
runs run_subnet to write that file first, from a supernet file (--weights) or evit's random
supernet (--seed).

    export_onnx.py subnet.safetensors -o subnet.onnx [--bn fold|keep] [--batch N]
    export_onnx.py --arch elastic_T1 [--weights supernet.safetensors] -o t1.onnx
    export_onnx.py --model autoformer-t --arch AutoFormer-T [--weights supernet-T.safetensors] \
        -o autoformer-t.onnx

AutoFormer (--model autoformer-t|s|b with --arch / --random-arch; a subnet file says its family in
its metadata): `run_subnet --model autoformer-t --export-subnet FILE` writes the subnet's sliced
weights under the official names and, in the metadata ("autoformer"), every size the forward uses
(autoformer::supernet::export_subnet). The graph follows include/evit/models/autoformer/forward.hpp
op for op (docs/autoformer.md: interleaved qkv rows with a contiguous bias, class token, absolute
position embedding, 2-D relative position on keys and values, exact GELU, pooling without the class
token); it has no BatchNorm, so --bn does not apply.

The graph: input "images" (batch x 3 x R x R, float32, NCHW), output "logits" (batch x classes).
The batch dimension is symbolic ("batch") unless --batch fixes it. BatchNorm is folded into the
convolution (or linear layer) before it (--bn fold, the default) or kept as BatchNormalization
nodes with the file's running statistics (--bn keep). Opset 17; needs python3-onnx and
python3-numpy (Debian), no PyTorch. Errors: one line on stderr naming the bad value, exit 1
(2 for a bad command line)."""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

PROG = "export_onnx.py"

try:
    import numpy as np
except ImportError:
    sys.stderr.write("%s: needs numpy (Debian: apt-get install python3-numpy)\n" % PROG)
    sys.exit(1)
PLAN_FORMAT = "evit.elasticvit.plan/1"  # plan_json_format in plan_json.hpp
OPSET = 17


class ExportError(Exception):
    """A bad input, with the one-line reason."""


# ---- safetensors -----------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64,
           "I32": np.int32, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    """(tensors, metadata) of a safetensors file: name -> numpy array (float tensors as
    float32; BF16 converted), and the metadata's string entries."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ExportError("%s: cannot open the file (%s)" % (path, e.strerror))
    if len(data) < 8:
        raise ExportError("%s: not a safetensors file (%d bytes)" % (path, len(data)))
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ExportError("%s: header length %d exceeds the file (%d bytes): not a safetensors "
                          "file" % (path, n, len(data)))
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ExportError("%s: the header is not JSON (%s)" % (path, e))
    if not isinstance(header, dict):
        raise ExportError("%s: the header is not a JSON object" % path)
    meta = header.pop("__metadata__", None) or {}
    base = 8 + n
    tensors = {}
    for name, t in header.items():
        try:
            dtype, shape, (b0, b1) = t["dtype"], [int(s) for s in t["shape"]], t["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise ExportError("%s: tensor \"%s\": bad header entry %s" % (path, name, t))
        raw = data[base + b0:base + b1]
        count = int(np.prod(shape, dtype=np.int64))
        if dtype == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif dtype in _DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(_DTYPES[dtype]).newbyteorder("<"))
        else:
            raise ExportError("%s: tensor \"%s\" has dtype %s, which this reader does not know"
                              % (path, name, dtype))
        if arr.size != count or b1 > len(data) - base:
            raise ExportError("%s: tensor \"%s\": %d bytes for shape %s (%s)"
                              % (path, name, len(raw), shape, dtype))
        arr = arr.reshape(shape)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        tensors[name] = arr
    return tensors, meta


# ---- the plan --------------------------------------------------------------------------------

def load_plan(meta, path):
    """The plan stored by export_subnet, checked for the format this script reads."""
    text = meta.get("plan")
    if text is None:
        raise ExportError("%s: no \"plan\" in the metadata: write the file with evit's "
                          "run_subnet --export-subnet (or supernet::export_subnet)" % path)
    try:
        plan = json.loads(text)
    except ValueError as e:
        raise ExportError("%s: metadata \"plan\" is not JSON (%s)" % (path, e))
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise ExportError("%s: metadata \"plan\" has format %r; this script reads %r"
                          % (path, plan.get("format") if isinstance(plan, dict) else None,
                             PLAN_FORMAT))
    kinds = [b.get("kind") for b in plan.get("blocks", [])]
    if not kinds or kinds[0] != "first_conv" or kinds[-1] != "head":
        raise ExportError("%s: the plan's blocks (%s) do not run from first_conv to head"
                          % (path, ", ".join(map(str, kinds))))
    return plan


# ---- graph building ----------------------------------------------------------------------------

class Graph:
    """Nodes and initializers of one ONNX graph, with unique names."""

    def __init__(self, onnx_module):
        self.onnx = onnx_module
        self.helper = onnx_module.helper
        self.nodes, self.inits, self.used = [], [], set()

    def _name(self, hint):
        name, i = hint, 1
        while name in self.used:
            i += 1
            name = "%s_%d" % (hint, i)
        self.used.add(name)
        return name

    def const(self, hint, array):
        array = np.ascontiguousarray(array)
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        name = self._name(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def ints(self, hint, values):
        return self.const(hint, np.asarray(values, dtype=np.int64))

    def op(self, op_type, inputs, hint, outputs=1, **attrs):
        names = [self._name(hint if outputs == 1 else "%s_%d" % (hint, i))
                 for i in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names,
                                                name=self._name("n_" + hint), **attrs))
        return names[0] if outputs == 1 else names


class Exporter:
    """Builds the graph of one subnet from its file's tensors and plan (evit's forward, op for
    op: include/evit/models/elasticvit/detail/forward_impl.hpp)."""

    def __init__(self, onnx_module, tensors, plan, path, bn="fold"):
        self.g = Graph(onnx_module)
        self.t, self.plan, self.path, self.bn_mode = tensors, plan, path, bn
        fixed = plan["fixed"]
        self.eps = float(fixed["norm_eps"])
        self.se_divisor = int(fixed["se_divisor"])
        self.vk = int(fixed["v_conv_kernel"])

    # Tensors, sliced to the leading entries the block uses (docs/elasticvit.md#weight-slicing);
    # a k x k kernel is the centre of a larger one.
    def w(self, name, *sizes, kernel=None):
        if name not in self.t:
            raise ExportError("%s: tensor \"%s\" is missing (the plan's block needs it)"
                              % (self.path, name))
        a = self.t[name]
        want = list(sizes) + ([kernel, kernel] if kernel is not None else [])
        if a.ndim != len(want) and not (kernel is None and a.ndim == 4 and len(want) == 2):
            raise ExportError("%s: tensor \"%s\" has shape %s; the plan needs rank %d"
                              % (self.path, name, list(a.shape), len(want)))
        if kernel is None and a.ndim == 4 and len(want) == 2:
            want += [1, 1]  # a 1x1 convolution's weight
        if any(s > f for s, f in zip(want, a.shape)):
            raise ExportError("%s: tensor \"%s\" has shape %s; the plan needs at least %s"
                              % (self.path, name, list(a.shape), want))
        if kernel is not None:
            off = (a.shape[-1] - kernel) // 2
            a = a[..., off:off + kernel, off:off + kernel]
        return np.ascontiguousarray(a[tuple(slice(0, s) for s in want[:a.ndim])])

    def bn_coefficients(self, prefix, c):
        gamma = self.w(prefix + ".weight", c).astype(np.float64)
        beta = self.w(prefix + ".bias", c).astype(np.float64)
        mean = self.w(prefix + ".running_mean", c).astype(np.float64)
        var = self.w(prefix + ".running_var", c).astype(np.float64)
        scale = gamma / np.sqrt(var + np.float64(np.float32(self.eps)))
        return scale, beta - mean * scale

    def act(self, x, kind, hint):
        if kind == "hardswish":
            return self.g.op("HardSwish", [x], hint + "_hswish")
        return x

    # A convolution + BatchNorm (+ activation): BN folded into the weights, or kept.
    def conv_bn(self, x, weight, bn_prefix, hint, stride=1, pad=0, group=1, act=None):
        g, c = self.g, weight.shape[0]
        k = weight.shape[-1]
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group)
        if self.bn_mode == "fold":
            scale, shift = self.bn_coefficients(bn_prefix, c)
            wf = (weight.astype(np.float64) * scale.reshape(-1, 1, 1, 1)).astype(np.float32)
            y = g.op("Conv", [x, g.const(hint + ".weight", wf), g.const(hint + ".bias", shift)],
                     hint, **attrs)
        else:
            y = g.op("Conv", [x, g.const(hint + ".weight", weight)], hint, **attrs)
            y = g.op("BatchNormalization",
                     [y] + [g.const("%s.%s" % (bn_prefix, s), self.w("%s.%s" % (bn_prefix, s), c))
                            for s in ("weight", "bias", "running_mean", "running_var")],
                     bn_prefix, epsilon=float(np.float32(self.eps)))
        return self.act(y, act, hint)

    def conv(self, x, weight, hint, bias=None):
        g = self.g
        k = weight.shape[-1]
        ins = [x, g.const(hint + ".weight", weight)]
        if bias is not None:
            ins.append(g.const(hint + ".bias", bias))
        return g.op("Conv", ins, hint, kernel_shape=[k, k], strides=[1, 1], pads=[0] * 4)

    def linear(self, x, weight, bias, hint):
        """x [..., in] @ weight[out, in]^T + bias (weight and bias already sliced)."""
        g = self.g
        y = g.op("MatMul", [x, g.const(hint + ".weight_t", weight.T)], hint)
        if bias is not None:
            y = g.op("Add", [y, g.const(hint + ".bias", bias)], hint + "_bias")
        return y

    # Layouts: NCHW planes up to a transformer stage's reduction block, tokens [B, N, C] after.
    def to_tokens(self, x, c, hint):
        g = self.g
        y = g.op("Reshape", [x, g.ints("shape", [0, c, -1])], hint + "_flat")
        return g.op("Transpose", [y], hint + "_tokens", perm=[0, 2, 1])

    def to_planes(self, x, c, side, hint):
        g = self.g
        y = g.op("Transpose", [x], hint + "_cn", perm=[0, 2, 1])
        return g.op("Reshape", [y, g.ints("shape", [0, c, side, side])], hint + "_planes")

    # ElasticViT's per-sample norm (one mean and variance over all N x C values, per-channel
    # affine): LayerNormalization over axes (1, 2), the affine tiled over the tokens.
    def sample_norm(self, x, prefix, n, c, hint):
        g = self.g
        gamma = np.tile(self.w(prefix + ".weight", c), (n, 1))
        beta = np.tile(self.w(prefix + ".bias", c), (n, 1))
        return g.op("LayerNormalization",
                    [x, g.const(prefix + ".weight_tiled", gamma),
                     g.const(prefix + ".bias_tiled", beta)],
                    hint, axis=1, epsilon=float(np.float32(self.eps)))

    # ---- blocks (docs/elasticvit.md) ----

    def first_conv(self, x, b):
        k, c = b["kernel"], b["cout"]
        w = self.w("first_conv.weight", c, 3, kernel=k)
        return self.conv_bn(x, w, "first_conv_bn", "first_conv", stride=b["stride"], pad=k // 2,
                            act="hardswish")

    def mbconv(self, x, b):
        g, p = self.g, b["module"]
        cin, c, k, stride = b["cin"], b["cout"], b["kernel"], b["stride"]
        inner = cin * b["expand"]
        h = x
        if b["has_pw"]:  # 1x1 expansion + BN + Hardswish (the stem has none)
            h = self.conv_bn(x, self.w(p + ".pw_conv.weight", inner, cin), p + ".pw_bn",
                             p + ".pw_conv", act="hardswish")
        # k x k depthwise (centre of the supernet kernel) + BN + Hardswish
        h = self.conv_bn(h, self.w(p + ".dw_conv.weight", inner, 1, kernel=k), p + ".dw_bn",
                         p + ".dw_conv", stride=stride, pad=k // 2, group=inner, act="hardswish")
        if b["se"]:  # squeeze-excite on the expanded channels, reduction inner / 4
            r = inner // self.se_divisor
            s = g.op("GlobalAveragePool", [h], p + ".se_pool")
            s = self.conv(s, self.w(p + ".se_conv1.weight", r, inner), p + ".se_conv1",
                          self.w(p + ".se_conv1.bias", r))
            s = g.op("Relu", [s], p + ".se_relu")
            s = self.conv(s, self.w(p + ".se_conv2.weight", inner, r), p + ".se_conv2",
                          self.w(p + ".se_conv2.bias", inner))
            s = g.op("HardSigmoid", [s], p + ".se_gate", alpha=1.0 / 6.0, beta=0.5)
            h = g.op("Mul", [h, s], p + ".se_scale")
        # 1x1 projection + BN
        y = self.conv_bn(h, self.w(p + ".pwl_conv.weight", c, inner), p + ".pwl_bn",
                         p + ".pwl_conv")
        # residual: identity, or 2x2 average pool (pad 1 first on an odd side, zeros counted)
        # and/or a 1x1 conv without bias
        src = x
        if stride == 2:
            ph = b["side_in"] % 2
            src = g.op("AveragePool", [src], p + ".shortcut_pool", kernel_shape=[2, 2],
                       strides=[2, 2], pads=[ph, ph, 0, 0], count_include_pad=1)
        if cin != c:
            src = self.conv(src, self.w(p + ".shortcut_conv.weight", c, cin), p + ".shortcut_conv")
        return g.op("Add", [y, src], p + ".out")

    def reduction(self, x, b):
        if b["tokens_in"]:
            x = self.to_planes(x, b["cin"], b["side_in"], b["module"] + ".in")
        y = self.mbconv(x, b)
        return self.to_tokens(y, b["cout"], b["module"])

    def attention(self, x, b):
        g, p = self.g, b["module"]
        c, side, h = b["cout"], b["side"], b["heads"]
        n = side * side
        dqk, dv = b["head_dim"] * b["qk_scale"], b["head_dim"] * b["v_scale"]
        S, hdv = 2 * dqk + dv, h * dv
        y = self.sample_norm(x, p + ".norm1", n, c, p + ".norm")
        # qkv: three row blocks of the file's weight (Q from 0, K from Cmax, V from 2 Cmax, over
        # the first C columns), stacked; then viewed as (N, h, S), head i = q_i | k_i | v_i.
        name = p + ".qkv.weight"
        self.w(name, 1, c)  # present, with at least C columns
        rows = self.t[name]
        cmax = rows.shape[1]
        if rows.shape[0] < 2 * cmax + hdv or h * dqk > cmax:
            raise ExportError("%s: tensor \"%s\" has shape %s; the plan needs Q and K blocks of "
                              "%d rows and a V block of %d rows from row %d"
                              % (self.path, name, list(rows.shape), h * dqk, hdv, 2 * cmax))
        wqkv = np.concatenate([rows[0:h * dqk, :c], rows[cmax:cmax + h * dqk, :c],
                               rows[2 * cmax:2 * cmax + hdv, :c]], axis=0)
        qkv = self.linear(y, wqkv, None, p + ".qkv")
        qkv = g.op("Reshape", [qkv, g.ints("shape", [0, 0, h, S])], p + ".qkv_heads")
        qkv = g.op("Transpose", [qkv], p + ".qkv_hn", perm=[0, 2, 1, 3])  # [B, h, N, S]
        q, k, v = g.op("Split", [qkv, g.ints("split", [dqk, dqk, dv])], p + ".qkv_split",
                       outputs=3, axis=3)
        # 3x3 depthwise conv on V: channel i dv + t on the side x side grid
        vt = g.op("Transpose", [v], p + ".v_t", perm=[0, 1, 3, 2])  # [B, h, dv, N]
        vi = g.op("Reshape", [vt, g.ints("shape", [0, hdv, side, side])], p + ".v_img")
        vk = self.vk
        vi = g.op("Conv", [vi, g.const(p + ".dw_v_conv.weight",
                                       self.w(p + ".dw_v_conv.weight", hdv, 1, kernel=vk))],
                  p + ".v_conv", kernel_shape=[vk, vk], strides=[1, 1], pads=[vk // 2] * 4,
                  group=hdv)
        vt = g.op("Reshape", [vi, g.ints("shape", [0, h, dv, n])], p + ".v_heads")
        v = g.op("Transpose", [vt], p + ".v", perm=[0, 1, 3, 2])  # [B, h, N, dv]
        # scores q k^T / sqrt(dqk) + relative-position bias (indexed with the table's Rmax)
        kt = g.op("Transpose", [k], p + ".k_t", perm=[0, 1, 3, 2])
        s = g.op("MatMul", [q, kt], p + ".scores")
        s = g.op("Mul", [s, g.const(p + ".scale", np.float32(1.0 / np.sqrt(float(dqk))))],
                 p + ".scores_scaled")
        R = b["max"]["rel_side"]
        table = self.w(p + ".attention_bias", (2 * R - 1) ** 2, h)
        yy, xx = np.divmod(np.arange(n), side)
        idx = ((yy[:, None] - yy[None, :] + R - 1) * (2 * R - 1) +
               (xx[:, None] - xx[None, :] + R - 1))
        bias = np.transpose(table[idx], (2, 0, 1))  # [h, N, N]
        s = g.op("Add", [s, g.const(p + ".rel_bias", bias)], p + ".scores_biased")
        s = g.op("Softmax", [s], p + ".probs", axis=-1)
        o = g.op("MatMul", [s, v], p + ".av")  # [B, h, N, dv]
        o = g.op("Transpose", [o], p + ".av_t", perm=[0, 2, 1, 3])
        o = g.op("Reshape", [o, g.ints("shape", [0, 0, hdv])], p + ".heads")
        o = self.act(o, "hardswish", p + ".heads")
        o = self.linear(o, self.w(p + ".proj.weight", c, hdv), self.w(p + ".proj.bias", c),
                        p + ".proj")
        return g.op("Add", [x, o], p + ".out")

    def ffn(self, x, b):
        g, p = self.g, b["module"]
        c, hidden, n = b["cout"], b["hidden"], b["side"] * b["side"]
        y = self.sample_norm(x, p + ".norm1", n, c, p + ".norm")
        y = self.linear(y, self.w(p + ".fc1.weight", hidden, c), self.w(p + ".fc1.bias", hidden),
                        p + ".fc1")
        y = self.act(y, "hardswish", p + ".fc1")
        y = self.linear(y, self.w(p + ".fc2.weight", c, hidden), self.w(p + ".fc2.bias", c),
                        p + ".fc2")
        return g.op("Add", [x, y], p + ".out")

    def head(self, x, b):
        """Per-token linear C -> eC, BN, Hardswish, mean over tokens, linear -> hidden,
        Hardswish, classifier."""
        g = self.g
        c, ec, hid, classes = b["cin"], b["cin"] * b["expand"], b["hidden"], b["classes"]
        w0, b0 = self.w("pre_head_0.weight", ec, c), self.w("pre_head_0.bias", ec)
        if self.bn_mode == "fold":
            scale, shift = self.bn_coefficients("pre_head_norm_0", ec)
            w0 = (w0.astype(np.float64) * scale[:, None]).astype(np.float32)
            b0 = (b0.astype(np.float64) * scale + shift).astype(np.float32)
            y = self.linear(x, w0, b0, "pre_head_0")
            y = self.act(y, "hardswish", "pre_head_0")
            y = g.op("ReduceMean", [y], "pre_head_pool", axes=[1], keepdims=0)
        else:
            y = self.linear(x, w0, b0, "pre_head_0")
            y = g.op("Transpose", [y], "pre_head_0_cn", perm=[0, 2, 1])  # [B, eC, N]
            y = g.op("BatchNormalization",
                     [y] + [g.const("pre_head_norm_0." + s, self.w("pre_head_norm_0." + s, ec))
                            for s in ("weight", "bias", "running_mean", "running_var")],
                     "pre_head_norm_0", epsilon=float(np.float32(self.eps)))
            y = self.act(y, "hardswish", "pre_head_norm_0")
            y = g.op("ReduceMean", [y], "pre_head_pool", axes=[2], keepdims=0)
        y = self.linear(y, self.w("pre_head_1.weight", hid, ec), self.w("pre_head_1.bias", hid),
                        "pre_head_1")
        y = self.act(y, "hardswish", "pre_head_1")
        return self.linear(y, self.w("classifer.weight", classes, hid),
                           self.w("classifer.bias", classes), "classifier")

    def build(self, batch=None):
        onnx, helper = self.g.onnx, self.g.helper
        plan = self.plan
        r, classes = plan["resolution"], plan["classes"]
        bdim = batch if batch else "batch"
        x = "images"
        steps = {"first_conv": self.first_conv, "mbconv": self.mbconv,
                 "reduction": self.reduction, "attention": self.attention, "ffn": self.ffn,
                 "head": self.head}
        for b in plan["blocks"]:
            if b["kind"] not in steps:
                raise ExportError("%s: the plan has a block of kind %r, which this script does "
                                  "not know" % (self.path, b["kind"]))
            x = steps[b["kind"]](x, b)
        self.g.nodes.append(helper.make_node("Identity", [x], ["logits"], name="n_logits"))
        graph = helper.make_graph(
            self.g.nodes, "elasticvit_subnet",
            [helper.make_tensor_value_info("images", onnx.TensorProto.FLOAT, [bdim, 3, r, r])],
            [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [bdim, classes])],
            initializer=self.g.inits)
        model = helper.make_model(graph, producer_name="evit tools/export_onnx.py",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8  # ONNX 1.12's, for opset 17
        for k, v in (("arch", plan["arch"]), ("space", plan["space"]), ("bn", self.bn_mode),
                     ("resolution", str(r)), ("classes", str(classes))):
            e = model.metadata_props.add()
            e.key, e.value = k, v
        return model


# ---- AutoFormer ------------------------------------------------------------------------------

AUTOFORMER_FORMAT = "evit.autoformer.subnet/1"  # supernet<Space>::export_subnet, autoformer
AUTOFORMER_MODELS = ("autoformer-t", "autoformer-s", "autoformer-b")


def load_autoformer_sizes(meta, path):
    """The sizes stored by autoformer::supernet::export_subnet, checked for this format."""
    try:
        z = json.loads(meta["autoformer"])
    except ValueError as e:
        raise ExportError("%s: metadata \"autoformer\" is not JSON (%s)" % (path, e))
    if not isinstance(z, dict) or z.get("format") != AUTOFORMER_FORMAT:
        raise ExportError("%s: metadata \"autoformer\" has format %r; this script reads %r"
                          % (path, z.get("format") if isinstance(z, dict) else None,
                             AUTOFORMER_FORMAT))
    keys = ("resolution", "patch", "side", "tokens", "embed", "depth", "head_dim",
            "max_relative", "classes", "norm_eps", "scale", "layers")
    missing = [k for k in keys if k not in z]
    if missing:
        raise ExportError("%s: metadata \"autoformer\" lacks %s" % (path, ", ".join(missing)))
    if len(z["layers"]) != z["depth"]:
        raise ExportError("%s: metadata \"autoformer\": %d layers for depth %d"
                          % (path, len(z["layers"]), z["depth"]))
    if z["resolution"] != z["side"] * z["patch"] or z["tokens"] != z["side"] ** 2 + 1:
        raise ExportError("%s: metadata \"autoformer\": resolution %d, side %d, patch %d and "
                          "tokens %d do not fit" % (path, z["resolution"], z["side"], z["patch"],
                                                    z["tokens"]))
    z["arch"], z["space_name"] = meta.get("arch", "?"), meta.get("space", z.get("space", "?"))
    return z


class AutoFormerExporter:
    """The graph of one AutoFormer subnet (evit's forward, op for op:
    include/evit/models/autoformer/forward.hpp, docs/autoformer.md): patch embedding as patches
    times the first E filters, class token and absolute position embedding (on the class token
    too), pre-norm blocks with interleaved qkv rows and a contiguous qkv bias, 2-D relative
    position on keys and values, exact (erf) GELU, final LayerNorm, mean of the patch tokens
    (class token left out), classifier. Depth beyond the subnet's: no nodes (the identity)."""

    def __init__(self, onnx_module, tensors, z, path):
        self.g = Graph(onnx_module)
        self.t, self.z, self.path = tensors, z, path
        self.eps = float(np.float32(z["norm_eps"]))

    def w(self, name, *shape):
        """A tensor of the file, which must have exactly the subnet's shape."""
        if name not in self.t:
            raise ExportError("%s: tensor \"%s\" is missing (the subnet needs it)"
                              % (self.path, name))
        a = self.t[name]
        if list(a.shape) != list(shape):
            raise ExportError("%s: tensor \"%s\" has shape %s; the subnet needs %s"
                              % (self.path, name, list(a.shape), list(shape)))
        return a

    def linear(self, x, weight, bias, hint):
        g = self.g
        y = g.op("MatMul", [x, g.const(hint + ".weight_t", weight.T)], hint)
        return g.op("Add", [y, g.const(hint + ".bias", bias)], hint + "_bias")

    def layer_norm(self, x, prefix, e, hint):
        g = self.g
        return g.op("LayerNormalization",
                    [x, g.const(prefix + ".weight", self.w(prefix + ".weight", e)),
                     g.const(prefix + ".bias", self.w(prefix + ".bias", e))],
                    hint, axis=-1, epsilon=self.eps)

    def gelu(self, x, hint):
        """Exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (opset 17 has no Gelu)."""
        g = self.g
        y = g.op("Mul", [x, g.const("inv_sqrt2", np.float32(1 / np.sqrt(2.0)))], hint + "_s")
        y = g.op("Erf", [y], hint + "_erf")
        y = g.op("Add", [y, g.const("one", np.float32(1))], hint + "_1p")
        y = g.op("Mul", [x, y], hint + "_x")
        return g.op("Mul", [y, g.const("half", np.float32(0.5))], hint + "_gelu")

    def rel_indices(self):
        """Table rows of every (query, key) token pair, [N, N] per axis: 0 with the class token,
        else clamp(key - query coordinate, -M, M) + M + 1 (kernels/rel_pos_attention.hpp)."""
        s, m, n = self.z["side"], self.z["max_relative"], self.z["tokens"]
        yy, xx = np.divmod(np.arange(n - 1), s)
        iv = np.zeros((n, n), dtype=np.int64)
        ih = np.zeros((n, n), dtype=np.int64)
        iv[1:, 1:] = np.clip(yy[None, :] - yy[:, None], -m, m) + m + 1
        ih[1:, 1:] = np.clip(xx[None, :] - xx[:, None], -m, m) + m + 1
        return iv, ih

    def shared_constants(self):
        """Shared by every block: flat gather indices into q . [T_v; T_h]^T ([N, 2 rows] per
        query), and the one-hot map of every key to its two table rows ([N, N, 2 rows]) that sums
        the probabilities per table row."""
        g, n, rows = self.g, self.z["tokens"], 2 * self.z["max_relative"] + 2
        iv, ih = self.rel_indices()
        base = np.arange(n, dtype=np.int64)[:, None] * (2 * rows)
        self.gather_v = g.const("rel_gather_v", base + iv)
        self.gather_h = g.const("rel_gather_h", base + rows + ih)
        onehot = np.zeros((n, n, 2 * rows), dtype=np.float32)
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        onehot[i, j, iv] = 1
        onehot[i, j, rows + ih] = 1
        self.onehot = g.const("rel_onehot", onehot)

    def embed(self, x):
        g, z = self.g, self.z
        e, p, s, n = z["embed"], z["patch"], z["side"], z["tokens"]
        # Patches in row-major patch order, each 3 x p x p pixels, times the first E filters.
        y = g.op("Reshape", [x, g.ints("shape", [-1, 3, s, p, s, p])], "patches_6d")
        y = g.op("Transpose", [y], "patches_t", perm=[0, 2, 4, 1, 3, 5])
        y = g.op("Reshape", [y, g.ints("shape", [-1, s * s, 3 * p * p])], "patches")
        wp = self.w("patch_embed_super.proj.weight", e, 3, p, p).reshape(e, 3 * p * p)
        y = self.linear(y, wp, self.w("patch_embed_super.proj.bias", e), "patch_embed")
        # A zero row first, then + [cls + pos[0]; pos[1:]]: the class token and the position
        # embedding on every token.
        y = g.op("Pad", [y, g.ints("pads", [0, 1, 0, 0, 0, 0])], "tokens_padded")
        pos = self.w("pos_embed", 1, n, e)[0].copy()
        pos[0] = self.w("cls_token", 1, 1, e)[0, 0] + pos[0]
        return g.op("Add", [y, g.const("cls_pos_embed", pos)], "embed")

    def block(self, x, i, layer):
        g, z = self.g, self.z
        e, n, d = z["embed"], z["tokens"], z["head_dim"]
        h, q_width, f = layer["heads"], layer["qkv"], layer["hidden"]
        rows = 2 * z["max_relative"] + 2
        if q_width != h * d:
            raise ExportError("%s: block %d: qkv width %d for %d heads of %d"
                              % (self.path, i, q_width, h, d))
        p = "blocks.%d." % i
        y = self.layer_norm(x, p + "attn_layer_norm", e, p + "ln_attn")
        # qkv: q feature j is row 3 j, k row 3 j + 1, v row 3 j + 2; the bias is contiguous.
        wqkv = self.w(p + "attn.qkv.weight", 3 * q_width, e)
        wqkv = np.concatenate([wqkv[0::3], wqkv[1::3], wqkv[2::3]], axis=0)
        y = self.linear(y, wqkv, self.w(p + "attn.qkv.bias", 3 * q_width), p + "qkv")
        y = g.op("Reshape", [y, g.ints("shape", [0, n, 3 * h, d])], p + "qkv_heads")
        y = g.op("Transpose", [y], p + "qkv_t", perm=[0, 2, 1, 3])  # [B, 3H, N, d]
        q, k, v = g.op("Split", [y, g.ints("split", [h, h, h])], p + "qkv_split", outputs=3,
                       axis=1)
        tables = {}
        for kv in ("k", "v"):
            tables[kv] = np.concatenate(
                [self.w(p + "attn.rel_pos_embed_%s.embeddings_table_%s" % (kv, axis), rows, d)
                 for axis in ("v", "h")], axis=0)  # [2 rows, d]
        scale = g.const("scale", np.float32(z["scale"]))
        # logits: scale (q . k) + scale (q . Tk_v[iv]) + scale (q . Tk_h[ih])
        kt = g.op("Transpose", [k], p + "k_t", perm=[0, 1, 3, 2])
        s = g.op("MatMul", [q, kt], p + "qk")
        s = g.op("Mul", [s, scale], p + "qk_scaled")
        qt = g.op("MatMul", [q, g.const(p + "rel_k_t", tables["k"].T)], p + "q_tables")
        qt = g.op("Mul", [qt, scale], p + "q_tables_scaled")
        qt = g.op("Reshape", [qt, g.ints("shape", [0, h, n * 2 * rows])], p + "q_tables_flat")
        rv = g.op("Gather", [qt, self.gather_v], p + "rel_logits_v", axis=2)
        rh = g.op("Gather", [qt, self.gather_h], p + "rel_logits_h", axis=2)
        r = g.op("Add", [rv, rh], p + "rel_logits")
        s = g.op("Add", [s, r], p + "logits")
        a = g.op("Softmax", [s], p + "probs", axis=-1)
        # output: A v + (A summed per table row) . [Tv_v; Tv_h]
        o = g.op("MatMul", [a, v], p + "av")
        at = g.op("Transpose", [a], p + "probs_t", perm=[2, 0, 1, 3])  # [N, B, H, N]
        at = g.op("Reshape", [at, g.ints("shape", [n, -1, n])], p + "probs_per_query")
        sums = g.op("MatMul", [at, self.onehot], p + "row_sums")  # [N, B H, 2 rows]
        sums = g.op("Reshape", [sums, g.ints("shape", [n, -1, h, 2 * rows])], p + "row_sums_4d")
        sums = g.op("Transpose", [sums], p + "row_sums_t", perm=[1, 2, 0, 3])  # [B, H, N, 2r]
        ov = g.op("MatMul", [sums, g.const(p + "rel_v", tables["v"])], p + "rel_out")
        o = g.op("Add", [o, ov], p + "heads_out")
        o = g.op("Transpose", [o], p + "heads_t", perm=[0, 2, 1, 3])
        o = g.op("Reshape", [o, g.ints("shape", [0, n, q_width])], p + "heads")
        o = self.linear(o, self.w(p + "attn.proj.weight", e, q_width),
                        self.w(p + "attn.proj.bias", e), p + "proj")
        x = g.op("Add", [x, o], p + "attn_residual")
        y = self.layer_norm(x, p + "ffn_layer_norm", e, p + "ln_ffn")
        y = self.linear(y, self.w(p + "fc1.weight", f, e), self.w(p + "fc1.bias", f), p + "fc1")
        y = self.gelu(y, p + "fc1")
        y = self.linear(y, self.w(p + "fc2.weight", e, f), self.w(p + "fc2.bias", e), p + "fc2")
        return g.op("Add", [x, y], p + "out")

    def build(self, batch=None):
        g, z = self.g, self.z
        onnx, helper = g.onnx, g.helper
        r, classes, e, n = z["resolution"], z["classes"], z["embed"], z["tokens"]
        bdim = batch if batch else "batch"
        self.shared_constants()
        x = self.embed("images")
        for i, layer in enumerate(z["layers"]):
            x = self.block(x, i, layer)
        x = self.layer_norm(x, "norm", e, "norm")
        x = g.op("Slice", [x, g.ints("starts", [1]), g.ints("ends", [n]), g.ints("axes", [1])],
                 "patch_tokens")
        x = g.op("ReduceMean", [x], "features", axes=[1], keepdims=0)
        x = self.linear(x, self.w("head.weight", classes, e), self.w("head.bias", classes),
                        "head")
        g.nodes.append(helper.make_node("Identity", [x], ["logits"], name="n_logits"))
        graph = helper.make_graph(
            g.nodes, "autoformer_subnet",
            [helper.make_tensor_value_info("images", onnx.TensorProto.FLOAT, [bdim, 3, r, r])],
            [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [bdim, classes])],
            initializer=g.inits)
        model = helper.make_model(graph, producer_name="evit tools/export_onnx.py",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        for k, v in (("arch", z["arch"]), ("space", z["space_name"]), ("family", "autoformer"),
                     ("resolution", str(r)), ("classes", str(classes))):
            m = model.metadata_props.add()
            m.key, m.value = k, v
        return model


def import_onnx():
    try:
        import onnx  # Debian: python3-onnx
        import onnx.checker  # noqa: F401
        import onnx.helper  # noqa: F401
        import onnx.numpy_helper  # noqa: F401
        return onnx
    except ImportError:
        raise ExportError("needs the onnx Python package (Debian: apt-get install python3-onnx)")


def export(subnet_path, bn="fold", batch=None, check=True):
    """(model, plan): the ONNX model (onnx.ModelProto) of the subnet file at `subnet_path`, and
    the file's plan (ElasticViT; for an AutoFormer file, whose metadata holds "autoformer", a dict
    of its arch, space and family; `bn` does not apply)."""
    tensors, meta = read_safetensors(subnet_path)
    if "autoformer" in meta:  # an AutoFormer subnet (no BatchNorm: bn does not apply)
        z = load_autoformer_sizes(meta, subnet_path)
        onnx = import_onnx()
        model = AutoFormerExporter(onnx, tensors, z, subnet_path).build(batch)
        plan = {"arch": z["arch"], "space": z["space_name"], "family": "autoformer"}
        if check:
            onnx.checker.check_model(model)
        return model, plan
    plan = load_plan(meta, subnet_path)
    onnx = import_onnx()
    model = Exporter(onnx, tensors, plan, subnet_path, bn).build(batch)
    if check:
        onnx.checker.check_model(model)
    return model, plan


def save(model, path):
    try:
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
    except OSError as e:
        raise ExportError("%s: cannot write the file (%s)" % (path, e.strerror))


def default_run_subnet():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "build", "release", "examples", "run_subnet")


def export_with_run_subnet(args, tmp):
    """Runs run_subnet to write the subnet file of --arch / --random-arch; returns its path."""
    exe = args.run_subnet or default_run_subnet()
    if not os.path.isfile(exe) or not os.access(exe, os.X_OK):
        raise ExportError("run_subnet not found at %s (build it, or pass --run-subnet PATH)" % exe)
    path = os.path.join(tmp, "subnet.safetensors")
    cmd = [exe, "--repeat", "1", "--export-subnet", path, "--seed", str(args.seed)]
    cmd += ["--model", args.model] if args.model != "elasticvit" else ["--space", args.space]
    cmd += ["--arch", args.arch] if args.arch is not None else ["--random-arch",
                                                                 str(args.random_arch)]
    if args.weights:
        cmd += ["--weights", args.weights]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines() or ["exit code %d" % r.returncode]
        raise ExportError(lines[-1])
    return path


class Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write("%s: %s (see --help)\n" % (PROG, message))
        sys.exit(2)


def main(argv):
    ap = Parser(prog=PROG, description=__doc__.split("\n\n")[0],
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("subnet", nargs="?",
                    help="a subnet file from run_subnet --export-subnet (safetensors)")
    ap.add_argument("-o", "--output", required=True, help="the ONNX file to write")
    ap.add_argument("--bn", choices=("fold", "keep"), default="fold",
                    help="fold BatchNorm into the layer before it, or keep BatchNormalization "
                         "nodes (default: fold)")
    ap.add_argument("--batch", type=int, default=0,
                    help="a fixed batch size (default 0: a symbolic 'batch' dimension)")
    src = ap.add_argument_group("instead of a subnet file: run run_subnet --export-subnet")
    src.add_argument("--arch", help="the subnet: a released name, compact text, JSON or 10-list")
    src.add_argument("--random-arch", type=int, metavar="SEED",
                     help="a random subnet of the space for this seed")
    src.add_argument("--weights", help="the supernet (safetensors); default: evit's random one")
    src.add_argument("--model", default="elasticvit", choices=("elasticvit",) + AUTOFORMER_MODELS,
                     help="the supernet family and size (a subnet file says its own)")
    src.add_argument("--space", default="official", choices=("official", "mini"),
                     help="ElasticViT's space")
    src.add_argument("--seed", type=int, default=1, help="the random supernet's seed")
    src.add_argument("--run-subnet", help="run_subnet's path (default build/release/examples)")
    args = ap.parse_args(argv)
    from_arch = args.arch is not None or args.random_arch is not None
    if args.subnet and from_arch:
        ap.error("give a subnet file or --arch/--random-arch, not both")
    if not args.subnet and not from_arch:
        ap.error("give a subnet file, or --arch / --random-arch")
    if args.arch is not None and args.random_arch is not None:
        ap.error("--arch and --random-arch exclude each other")
    if args.batch < 0:
        ap.error("--batch: %d is negative" % args.batch)
    if args.random_arch is not None and args.random_arch < 0:
        ap.error("--random-arch: %d is negative" % args.random_arch)
    if args.model != "elasticvit" and args.space != "official":
        ap.error("--space is ElasticViT's; --model %s has its own space" % args.model)

    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.subnet or export_with_run_subnet(args, tmp)
            model, plan = export(path, args.bn, args.batch or None)
            if args.subnet and args.model != "elasticvit" and (
                    plan.get("family") != "autoformer" or
                    not plan["space"].startswith(args.model)):
                raise ExportError("%s: a subnet of space %s, not of --model %s"
                                  % (path, plan["space"], args.model))
            save(model, args.output)
        print("%s: %s (%s, %s, %d nodes, %.1f MB of weights)"
              % (args.output, plan["arch"], plan["space"],
                 "no BatchNorm" if plan.get("family") == "autoformer" else "BN " + args.bn,
                 len(model.graph.node),
                 sum(np.prod(t.dims) for t in model.graph.initializer) * 4 / 1e6))
    except ExportError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
