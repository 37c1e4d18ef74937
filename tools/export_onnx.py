#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Exports one ElasticViT subnet as a static ONNX graph holding only that subnet's weights.

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
    the file's plan."""
    tensors, meta = read_safetensors(subnet_path)
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
    cmd = [exe, "--space", args.space, "--repeat", "1", "--export-subnet", path,
           "--seed", str(args.seed)]
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
    src.add_argument("--space", default="official", choices=("official", "mini"))
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
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.subnet or export_with_run_subnet(args, tmp)
            model, plan = export(path, args.bn, args.batch or None)
            save(model, args.output)
        print("%s: %s (%s, BN %s, %d nodes, %.1f MB of weights)"
              % (args.output, plan["arch"], plan["space"], args.bn, len(model.graph.node),
                 sum(np.prod(t.dims) for t in model.graph.initializer) * 4 / 1e6))
    except ExportError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
