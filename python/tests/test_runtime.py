"""The supernet runtime (evit.Supernet, evit.BnOverride) and this machine's latency cost models
(evit.cost.measured_latency, evit.BlockProfiler, evit.cost.table_latency).

Parity: every golden case of tests/data/elasticvit-mini within the C++ parity tests' 1e-4
(tests/models/test_parity.cpp), and the same logits bit for bit as the C++ program run_subnet
($EVIT_BUILD_DIR/examples/run_subnet; skipped when it is absent, except under CI=true).
No copies: the addresses the C++ forward used are the arrays' own."""
import json
import math
import os
import re
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest

import evit

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MINI = os.path.join(ROOT, "tests", "data", "elasticvit-mini")
SUPERNET = os.path.join(MINI, "supernet.safetensors")
PARITY_TOLERANCE = 1e-4  # tests/models/test_parity.cpp


# ---- helpers ------------------------------------------------------------------------------------

def read_safetensors(path):
    """{name: numpy array} of a safetensors file (float32 and int64 only), without the
    safetensors package: an 8-byte header length, a JSON header, the data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": "<f4", "I64": "<i8"}[t["dtype"]]
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=dtype).reshape(t["shape"])
    return out


def read_metadata(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)).get("__metadata__", {})


@pytest.fixture(scope="module")
def mini():
    return evit.Supernet.load(SUPERNET, evit.spaces.mini)


@pytest.fixture(scope="module")
def goldens():
    cases = json.load(open(os.path.join(MINI, "cases.json")))["cases"]
    tensors = read_safetensors(os.path.join(MINI, "goldens.safetensors"))
    return [(c["name"], evit.spaces.mini.parse(json.dumps(c["arch"]), "official"),
             tensors[c["name"] + ".input"], tensors[c["name"] + ".logits"]) for c in cases]


def random_images(n, r, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 3, r, r)).astype(np.float32)


def run_subnet_binary():
    """The C++ run_subnet, or a skip (a failure under CI=true) naming why it is missing."""
    build = os.environ.get("EVIT_BUILD_DIR", "")
    path = os.path.join(build, "examples", "run_subnet") if build else ""
    if path and os.access(path, os.X_OK):
        return path
    why = ("EVIT_BUILD_DIR is not set" if not build else
           path + " is not built (configure with -DEVIT_BUILD_EXAMPLES=ON)")
    if os.environ.get("CI") == "true":
        pytest.fail("run_subnet is needed under CI: " + why)
    pytest.skip("the C++ run_subnet is needed for the bitwise comparison: " + why)


def run_cpp(binary, tmp_path, *args):
    inp, out = str(tmp_path / "input.f32"), str(tmp_path / "logits.f32")
    subprocess.run([binary, "--repeat", "1", "--save-input", inp, "--save-logits", out, *args],
                   check=True, capture_output=True, text=True)
    return np.fromfile(inp, dtype="<f4"), np.fromfile(out, dtype="<f4")


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


# ---- parity -------------------------------------------------------------------------------------

def test_every_golden_case_within_the_cpp_tolerance(mini, goldens):
    assert len(goldens) == 16
    worst = 0.0
    for name, arch, images, expected in goldens:
        logits = mini.forward(arch, images)
        assert logits.shape == expected.shape and logits.dtype == np.float32, name
        err = float(np.max(np.abs(logits - expected)))
        assert err < PARITY_TOLERANCE, (name, err)
        worst = max(worst, err)
    print("parity: worst |logit error| over 16 cases %.3g" % worst)


def test_golden_intermediates_of_cases_0_and_1(mini, goldens):
    cases = json.load(open(os.path.join(MINI, "cases.json")))["cases"]
    tensors = read_safetensors(os.path.join(MINI, "goldens.safetensors"))
    for k in (0, 1):
        name, arch, images, expected = goldens[k]
        logits, inter = mini.forward_intermediates(arch, images)
        assert np.array_equal(bits(logits), bits(mini.forward(arch, images)))
        stages = cases[k]["intermediates"]
        assert len(stages) >= 8
        for stage in stages:
            golden = tensors[name + "." + stage]
            assert inter[stage].shape == golden.shape, (name, stage)
            assert np.max(np.abs(inter[stage] - golden)) < PARITY_TOLERANCE, (name, stage)


def test_golden_cases_without_packed_weights(goldens):
    net = evit.Supernet.load(SUPERNET, evit.spaces.mini, pack_weights=False)
    assert net.weights_info()["packed_floats"] == 0
    for name, arch, images, expected in goldens:
        assert np.max(np.abs(net.forward(arch, images) - expected)) < PARITY_TOLERANCE, name


@pytest.mark.parametrize("threads", [1, 2])
def test_bitwise_equal_to_cpp_run_subnet(mini, tmp_path, threads):
    binary = run_subnet_binary()
    space = evit.spaces.mini
    archs = [space.min_arch(), space.max_arch()] + [space.sample(evit.Rng(s)) for s in (1, 2, 3)]
    mini.threads = threads
    try:
        for arch in archs:
            images, expected = run_cpp(binary, tmp_path, "--space", "mini", "--weights", SUPERNET,
                                       "--arch", arch.to_text(), "--batch", "2", "--threads",
                                       str(threads))
            x = images.reshape(2, 3, arch.resolution, arch.resolution)
            got = mini.forward(arch, x)
            assert np.array_equal(bits(got).ravel(), bits(expected)), arch.to_text()
    finally:
        mini.threads = 1


def test_random_supernet_bitwise_equal_to_cpp(tmp_path):
    binary = run_subnet_binary()
    arch = evit.spaces.mini.sample(evit.Rng(7))
    images, expected = run_cpp(binary, tmp_path, "--space", "mini", "--seed", "5", "--arch",
                               arch.to_text())
    net = evit.Supernet.random(evit.spaces.mini, 5)
    got = net.forward(arch, images.reshape(1, 3, arch.resolution, arch.resolution))
    assert np.array_equal(bits(got).ravel(), bits(expected))


def test_official_space_random_supernet_bitwise_equal_to_cpp(tmp_path):
    binary = run_subnet_binary()
    arch = evit.spaces.official.parse("elastic_T1")
    images, expected = run_cpp(binary, tmp_path, "--seed", "2", "--arch", "elastic_T1")
    net = evit.Supernet.random(evit.spaces.official, 2)
    got = net.forward(arch, images.reshape(1, 3, arch.resolution, arch.resolution))
    assert got.shape == (1, 1000)
    assert np.array_equal(bits(got).ravel(), bits(expected))


def test_export_subnet_same_file_as_cpp(mini, tmp_path):
    binary = run_subnet_binary()
    arch = evit.spaces.mini.sample(evit.Rng(4))
    cpp_file, py_file = tmp_path / "cpp.safetensors", tmp_path / "py.safetensors"
    subprocess.run([binary, "--space", "mini", "--weights", SUPERNET, "--arch", arch.to_text(),
                    "--repeat", "1", "--export-subnet", str(cpp_file)], check=True,
                   capture_output=True)
    mini.export_subnet(arch, str(py_file))
    assert py_file.read_bytes() == cpp_file.read_bytes()


def test_thread_counts_give_the_same_bits(mini):
    arch = evit.spaces.mini.max_arch()
    x = random_images(3, arch.resolution, seed=1)
    one = mini.forward(arch, x)
    try:
        for n in (2, 3):
            mini.threads = n
            assert mini.threads == n
            assert np.array_equal(bits(mini.forward(arch, x)), bits(one))
    finally:
        mini.threads = 1
    with pytest.raises(evit.InvalidArgument, match="threads: 0"):
        mini.threads = 0
    net = evit.Supernet.load(SUPERNET, evit.spaces.mini, threads=2)
    assert net.threads == 2 and np.array_equal(bits(net.forward(arch, x)), bits(one))


# ---- no copies ----------------------------------------------------------------------------------

def test_numpy_input_and_output_are_not_copied(mini):
    arch = evit.spaces.mini.min_arch()
    x = random_images(4, arch.resolution)
    y = mini.forward(arch, x)
    assert mini._last_buffers == (x.ctypes.data, y.ctypes.data)
    assert y.flags.owndata and y.flags.c_contiguous
    # A C-contiguous view: read where it starts, not from a copy.
    v = x[1:3]
    yv = mini.forward(arch, v)
    assert mini._last_buffers[0] == x.ctypes.data + x[0].nbytes
    assert np.array_equal(bits(yv), bits(y[1:3]))
    # out=: the logits go into the caller's array.
    out = np.full((4, 10), np.nan, dtype=np.float32)
    r = mini.forward(arch, x, out=out)
    assert r is out or r.ctypes.data == out.ctypes.data
    assert mini._last_buffers == (x.ctypes.data, out.ctypes.data)
    assert np.array_equal(bits(out), bits(y))
    # A read-only input is fine (it is only read).
    x.setflags(write=False)
    mini.forward(arch, x)
    assert mini._last_buffers[0] == x.ctypes.data


def test_torch_tensor_is_read_in_place(mini):
    torch = pytest.importorskip("torch")
    arch = evit.spaces.mini.sample(evit.Rng(9))
    t = torch.from_numpy(random_images(2, arch.resolution, seed=3))
    y = mini.forward(arch, t)  # through DLPack
    assert mini._last_buffers[0] == t.data_ptr()
    y2 = mini.forward(arch, np.asarray(t))  # NumPy's view of it: shares the memory too
    assert mini._last_buffers[0] == t.data_ptr()
    assert np.array_equal(bits(y), bits(y2))
    out = torch.empty(2, 10)
    mini.forward(arch, t, out=out)
    assert mini._last_buffers[1] == out.data_ptr()
    assert np.array_equal(bits(out.numpy()), bits(y))


def test_buffer_protocol_and_array_interface_are_read_in_place(mini):
    arch = evit.spaces.mini.min_arch()
    x = random_images(1, arch.resolution)
    expected = mini.forward(arch, x)

    class Interface:  # only __array_interface__
        def __init__(self, a):
            self.__array_interface__ = a.__array_interface__
            self.keep = a

    got = mini.forward(arch, Interface(x))
    assert mini._last_buffers[0] == x.ctypes.data
    assert np.array_equal(bits(got), bits(expected))
    got = mini.forward(arch, memoryview(x))
    assert mini._last_buffers[0] == x.ctypes.data
    assert np.array_equal(bits(got), bits(expected))


def test_large_batch_costs_no_copy(mini):
    # 64 images at 160x160 (19.7 MB): the forward reads them where they are.
    arch = evit.spaces.mini.parse(evit.spaces.mini.min_arch().to_text().replace("r96", "r160"))
    x = random_images(64, 160)
    y = mini.forward(arch, x)
    assert mini._last_buffers == (x.ctypes.data, y.ctypes.data)
    assert y.shape == (64, 10) and np.isfinite(y).all()


def test_weights_are_used_where_they_were_loaded(mini):
    info = mini.weights_info()
    file_tensors = read_safetensors(SUPERNET)
    # Loaded in place: every float32 tensor is read in the file's mapped bytes, none copied.
    assert info["in_place_tensors"] == info["tensors"] > 300
    assert info["owned_floats"] == 0
    assert info["packed_floats"] > 0  # the packed GEMM copies (pack_weights=True)
    name = "first_conv.weight"
    a, b = mini.tensor(name), mini.tensor(name)
    assert a.ctypes.data == b.ctypes.data and not a.flags.writeable
    assert np.array_equal(a, file_tensors[name])
    with pytest.raises(ValueError):
        a[...] = 0
    # The address lies in a mapping of the file itself (Linux: /proc/self/maps lists them).
    if os.path.exists("/proc/self/maps"):
        maps = open("/proc/self/maps").read().splitlines()
        inside = [m for m in maps if m.endswith("supernet.safetensors") and
                  int(m.split()[0].split("-")[0], 16) <= a.ctypes.data <
                  int(m.split()[0].split("-")[1], 16)]
        assert inside, "first_conv.weight is not in the mapped file"
    for n in mini.tensor_names():
        assert np.array_equal(mini.tensor(n), file_tensors[n]), n

    copied = evit.Supernet.load(SUPERNET, evit.spaces.mini, in_place=False, pack_weights=False)
    ci = copied.weights_info()
    assert ci["in_place_tensors"] == 0 and ci["owned_floats"] >= 2080874
    r = evit.Supernet.random(evit.spaces.mini, 1).weights_info()
    assert r["in_place_tensors"] == 0 and r["owned_floats"] > 0
    with pytest.raises(evit.InvalidArgument, match="no tensor"):
        mini.tensor("no.such.tensor")


# ---- refused inputs -----------------------------------------------------------------------------

def test_bad_images_are_refused_never_converted(mini):
    arch = evit.spaces.mini.min_arch()  # resolution 96
    x = random_images(2, 96)
    bad = [
        (x.astype(np.float64), r"dtype float64 \(allowed: float32"),
        (x.astype(np.float16), "dtype float16"),
        ((x * 100).astype(np.int32), "dtype int32"),
        (x.astype(">f4"), "dtype >f4"),
        (x[0], r"shape \(3, 96, 96\), 3 dimensions"),
        (x[:, :, ::2, ::2], "not C-contiguous"),
        (np.ascontiguousarray(x.transpose(0, 2, 3, 1)), r"shape \(2, 96, 96, 3\)"),
        (random_images(2, 128), r"allowed: \(N, 3, 96, 96\).*resolution 96"),
        (np.zeros((0, 3, 96, 96), np.float32), r"N >= 1"),
        (np.zeros((1, 1, 96, 96), np.float32), r"shape \(1, 1, 96, 96\)"),
        (x.tolist(), "a list is not an array"),
        ("images", "a str is not an array"),
    ]
    for images, message in bad:
        with pytest.raises(evit.InvalidArgument, match=message):
            mini.forward(arch, images)
    # A misaligned float32 view.
    raw = np.zeros(2 * 3 * 96 * 96 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(2, 3, 96, 96)
    with pytest.raises(evit.InvalidArgument, match="aligned"):
        mini.forward(arch, raw)
    # A subnet of another space.
    with pytest.raises(evit.InvalidArgument, match="belongs to space"):
        mini.forward(evit.spaces.official.min_arch(), random_images(1, 128))
    # out of the wrong shape, dtype, read-only or overlapping.
    with pytest.raises(evit.InvalidArgument, match=r"out has shape \(2, 9\)"):
        mini.forward(arch, x, out=np.zeros((2, 9), np.float32))
    with pytest.raises(evit.InvalidArgument, match="out: dtype float64"):
        mini.forward(arch, x, out=np.zeros((2, 10)))
    ro = np.zeros((2, 10), np.float32)
    ro.setflags(write=False)
    with pytest.raises(evit.InvalidArgument, match="read-only"):
        mini.forward(arch, x, out=ro)
    with pytest.raises(evit.InvalidArgument, match="overlaps"):
        mini.forward(arch, x, out=x.reshape(-1)[:20].reshape(2, 10))
    with pytest.raises(evit.InvalidArgument, match="bn is of type int"):
        mini.forward(arch, x, bn=3)


def test_bad_torch_tensors_are_refused(mini):
    torch = pytest.importorskip("torch")
    arch = evit.spaces.mini.min_arch()
    t = torch.zeros(1, 3, 96, 96)
    with pytest.raises(evit.InvalidArgument, match="DLPack"):
        mini.forward(arch, t.requires_grad_())
    with pytest.raises(evit.InvalidArgument, match="not C-contiguous"):
        mini.forward(arch, torch.zeros(1, 96, 96, 3).permute(0, 3, 1, 2))
    with pytest.raises(evit.InvalidArgument, match="dtype float64"):
        mini.forward(arch, torch.zeros(1, 3, 96, 96, dtype=torch.float64))


def test_bad_files_and_options():
    with pytest.raises(evit.Error):
        evit.Supernet.load("/nonexistent/supernet.safetensors", evit.spaces.mini)
    with pytest.raises(evit.FormatError):
        evit.Supernet.load(SUPERNET, evit.spaces.official)
    net = evit.Supernet.random(evit.spaces.mini)
    with pytest.raises(evit.InvalidArgument, match="clock"):
        net.measure(evit.spaces.mini.min_arch(), clock="sundial")
    with pytest.raises(evit.InvalidArgument, match="repeats"):
        evit.cost.measured_latency(net, min_repeats=5, max_repeats=2)
    with pytest.raises(evit.InvalidArgument, match="mode"):
        evit.BlockProfiler(net, mode="cold")


def test_forwards_from_several_python_threads(mini):
    arch = evit.spaces.mini.max_arch()
    x = random_images(2, arch.resolution, seed=4)
    expected = mini.forward(arch, x)
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append(mini.forward(arch, x))
        except Exception as e:  # noqa: BLE001: reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 9
    assert all(np.array_equal(bits(r), bits(expected)) for r in results)


def test_the_gil_is_released_during_a_forward(mini):
    # While one thread runs a long forward, this thread keeps running Python code.
    arch = evit.spaces.mini.max_arch()
    x = random_images(24, arch.resolution, seed=5)
    mini.forward(arch, x)  # sizes the workspace
    started = threading.Event()

    def work():
        started.set()
        mini.forward(arch, x)

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    spins = 0
    while t.is_alive():
        spins += 1
    t.join()
    assert spins > 10000, spins  # held GIL: a handful of switch intervals at most


# ---- BatchNorm recalibration, export, plan ------------------------------------------------------

def test_recalibration_override_and_export(mini, tmp_path):
    space = evit.spaces.mini
    arch = space.sample(evit.Rng(12))
    r = arch.resolution
    batches = [random_images(4, r, seed=s) for s in (1, 2)]
    bn = mini.recalibrate(arch, batches)
    assert bn.batches == 2 and bn.arch == arch
    assert "first_conv_bn" in bn.names() or len(bn.names()) > 0
    mean, var = bn.stats(bn.names()[0])
    assert mean.shape == var.shape and (var >= 0).all()
    assert mini.recalibrate(arch, batches[0]).batches == 1  # one array: one batch

    x = random_images(2, r, seed=9)
    plain, calibrated = mini.forward(arch, x), mini.forward(arch, x, bn=bn)
    assert not np.array_equal(plain, calibrated)

    path = str(tmp_path / "bn.safetensors")
    bn.save(path)
    again = mini.load_override(path)
    assert np.array_equal(bits(mini.forward(arch, x, bn=again)), bits(calibrated))

    other = space.max_arch() if arch != space.max_arch() else space.min_arch()
    with pytest.raises(evit.InvalidArgument, match="made for"):
        mini.forward(other, random_images(1, other.resolution), bn=bn)
    with pytest.raises(evit.InvalidArgument, match="batch 1"):
        mini.recalibrate(arch, [batches[0], random_images(1, r + 32)])
    with pytest.raises(evit.InvalidArgument, match="no batches"):
        mini.recalibrate(arch, [])

    # export_subnet: the standalone file runs the subnet alone, with the same logits.
    sub = str(tmp_path / "subnet.safetensors")
    mini.export_subnet(arch, sub)
    meta = read_metadata(sub)
    assert meta["arch"] == arch.to_text() and meta["space"] == space.name
    alone = evit.Supernet.load_standalone(sub, space)
    assert alone.standalone
    assert np.max(np.abs(alone.forward(arch, x) - plain)) < 1e-5
    with pytest.raises(evit.InvalidArch):
        alone.forward(other, random_images(1, other.resolution))
    # With the override, the standalone file carries the recalibrated statistics.
    mini.export_subnet(arch, sub, bn=bn)
    alone = evit.Supernet.load_standalone(sub, space)
    assert np.max(np.abs(alone.forward(arch, x) - calibrated)) < 1e-5


def test_plan(mini):
    arch = evit.spaces.mini.max_arch()
    plan = mini.plan(arch)
    assert plan["arch"] == arch.to_text() and plan["resolution"] == arch.resolution
    assert len(plan["blocks"]) > 10
    assert json.loads(mini.plan(arch, "json")) == plan
    assert "first_conv" in mini.plan(arch, "table").lower() or "\n" in mini.plan(arch, "table")
    with pytest.raises(evit.InvalidArgument, match="format"):
        mini.plan(arch, "yaml")


def test_autoformer_files_are_checked():
    # The AutoFormer-T reference supernet has a 10-class head; the module's autoformer_t space
    # has ImageNet's 1000 classes: the loader names the tensor and both shapes.
    path = os.path.join(ROOT, "tests", "data", "autoformer-t", "supernet.safetensors")
    with pytest.raises(evit.FormatError, match=r"head\.weight.*1000"):
        evit.Supernet.load(path, evit.spaces.autoformer_t)


def test_autoformer_random_supernet():
    space = evit.spaces.autoformer_t
    net = evit.Supernet.random(space, 2)
    assert net.family == "autoformer" and net.num_classes == 1000
    arch = space.min_arch()
    x = random_images(1, arch.resolution)
    y = net.forward(arch, x)
    assert y.shape == (1, 1000) and np.isfinite(y).all()
    assert net._last_buffers == (x.ctypes.data, y.ctypes.data)
    with pytest.raises(evit.InvalidArgument, match="AutoFormer"):
        net.recalibrate(arch, x)
    with pytest.raises(evit.InvalidArgument, match="AutoFormer"):
        net.export_subnet(arch, "/tmp/never-written.safetensors")
    with pytest.raises(evit.InvalidArgument, match="mode \"warm\" for an AutoFormer"):
        evit.BlockProfiler(net, mode="warm")


def test_autoformer_block_profiler(tmp_path):
    # This machine's AutoFormer block table: the forward's steps, one entry per shape (18 for T).
    space = evit.spaces.autoformer_t
    net = evit.Supernet.random(space, 2)
    prof = evit.BlockProfiler(net, min_repeats=1, max_repeats=1, max_seconds=0.05)
    arch = space.max_arch()
    keys = prof.blocks(arch)
    assert len(keys) == 2 * 14 + 2
    assert keys[0] == "afembed_224_16_240" and keys[-1] == "afhead_197_240_1000"
    assert keys[1] == "afattn_197_240_4_64" and keys[2] == "afffn_197_240_960"
    timed = prof.profile(arch)
    assert sorted(timed) == sorted(set(keys)) and all(v > 0 for v in timed.values())
    assert prof.predict(arch) == pytest.approx(sum(timed[k] for k in keys))
    by_kind = prof.sum_by_kind(arch)
    assert by_kind["attention"] == pytest.approx(14 * timed["afattn_197_240_4_64"])
    assert prof.profile_all() == 18 - 4 and len(prof) == 18
    assert prof.key["method"] == "context"
    path = str(tmp_path / "af-lut.json")
    prof.save(path)
    again = evit.BlockProfiler(net)
    again.merge(path)
    assert again.profiled == 0 and again.predict(arch) == prof.predict(arch)
    model = prof.cost_model()
    assert model(space.min_arch()) == pytest.approx(prof.predict(space.min_arch()))


# ---- latency ------------------------------------------------------------------------------------

def test_measured_latency_cost_model():
    space = evit.spaces.mini
    net = evit.Supernet.random(space, 1)
    model = evit.cost.measured_latency(net, min_repeats=5, max_repeats=15, max_seconds=0.5)
    assert isinstance(model, evit.CostModel) and not model.monotone
    assert model.space == space
    small, big = space.min_arch(), space.max_arch()  # 11 vs 182 MMACs
    del net  # the cost model keeps the supernet alive
    t_small, t_big = model(small), model(big)
    for t in (t_small, t_big):
        assert math.isfinite(t) and t > 0
    # 16x the MACs: the big subnet cannot be faster by a wide margin, whatever the noise.
    assert t_big > 0.8 * t_small, (t_small, t_big)
    assert model(small) == t_small  # cached: one measurement per subnet
    with pytest.raises(evit.InvalidArgument, match="belongs to space"):
        model(evit.spaces.official.min_arch())


def test_measure_and_autoformer_measured_latency():
    net = evit.Supernet.random(evit.spaces.mini, 1)
    s = net.measure(evit.spaces.mini.min_arch(), min_repeats=3, max_repeats=5)
    assert 0 < s["lo_ms"] <= s["median_ms"] <= s["hi_ms"] and 3 <= s["repeats"] <= 5
    af = evit.Supernet.random(evit.spaces.autoformer_t, 1)
    model = evit.cost.measured_latency(af, warmup=0, min_repeats=1, max_repeats=2)
    t = model(evit.spaces.autoformer_t.min_arch())
    assert math.isfinite(t) and t > 0


def test_block_profiler_table_sums(tmp_path):
    space = evit.spaces.mini
    net = evit.Supernet.random(space, 1)
    prof = evit.BlockProfiler(net, min_repeats=3, max_repeats=5, max_seconds=0.05)
    assert prof.key["threads"] == 1 and prof.key["isa"] == evit.isa()
    archs = [space.min_arch(), space.max_arch(), space.sample(evit.Rng(5))]
    predicted = [prof.predict(a) for a in archs]
    table = prof.entries()
    assert len(prof) == len(table) == prof.profiled > 0
    for a, p in zip(archs, predicted):
        keys = prof.blocks(a)
        assert all(k in table for k in keys)
        assert all(math.isfinite(table[k]) and table[k] > 0 for k in keys)
        # The C++ prediction (an unfitted table: the plain sum) is the sum of the block entries.
        assert p == pytest.approx(sum(table[k] for k in keys), rel=1e-12)
        assert sum(prof.sum_by_kind(a).values()) == pytest.approx(p, rel=1e-12)
        assert prof.profile(a) == {k: table[k] for k in keys}
    model = prof.cost_model()
    assert isinstance(model, evit.CostModel) and model(archs[2]) == predicted[2]

    path = str(tmp_path / "this-machine.json")
    prof.save(path)
    saved = json.load(open(path))
    loaded = evit.cost.table_latency(space, path)
    for a, p in zip(archs, predicted):
        assert loaded(a) == pytest.approx(p, rel=1e-12)
        assert p == pytest.approx(sum(saved[k] for k in prof.blocks(a)), rel=1e-9)
    # A second profiler merges the saved table and profiles nothing for these subnets.
    again = evit.BlockProfiler(net, min_repeats=3, max_repeats=5, max_seconds=0.05)
    again.merge(path)
    assert [again.predict(a) for a in archs] == pytest.approx(predicted, rel=1e-12)
    assert again.profiled == 0
    with pytest.raises(evit.StaleTable, match="threads: the table's '1', this machine's '2'"):
        evit.BlockProfiler(net, threads=2).merge(path)  # keyed for one thread: stale
    # A table without the blocks of a subnet: the error names the missing block.
    partial = {k: v for k, v in saved.items() if k not in prof.blocks(archs[1])}
    with open(str(tmp_path / "partial.json"), "w") as f:
        json.dump(partial, f)
    with pytest.raises(evit.MissingBlock):
        evit.cost.table_latency(space, str(tmp_path / "partial.json"))(archs[1])
    with pytest.raises(evit.Error):
        evit.cost.table_latency(space, str(tmp_path / "missing.json"))


# ---- the example --------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [[], ["--random", "--batch", "4", "--threads", "2"]])
def test_example_run_subnet(args):
    script = os.path.join(ROOT, "examples", "python", "run_subnet.py")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    r = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "top-5" in r.stdout and re.search(r"[0-9.]+ ms per image", r.stdout), r.stdout
