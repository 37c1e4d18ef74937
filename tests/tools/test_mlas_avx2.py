#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test of tools/ort/mlas_avx2.py (ONNX Runtime on AVX2 kernels, for compare.sh --isa avx2).

Without arguments, on made-up libraries: the one test sequence becomes a 6-byte no-op and no
other byte changes; the source tree stays as it was, the rest of the tree is in the copy; a
library without the sequence, or with it twice, is refused (exit 1) and nothing is written;
a destination inside the source is refused (exit 2).

With --installed NODE_MODULES --run-js PATH, on the onnxruntime-node installed there: the copy
differs from it in those 6 bytes only, and runs a small ONNX model (a convolution and two
matrix products, big enough for MLAS's GEMM kernels) with the same logits as the original within
1e-5 and as a float64 reference within 1e-4. Exits 77 (skipped) when onnxruntime-node, node or
python3-onnx is missing, unless CI=true."""
import os
import shutil
import subprocess
import sys
import tempfile

from skipping import skip  # tests/tools/skipping.py

here = os.path.dirname(os.path.abspath(__file__))
tool = os.path.join(here, "..", "..", "tools", "ort", "mlas_avx2.py")
LIBRARY = os.path.join("onnxruntime-node", "bin", "napi-v6", "linux", "x64", "libonnxruntime.so.1")
# The sequence as onnxruntime-node 1.30.0 has it: test $0x10000,%r10d; je +14; mov %r8,%rax;
# not %rax; test $0xe0,%al; je rel32.
SEQUENCE = bytes.fromhex("41f7c200000100740e4c89c048f7d0a8e00f849e000000")
JE_AT = SEQUENCE.index(bytes.fromhex("0f849e"))
NOP6 = bytes.fromhex("660f1f440000")


def check(cond, what):
    if not cond:
        print("FAILED: " + what)
        sys.exit(1)


def run_tool(src, dst):
    return subprocess.run([sys.executable, tool, src, dst], capture_output=True, text=True)


def make_tree(root, library_bytes):
    lib = os.path.join(root, LIBRARY)
    os.makedirs(os.path.dirname(lib))
    with open(lib, "wb") as f:
        f.write(library_bytes)
    os.makedirs(os.path.join(root, "onnxruntime-common", "dist"))
    with open(os.path.join(root, "onnxruntime-common", "dist", "index.js"), "w") as f:
        f.write("module.exports = {};\n")
    return lib


def made_up_libraries():
    filler = bytes(range(256)) * 64
    with tempfile.TemporaryDirectory() as tmp:
        good = filler + SEQUENCE + filler
        src = os.path.join(tmp, "src")
        lib = make_tree(src, good)
        dst = os.path.join(tmp, "out", "node_modules")
        r = run_tool(src, dst)
        check(r.returncode == 0, f"the tool failed on a library with the sequence once: {r.stderr}")
        with open(os.path.join(dst, LIBRARY), "rb") as f:
            copy = f.read()
        at = len(filler) + JE_AT
        want = good[:at] + NOP6 + good[at + 6 :]
        diff = [i for i in range(len(good)) if good[i] != copy[i]]
        check(len(copy) == len(good) and copy == want,
              f"patched copy: {len(diff)} bytes differ at {diff[:8]}, expected the 6 at {at}")
        with open(lib, "rb") as f:
            check(f.read() == good, "the source library changed")
        check(os.path.isfile(os.path.join(dst, "onnxruntime-common", "dist", "index.js")),
              "the rest of the tree is not in the copy")
        print(f"ok: the sequence patched at byte {at}, nothing else changed; the source intact")

        for name, data in [("without the sequence", filler * 2), ("with it twice", good + SEQUENCE)]:
            src2 = os.path.join(tmp, "src2")
            shutil.rmtree(src2, ignore_errors=True)
            make_tree(src2, data)
            dst2 = os.path.join(tmp, "out2")
            r = run_tool(src2, dst2)
            check(r.returncode == 1 and "expected exactly once" in r.stderr and not os.path.exists(dst2),
                  f"a library {name}: rc {r.returncode}, stderr {r.stderr!r}, dst written: "
                  f"{os.path.exists(dst2)}")
            print(f"ok: a library {name} is refused: {r.stderr.strip()}")

        r = run_tool(src, os.path.join(src, "inner"))
        check(r.returncode == 2 and "must lie outside" in r.stderr,
              f"a destination inside the source: rc {r.returncode}, {r.stderr!r}")
        r = run_tool(os.path.join(tmp, "nowhere"), dst)
        check(r.returncode == 1 and "SRC_NODE_MODULES" in r.stderr,
              f"a source without the library: rc {r.returncode}, {r.stderr!r}")
        print("ok: a destination inside the source and a source without the library are refused")


def small_model(path, np):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    w_conv = (rng.standard_normal((16, 3, 3, 3)) * 0.2).astype(np.float32)
    w1 = (rng.standard_normal((16 * 16 * 16, 256)) * 0.02).astype(np.float32)
    w2 = (rng.standard_normal((256, 100)) * 0.05).astype(np.float32)
    nodes = [helper.make_node("Conv", ["images", "w_conv"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("MatMul", ["f", "w1"], ["h"]),
             helper.make_node("Relu", ["h"], ["hr"]),
             helper.make_node("MatMul", ["hr", "w2"], ["logits"])]
    graph = helper.make_graph(
        nodes, "mlas_avx2_check",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [4, 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [4, 100])],
        [numpy_helper.from_array(w_conv, "w_conv"), numpy_helper.from_array(w1, "w1"),
         numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return w_conv, w1, w2


def reference(x, w_conv, w1, w2, np):
    x = x.astype(np.float64)
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    c = np.zeros((x.shape[0], 16, 16, 16))
    for dy in range(3):
        for dx in range(3):
            c += np.einsum("bihw,oi->bohw", p[:, :, dy : dy + 16, dx : dx + 16], w_conv[:, :, dy, dx])
    h = np.maximum(np.maximum(c, 0).reshape(x.shape[0], -1) @ w1, 0)
    return h @ w2


def installed(modules, run_js):
    try:
        import numpy as np
        import onnx  # noqa: F401
    except ImportError:
        skip("python3-onnx or python3-numpy is missing")
    node = shutil.which("node") or "/usr/bin/node"
    if not os.path.isfile(os.path.join(modules, LIBRARY)):
        skip(f"no onnxruntime-node in {modules} (npm install --ignore-scripts onnxruntime-node)")
    if not os.access(node, os.X_OK):
        skip("node is missing")
    with tempfile.TemporaryDirectory() as tmp:
        dst = os.path.join(tmp, "avx2", "node_modules")
        r = run_tool(modules, dst)
        check(r.returncode == 0, f"the tool failed on the installed onnxruntime-node: {r.stderr}")
        with open(os.path.join(modules, LIBRARY), "rb") as f:
            a = f.read()
        with open(os.path.join(dst, LIBRARY), "rb") as f:
            b = f.read()
        diff = [i for i in range(len(a)) if a[i] != b[i]] if len(a) == len(b) else None
        check(diff is not None and len(diff) <= 6 and b[diff[0]: diff[0] + 6] == NOP6,
              f"the copy differs from the installed library in {diff if diff is None else len(diff)} bytes")
        print(f"ok: the installed library's copy differs in {len(diff)} bytes at {diff[0]:#x}")

        model = os.path.join(tmp, "small.onnx")
        w_conv, w1, w2 = small_model(model, np)
        x = np.random.default_rng(3).uniform(-1, 1, (4, 3, 16, 16)).astype(np.float32)
        images = os.path.join(tmp, "images.f32")
        x.tofile(images)
        want = reference(x, w_conv, w1, w2, np)
        got = {}
        for name, mods in [("original", modules), ("avx2 copy", dst)]:
            out = os.path.join(tmp, f"{name.replace(' ', '_')}.f32")
            env = dict(os.environ, EVIT_ORT_MODULES=mods)
            r = subprocess.run([node, run_js, model, "--input", images, "--output", out, "--repeat", "2"],
                               capture_output=True, text=True, env=env)
            check(r.returncode == 0, f"run.js with the {name} failed: {r.stderr}")
            got[name] = np.fromfile(out, dtype=np.float32).reshape(4, 100)
            err = float(np.max(np.abs(got[name] - want)))
            check(err < 1e-4, f"{name}: max |ORT - float64 reference| = {err:.3g} (allowed 1e-4)")
            print(f"ok: ORT ({name}) against the float64 reference: max error {err:.3g}")
        err = float(np.max(np.abs(got["original"] - got["avx2 copy"])))
        check(err < 1e-5, f"original vs avx2 copy: max difference {err:.3g} (allowed 1e-5)")
        print(f"ok: the original and the AVX2 copy agree within {err:.3g}")


def main():
    args = sys.argv[1:]
    if not args:
        made_up_libraries()
    elif len(args) == 4 and args[0] == "--installed" and args[2] == "--run-js":
        installed(args[1], args[3])
    else:
        print("usage: test_mlas_avx2.py [--installed NODE_MODULES --run-js PATH]")
        sys.exit(2)
    print("PASSED")


if __name__ == "__main__":
    main()
