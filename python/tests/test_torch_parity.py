"""The PyTorch elastic supernet of examples/python/elastic_supernet.py against evit.

(a) the mini reference supernet (tests/data/elasticvit-mini) loaded into the PyTorch model: every
    golden case's logits within 1e-4 (eval mode), as the C++ parity tests;
(b) random evit supernets (evit.Supernet.random) copied into the PyTorch model: random subnets of
    the mini and fashion spaces (every resolution, the smallest and largest subnets) give evit's
    logits within 1e-4 relative to the logit scale (max(1, max |logit|));
(c) a round trip: the PyTorch model's own weights, after a few training steps on CPU, saved as
    safetensors, loaded by evit.Supernet.load: the same logits; and loaded back into PyTorch;
(d) training-mode BatchNorm: the PyTorch model's batch statistics accumulated as the official
    recalibration does (momentum None) equal evit's Supernet.recalibrate, and so do the logits
    after it.
Skipped when torch is missing, except under CI=true, where that is a failure."""
import json
import os
import sys

import numpy as np
import pytest

import evit

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("torch is not installed (the PyTorch supernet needs it)", allow_module_level=True)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import elastic_supernet as es  # noqa: E402

MINI = os.path.join(ROOT, "tests", "data", "elasticvit-mini")
TOLERANCE = 1e-4  # tests/models/test_parity.cpp
torch.set_num_threads(1)  # small tensors: threads only contend on a shared machine
MAX_ERRORS = {}  # check -> max error seen (printed at the end with -s)


def record(check, err):
    MAX_ERRORS[check] = max(MAX_ERRORS.get(check, 0.0), err)


@pytest.fixture(scope="module", autouse=True)
def report_max_errors():
    yield
    for check, err in MAX_ERRORS.items():
        print("\n%-28s max error %.3g" % (check, err), end="")
    print()


def torch_logits(model, arch, images):
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(images)), arch).numpy()


def scaled_error(a, b):
    return float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max())))


def random_images(n, r, seed):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 3, r, r)).astype(np.float32)


def subnets(space, count, seed):
    """`count` random subnets covering every resolution, plus the smallest and largest."""
    rng = evit.Rng(seed)
    out, seen = [space.min_arch(), space.max_arch()], set()
    while len(out) < count + 2 or seen != set(space.resolutions):
        a = space.sample(rng)
        if len(out) < count + 2 or a.resolution not in seen:
            out.append(a)
            seen.add(a.resolution)
    return out


# ---- (a) the mini goldens ------------------------------------------------------------------------

def test_mini_goldens():
    model = es.ElasticSupernet(evit.spaces.mini).eval()
    model.load_safetensors(os.path.join(MINI, "supernet.safetensors"))  # strict
    cases = json.load(open(os.path.join(MINI, "cases.json")))["cases"]
    goldens = es.read_safetensors(os.path.join(MINI, "goldens.safetensors"))
    assert len(cases) == 16
    for c in cases:
        arch = evit.spaces.mini.parse(json.dumps(c["arch"]), "official")
        got = torch_logits(model, arch, goldens[c["name"] + ".input"])
        want = goldens[c["name"] + ".logits"]
        assert got.shape == want.shape
        err = float(np.abs(got - want).max())
        record("mini goldens", err)
        assert err <= TOLERANCE, (c["name"], err)


def test_names_and_shapes_are_evits():
    for space in (evit.spaces.mini, evit.spaces.fashion, evit.spaces.official):
        net = evit.Supernet.random(space, 1, pack_weights=False)
        own = es.ElasticSupernet(space).state_dict()
        assert sorted(own) == sorted(net.tensor_names()), space.name
        for name in own:
            assert tuple(own[name].shape) == net.tensor(name).shape, name


# ---- (b) random evit supernets copied into PyTorch -----------------------------------------------

@pytest.mark.parametrize("space_name,seed,count,batch", [
    ("mini", 3, 12, 2), ("fashion", 5, 12, 2), ("fashion", 6, 12, 1), ("official", 4, 4, 1)])
def test_random_supernet_parity(space_name, seed, count, batch):
    space = getattr(evit.spaces, space_name)
    net = evit.Supernet.random(space, seed)
    model = es.ElasticSupernet(space).eval()
    model.load_evit(net)
    archs = subnets(space, count, seed)
    if space_name == "official":
        archs.append(space.parse("elastic_T1"))
    for i, arch in enumerate(archs):
        images = random_images(batch, arch.resolution, seed + i)
        want = net.forward(arch, images)
        got = torch_logits(model, arch, images)
        err = scaled_error(got, want)
        record("random " + space_name, err)
        assert err <= TOLERANCE, (arch.to_text(), err)
    # The list of stage dicts (resolution from the images) gives the same.
    got2 = torch_logits(model, arch.stages, images)
    assert np.array_equal(got2, got)


def test_resize_to_the_arch_resolution():
    """Images of another side are resized bicubically to R, as evit's preprocessing step 4 and
    the official forward."""
    space = evit.spaces.fashion
    net = evit.Supernet.random(space, 2)
    model = es.ElasticSupernet(space).eval()
    model.load_evit(net)
    arch = next(a for a in subnets(space, 4, 2) if a.resolution == 32)
    images = random_images(1, 28, 9)
    resized = F.interpolate(torch.from_numpy(images), size=(32, 32), mode="bicubic",
                            align_corners=False).numpy()
    err = scaled_error(torch_logits(model, arch, images), net.forward(arch, resized))
    assert err <= TOLERANCE


# ---- (c) PyTorch weights -> safetensors -> evit --------------------------------------------------

def test_round_trip_through_evit(tmp_path):
    space = evit.spaces.fashion
    torch.manual_seed(0)
    model = es.ElasticSupernet(space)
    with torch.no_grad():  # statistics and affines away from their initial values
        for m in model.modules():
            if isinstance(m, es.ElasticBatchNorm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.8, 1.5)
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
    # A few in-place-distillation-like steps on CPU: the largest subnet on labels, a random one
    # on the largest's outputs.
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = evit.Rng(11)
    for step in range(3):
        x = torch.from_numpy(random_images(4, 28, 100 + step))
        y = torch.arange(4) % 10
        big = model(x, space.max_arch())
        small = model(x, space.sample(rng))
        loss = F.cross_entropy(big, y) + F.kl_div(small.log_softmax(-1),
                                                  big.detach().softmax(-1),
                                                  reduction="batchmean")
        opt.zero_grad()
        loss.backward()
        # Every tensor the largest subnet reads gets a gradient (the shortcut convs of layers
        # whose width never changes are read by no subnet of the largest's shape).
        assert all(p.grad is not None for n, p in model.named_parameters()
                   if "shortcut_conv" not in n)
        opt.step()
    model.eval()
    path = str(tmp_path / "torch_supernet.safetensors")
    model.save_safetensors(path, {"origin": "test_torch_parity"})
    net = evit.Supernet.load(path, space)
    for i, arch in enumerate(subnets(space, 6, 21)):
        images = random_images(2, arch.resolution, 40 + i)
        err = scaled_error(torch_logits(model, arch, images), net.forward(arch, images))
        record("round trip", err)
        assert err <= TOLERANCE, (arch.to_text(), err)
    # And back into PyTorch: the same tensors.
    again = es.ElasticSupernet(space)
    again.load_safetensors(path)
    for name, t in model.state_dict().items():
        assert torch.equal(again.state_dict()[name], t), name


# ---- (c') the shipped trained supernet (data/fashion): logits and top-1 -------------------------

def test_shipped_trained_supernet_parity():
    """The supernet search_subnet searches by default, trained by train_supernet.py: the PyTorch
    model loaded from the same file gives evit's logits on the shipped validation images, and
    so the same predictions."""
    space = evit.spaces.fashion
    path = os.path.join(ROOT, "data", "fashion", "supernet.safetensors")
    images, labels = evit.load_labelled_images(
        os.path.join(ROOT, "data", "fashion", "val.safetensors"), 10)
    assert images.shape == (400, 3, 28, 28) and labels.shape == (400,)  # grey to 3 channels
    net = evit.Supernet.load(path, space)
    model = es.ElasticSupernet(space).eval()
    model.load_safetensors(path)  # strict: every name and shape
    for i, arch in enumerate(subnets(space, 6, 31)):
        batch = images[16 * i:16 * (i + 1)]
        got = torch_logits(model, arch, batch)  # resizes to the arch's resolution itself
        if arch.resolution != 28:
            batch = F.interpolate(torch.from_numpy(batch), size=(arch.resolution,) * 2,
                                  mode="bicubic", align_corners=False).numpy()
        want = net.forward(arch, batch)
        err = scaled_error(got, want)
        record("trained (data/fashion)", err)
        assert err <= TOLERANCE, (arch.to_text(), err)
        assert np.array_equal(got.argmax(1), want.argmax(1)), arch.to_text()
    # Trained, not random: after BatchNorm recalibration on the first half (as search_subnet
    # does), even the smallest subnet (28 px) classifies most of the second half.
    arch = space.min_arch()
    bn = net.recalibrate(arch, [images[i:i + 50] for i in range(0, 200, 50)])
    logits = net.forward(arch, images[200:], bn=bn)
    assert float((logits.argmax(1) == labels[200:]).mean()) > 0.75


# ---- (d) training-mode BatchNorm against evit's recalibration ------------------------------------

def test_batch_statistics_match_recalibration():
    space = evit.spaces.mini
    net = evit.Supernet.random(space, 7)
    model = es.ElasticSupernet.from_evit(net)
    arch = space.sample(evit.Rng(8))
    batches = [random_images(3, arch.resolution, 60 + i) for i in range(2)]
    override = net.recalibrate(arch, batches)
    model.reset_bn_statistics()
    model.bn_momentum = None  # cumulative average, as the official recalibration
    model.train()
    with torch.no_grad():
        for b in batches:
            model(torch.from_numpy(b), arch)
    model.eval()
    state = model.state_dict()
    assert override.names()
    for name in override.names():
        mean, var = override.stats(name)
        c = len(mean)
        err = max(float(np.abs(state[name + ".running_mean"][:c].numpy() - mean).max()),
                  float(np.abs(state[name + ".running_var"][:c].numpy() - var).max()
                        / max(1.0, float(np.abs(var).max()))))
        record("recalibration statistics", err)
        assert err <= TOLERANCE, (name, err)
    images = random_images(2, arch.resolution, 70)
    err = scaled_error(torch_logits(model, arch, images), net.forward(arch, images, bn=override))
    record("recalibrated logits", err)
    assert err <= TOLERANCE
