"""Spaces, subnets, errors and the built-in cost counts."""
import pickle

import pytest

import evit


def test_official_cardinality():
    assert evit.spaces.official.cardinality() == 21672453419827200


def test_every_space_reachable():
    names = [s.attribute for s in evit.spaces.all()]
    assert names == ["official", "mini", "fashion", "autoformer_t", "autoformer_s",
                     "autoformer_b"]
    for s in evit.spaces.all():
        assert evit.spaces.by_name(s.attribute) == s
        assert evit.spaces.by_name(s.name) == s
        assert s.cardinality() > 1
        lo, hi = s.min_arch(), s.max_arch()
        assert s.macs(lo) < s.macs(hi)
        assert s.params(lo) < s.params(hi)


@pytest.mark.parametrize("space", evit.spaces.all(), ids=lambda s: s.attribute)
@pytest.mark.parametrize("fmt", ["text", "json", "official"])
def test_formats_round_trip(space, fmt):
    g = evit.Rng(3)
    for _ in range(20):
        a = space.sample(g)
        text = a.format(fmt)
        assert space.parse(text, fmt) == a
        assert space.parse(text) == a  # auto tells the formats apart


@pytest.mark.parametrize("space", evit.spaces.all(), ids=lambda s: s.attribute)
def test_equality_hash_pickle(space):
    g = evit.Rng(11)
    archs = [space.sample(g, uniform_subnet=(i % 2 == 1)) for i in range(50)]
    for a in archs:
        b = space.parse(a.to_text())
        assert a == b and hash(a) == hash(b) and a.hash64() == b.hash64()
        c = pickle.loads(pickle.dumps(a))
        assert c == a and c.space == space
    assert len(set(archs)) == len({a.to_text() for a in archs})
    assert pickle.loads(pickle.dumps(space)) == space


def test_fashion_training_space():
    s = evit.spaces.fashion
    assert s.resolutions == [28, 32] and s.cardinality() == 253957939200
    assert s.macs(s.max_arch()) / s.macs(s.min_arch()) > 10


def test_same_seed_same_subnets():
    s = evit.spaces.official
    g1, g2 = evit.Rng(5), evit.Rng(5)
    assert [s.sample(g1) for _ in range(10)] == [s.sample(g2) for _ in range(10)]
    g = evit.Rng(9)
    g.next()
    h = pickle.loads(pickle.dumps(g))
    assert h == g and h.next() == g.next()


def test_released_names_and_known_macs():
    s = evit.spaces.official
    t1 = s.parse("elastic_T1")
    assert t1 == s.parse("T1")
    assert s.macs(t1) == t1.macs() > 0
    assert s.macs(s.min_arch()) / 1e6 == pytest.approx(37.0, abs=2.0)


def test_errors_are_named_classes_with_the_message():
    s = evit.spaces.official
    with pytest.raises(evit.ParseError, match="position"):
        s.parse("r128 garbage", "text")
    with pytest.raises(evit.ParseError):
        s.parse("{not json", "json")
    with pytest.raises(evit.InvalidArch, match="resolution"):
        s.parse(s.max_arch().to_text().replace("r256", "r250", 1))
    with pytest.raises(evit.InvalidArgument, match="format"):
        s.max_arch().format("yaml")
    with pytest.raises(evit.InvalidArgument, match="belongs to space"):
        evit.spaces.mini.macs(s.max_arch())
    with pytest.raises(evit.InvalidArgument, match="allowed"):
        evit.spaces.by_name("nope")
    assert issubclass(evit.InvalidArch, evit.Error)
    assert issubclass(evit.Error, RuntimeError)


def test_python_cost_model():
    s = evit.spaces.mini
    calls = []

    def f(a):
        calls.append(a)
        return a.resolution * 2.0

    c = evit.CostModel(s, f, monotone=True, name="res")
    a = s.max_arch()
    assert c(a) == a.resolution * 2.0 and calls == [a]
    assert c.monotone and c.name == "res" and c.space == s
    assert evit.cost.macs(s)(a) == s.macs(a)
    with pytest.raises(evit.InvalidArgument, match="not a number"):
        evit.CostModel(s, lambda a: "x")(a)
    with pytest.raises(ZeroDivisionError):
        evit.CostModel(s, lambda a: 1 / 0)(a)
    with pytest.raises(evit.InvalidArgument, match="callable"):
        evit.CostModel(s, 3)


def _double_resolution(a):
    return 2.0 * a.resolution


def test_cost_models_pickle():
    s = evit.spaces.mini
    a = s.max_arch()
    for c in [evit.cost.macs(s), evit.cost.params(evit.spaces.fashion),
              evit.CostModel(s, _double_resolution, monotone=True, name="twice")]:
        d = pickle.loads(pickle.dumps(c))
        assert (d.name, d.space, d.monotone) == (c.name, c.space, c.monotone)
        if c.space == s:
            assert d(a) == c(a)
    with pytest.raises(Exception):  # a lambda does not pickle (pickle's own error)
        pickle.dumps(evit.CostModel(s, lambda a: 1.0))


def test_rng_refuses_an_all_zero_state():
    g = evit.Rng(1)
    with pytest.raises(evit.InvalidArgument, match="all four words are 0"):
        g.state = (0, 0, 0, 0)
    with pytest.raises(evit.InvalidArgument, match="4 expected"):
        g.state = (1, 2)


def test_constants_and_stage_sizes():
    assert evit.spaces.official.constants["num_classes"] == 1000
    assert evit.spaces.official.constants["head_hidden"] == 1984
    assert evit.spaces.fashion.constants["num_classes"] == 10
    t = [st for st in evit.spaces.official.stages if st["kind"] == "transformer_stage"]
    assert len(t) == 4 and all(st["head_dim"] == 16 for st in t)
    assert evit.spaces.fashion.stages[0]["stride"] == 1
