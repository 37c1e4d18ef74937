"""Smoke test of examples/python/train_supernet.py: supernet training of evit.spaces.fashion on
Fashion-MNIST with evit's samplers (short runs, small batches, one thread).

- the default MACs levels each hold subnets (a complexity-aware draw lands in every window);
- ca+pa: 12 steps, the largest subnet's loss decreases, the banks fill, reports arrive; a run
  stopped at a checkpoint and resumed ends with the same losses, weights and sampler state as the
  run without a stop (exact resume);
- uniform, sandwich and ca: a few steps each, finite losses;
- evaluation: BatchNorm recalibration + top-1 in PyTorch and through evit agree.
Skipped when torch or the dataset (Debian: dataset-fashion-mnist) are missing, except under
CI=true, where that is a failure."""
import os
import sys

import numpy as np
import pytest

import evit

CI = os.environ.get("CI") == "true"
try:
    import torch
except ImportError:  # pragma: no cover
    if CI:
        raise
    pytest.skip("torch is not installed (the PyTorch supernet needs it)", allow_module_level=True)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import train_supernet as ts  # noqa: E402

if not ts.dataset_available():  # pragma: no cover
    reason = "Fashion-MNIST not found in %s (Debian: dataset-fashion-mnist)" % ts.DATA_DIR
    if CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)

torch.set_num_threads(1)
COMMON = ["--threads", "1", "--batch", "8", "--log-every", "1000"]


def test_default_levels_hold_subnets():
    ca = ts.make_sampler("ca", seed=3)
    assert ca.num_levels() == len(ts.DEFAULT_LEVELS)
    lo, hi = ts.SPACE.macs(ts.SPACE.min_arch()) / 1e6, ts.SPACE.macs(ts.SPACE.max_arch()) / 1e6
    for level in range(ca.num_levels()):
        a, b = ca.window_of(level)
        assert lo <= a / 1e6 and b / 1e6 <= hi
        for _ in range(3):
            arch = ca.draw_in_level(level)
            assert ca.in_window(level, ca.cost(arch)), (level, arch.to_text())
        assert ca.in_window(level, ca.cost(ca.smallest(level)))


def test_idx_reader():
    x, y = ts.load_split("t10k")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and set(np.unique(y)) == set(range(10))
    batch = ts.to_input(x[:4])
    assert batch.shape == (4, 3, 28, 28) and torch.equal(batch[:, 0], batch[:, 2])


def train_loss(model, steps=12):
    x, y = ts.load_split("train")
    idx = np.concatenate([ts.batch_indices(len(x), 8, 0, s) for s in range(steps)])
    model.train()
    model.bn_momentum = 0.0
    with torch.no_grad():
        logits = model(ts.to_input(x[idx]), ts.SPACE.max_arch())
    return float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(y[idx])))


def test_ca_pa_trains_and_resumes_exactly(tmp_path):
    args = ["--sampler", "ca+pa", "--steps", "12", "--steps-per-epoch", "4", "--bank", "2",
            "--exploit", "0.5,0.2,1", "--lr", "1e-3", "--warmup", "2"] + COMMON
    straight = ts.main(args + ["--out", str(tmp_path / "a")])
    h = np.array(straight["history"])
    assert h.shape == (12, 5) and np.isfinite(h).all()  # largest + 3 in-level + the smallest
    # The largest's cross-entropy on the images it was trained on (training-mode BatchNorm,
    # running statistics untouched), before (the same seeded initialisation) and after.
    torch.manual_seed(0)
    before = ts.ElasticSupernet(ts.SPACE)
    assert train_loss(before) > train_loss(straight["model"]) + 0.1
    assert sum(straight["bank_sizes"]) > 0
    assert straight["pa_stats"]["reported"] == 12 * 3
    for name in ("supernet.safetensors", "train_state.pt", "sampler.json", "summary.json"):
        assert (tmp_path / "a" / name).exists()
    assert evit.Supernet.load(str(tmp_path / "a" / "supernet.safetensors"),
                              ts.SPACE).num_classes == 10
    # Stopped at step 6 (a checkpoint), then resumed: the same steps, sampler state and weights.
    ts.main(args + ["--out", str(tmp_path / "b"), "--stop-at", "6"])
    resumed = ts.main(args + ["--out", str(tmp_path / "b"), "--resume"])
    assert resumed["steps"] == 6
    assert resumed["history"] == straight["history"][6:]
    assert resumed["sampler_state"] == straight["sampler_state"]
    assert resumed["digest"] == straight["digest"]
    # A checkpoint of another sampler is refused.
    with pytest.raises(SystemExit, match="--sampler"):
        ts.main(["--sampler", "ca", "--steps", "12", "--out", str(tmp_path / "b"), "--resume"]
                + COMMON)


@pytest.mark.parametrize("sampler,width", [("uniform", 1), ("sandwich", 4), ("ca", 5)])
def test_other_samplers(sampler, width):
    r = ts.main(["--sampler", sampler, "--steps", "2", "--k", "2" if sampler == "sandwich" else
                 "3"] + COMMON)
    h = np.array(r["history"])
    assert h.shape == (2, width) and np.isfinite(h).all()


def test_alone_trains_one_subnet_only(tmp_path, capsys):
    # The fixed-size baseline: one subnet on the labels every step, scored alone.
    arch = ts.SPACE.min_arch().to_text()
    r = ts.main(["--alone", arch, "--steps", "2", "--out", str(tmp_path), "--eval", "--eval-n",
                 "50", "--calib-batches", "1", "--calib-batch", "16"] + COMMON)
    h = np.array(r["history"])
    assert h.shape == (2, 1) and np.isfinite(h).all()
    assert [(e["name"], e["arch"]) for e in r["eval"]] == [("alone", arch)]
    assert "alone: " + arch in capsys.readouterr().out
    with pytest.raises(SystemExit):
        ts.main(["--alone", "r29 first_conv=8x1:k3", "--steps", "1"] + COMMON)
    assert "--alone: arch text" in capsys.readouterr().err


def test_evaluation_agrees_with_evit(tmp_path):
    r = ts.main(["--sampler", "ca", "--steps", "3", "--out", str(tmp_path), "--eval",
                 "--eval-n", "100", "--eval-random", "1", "--calib-batches", "2",
                 "--calib-batch", "16", "--evit-check"] + COMMON)
    names = [e["name"] for e in r["eval"]]
    assert names == ["smallest", "largest", "random0"]
    for e in r["eval"]:
        assert 0.0 <= e["top1"] <= 1.0
        # The same weights and recalibration: C++ and PyTorch logits agree to ~1e-5, so the
        # top-1 may differ only by a near tie (at most one image of 100).
        assert abs(e["top1"] - e["top1_evit"]) <= 0.01, e


def test_export_val_writes_the_labelled_set_search_subnet_reads(tmp_path):
    # search_subnet --space fashion --val FILE: by default U8 pixels [N, 1, 28, 28] with the
    # normalisation in the metadata, which evit's reader turns into exactly the training inputs;
    # --export-val-format f32 writes those inputs. The test set's first images, or the --holdout
    # draw.
    import evit
    from elastic_supernet import read_safetensors
    x, y = ts.load_split("t10k")
    path = str(tmp_path / "val.safetensors")
    ts.main(["--export-val", path, "--export-val-n", "6"])
    t = read_safetensors(path)
    assert t["images"].dtype == np.uint8 and tuple(t["images"].shape) == (6, 1, 28, 28)
    assert np.array_equal(t["images"][:, 0], x[:6])
    assert np.array_equal(t["labels"], y[:6])
    images, labels = evit.load_labelled_images(path, 10)
    assert images.dtype == np.float32 and tuple(images.shape) == (6, 3, 28, 28)
    assert np.array_equal(images, ts.to_input(x[:6]).numpy())
    assert np.array_equal(labels, y[:6])
    f32 = str(tmp_path / "val-f32.safetensors")
    ts.main(["--export-val", f32, "--export-val-n", "6", "--export-val-format", "f32"])
    t = read_safetensors(f32)
    assert tuple(t["images"].shape) == (6, 3, 28, 28)
    assert np.array_equal(np.asarray(t["labels"]), y[:6])
    assert np.allclose(np.asarray(t["images"]), ts.to_input(x[:6]).numpy(), atol=0)
    assert np.array_equal(evit.load_labelled_images(f32, 10)[0], images)
    held = str(tmp_path / "held.safetensors")
    ts.main(["--export-val", held, "--export-val-n", "4", "--holdout", "100"])
    train_x, train_y = ts.load_split("train")
    _, idx = ts.holdout_split(len(train_x), 100)
    assert np.array_equal(np.asarray(read_safetensors(held)["labels"]), train_y[idx[:4]])
    with pytest.raises(evit.FormatError, match="label 9 outside \\[0, 5\\)"):
        evit.load_labelled_images(path, 5)
    with pytest.raises(SystemExit, match="at least 2 images"):
        ts.main(["--export-val", path, "--export-val-n", "1"])
