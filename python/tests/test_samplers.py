"""The samplers: each class and option, the same draws as the C++ building blocks, saved states,
pickling, bad options, Python cost models and the thread the callables run on."""
import json
import math
import pickle
import threading

import pytest

import evit

OFFICIAL = evit.spaces.official
MINI = evit.spaces.mini
WALKS = ["adjacent_step", "random", "adjacent", "cyclic"]


def mini_levels(n=4):
    """n levels spread over the mini space's MACs range (the official levels are far above it),
    and a window that every level reaches."""
    lo, hi = MINI.macs(MINI.min_arch()), MINI.macs(MINI.max_arch())
    step = (hi - lo) / (n + 1)
    return [lo + step * (i + 0.5) for i in range(n)], step / 2


def fake_score(arch):
    """A deterministic stand-in for minus the loss of `arch` on a batch."""
    return -(arch.hash64() % 1000) / 100.0


@pytest.fixture(scope="module")
def official_ca():
    return evit.ComplexityAwareSampler(OFFICIAL, seed=7)


# ---- uniform, sandwich, best-of-k --------------------------------------------------------------


@pytest.mark.parametrize("space", evit.spaces.all(), ids=lambda s: s.attribute)
def test_uniform_is_the_space_sampler(space):
    u = evit.UniformSampler(space, seed=7)
    w = evit.UniformSampler(space, seed=7, mode="per_subnet")
    g, h = evit.Rng(7), evit.Rng(7)
    for _ in range(50):
        a = u.next()
        assert a.space == space and space.is_valid(a)
        assert a == space.sample(g)
        assert w.next() == space.sample(h, uniform_subnet=True)
    assert u.mode() == "per_dimension" and w.mode() == "per_subnet"
    assert u.space == space
    assert u.options() == {"seed": 7, "mode": "per_dimension"}


def test_sandwich_largest_smallest_then_k_uniform():
    sw = evit.SandwichSampler(OFFICIAL, k=2, seed=5)
    g = evit.Rng(5)
    for _ in range(10):
        step = sw.sandwich_step()
        assert len(step) == 4
        assert step[0] == OFFICIAL.max_arch() == sw.largest()
        assert step[1] == OFFICIAL.min_arch() == sw.smallest()
        assert step[2:] == [OFFICIAL.sample(g), OFFICIAL.sample(g)]
    assert sw.k() == 2
    assert len(evit.SandwichSampler(MINI, k=0).sandwich_step()) == 2
    assert evit.SandwichSampler(MINI).k() == 2  # BigNAS's default


def test_best_of_k_keeps_the_lowest_score():
    bk = evit.BestOfKSampler(OFFICIAL, k=3, seed=9)
    g = evit.Rng(9)
    calls = []

    def score(a):
        calls.append(a)
        return a.macs()

    for _ in range(20):
        r = bk.next(score)
        cands = [OFFICIAL.sample(g) for _ in range(3)]
        best = min(cands, key=lambda a: a.macs())  # min keeps the first of equals, as C++
        assert r.arch == best and r.score == best.macs()
        arch, s = r  # unpacks
        assert arch == best and s == r.score
    assert calls[-3:] == cands
    assert bk.k() == 3 and evit.BestOfKSampler(MINI).k() == 3


def test_best_of_with_any_source():
    ca = evit.ComplexityAwareSampler(MINI, levels=mini_levels()[0], window=mini_levels()[1])
    r = evit.best_of(4, lambda: ca.draw_in_level(2), fake_score)
    assert isinstance(r, evit.ScoredArch)
    assert ca.in_window(2, ca.cost(r.arch))
    assert r.score == fake_score(r.arch)
    with pytest.raises(evit.InvalidArgument, match="k = 0"):
        evit.best_of(0, lambda: MINI.min_arch(), fake_score)
    with pytest.raises(evit.InvalidArgument, match="NaN"):
        evit.best_of(2, lambda: MINI.min_arch(), lambda a: math.nan)
    with pytest.raises(evit.InvalidArgument, match="not an evit.Arch"):
        evit.best_of(2, lambda: "r128", fake_score)
    with pytest.raises(evit.InvalidArgument, match="belongs to space"):
        it = iter([MINI.min_arch(), OFFICIAL.min_arch()])
        evit.best_of(2, lambda: next(it), fake_score)
    with pytest.raises(evit.InvalidArgument, match="not a number"):
        evit.best_of(1, lambda: MINI.min_arch(), lambda a: "low")


# ---- complexity-aware ---------------------------------------------------------------------------


def test_ca_official_defaults(official_ca):
    ca = official_ca
    assert ca.num_levels() == 8
    assert [ca.level_value(i) for i in range(8)] == [
        m * 1e6 for m in (100, 200, 300, 400, 500, 700, 900, 1200)
    ]
    assert ca.window() == 20e6
    assert ca.window_of(7) == (1200e6, 1220e6)
    assert ca.monotone()
    assert ca.cost_model.name == "macs"
    lo, hi = ca.cost_range()
    assert lo == OFFICIAL.macs(OFFICIAL.min_arch()) and hi == OFFICIAL.macs(OFFICIAL.max_arch())
    assert ca.level_of(110e6) == 0 and ca.level_of(150e6) == -1
    opts = ca.options()
    assert opts["walk"] == "adjacent_step" and opts["tries"] == 16 and opts["restarts"] == 4
    assert opts["smallest"] == "in_window" and opts["seed"] == 7 and opts["start_level"] == 0
    for i in range(8):
        s = ca.smallest(i)
        assert ca.in_window(i, ca.cost(s))
        for _ in range(10):
            assert ca.in_window(i, ca.cost(ca.draw_in_level(i)))
    st = ca.draw_stats()
    assert st == ca.stats()
    assert st["draws"] == 80
    assert st["by_rejection"] + st["constructed"] + st["fallback"] == st["draws"]
    assert st["cost_evaluations"] > 0


@pytest.mark.parametrize("walk", WALKS)
def test_ca_walks_draw_in_the_level_window(walk):
    levels, window = mini_levels(5)
    ca = evit.ComplexityAwareSampler(MINI, levels=levels, window=window, walk=walk, seed=3)
    seen = set()
    for _ in range(60):
        a = ca.next()
        assert ca.in_window(ca.level(), ca.cost(a))
        seen.add(ca.level())
    assert len(seen) >= 3
    if walk == "cyclic":  # descending, one level per step, from the highest
        ca2 = evit.ComplexityAwareSampler(MINI, levels=levels, window=window, walk=walk)
        assert [ca2.step() for _ in range(6)] == [4, 3, 2, 1, 0, 4]


def test_ca_mmacs_options_equal_the_cost_unit_ones():
    levels, window = mini_levels()
    a = evit.ComplexityAwareSampler(MINI, levels=levels, window=window, seed=1)
    b = evit.ComplexityAwareSampler(
        MINI, levels_mmacs=[v / 1e6 for v in levels], window_mmacs=window / 1e6, seed=1
    )
    for i in range(a.num_levels()):
        assert a.level_value(i) == pytest.approx(b.level_value(i), rel=1e-12)
    assert b.window() == pytest.approx(window, rel=1e-12)
    assert [a.next() for _ in range(30)] == [b.next() for _ in range(30)]


def test_ca_sandwich_step_start_level_and_smallest():
    levels, window = mini_levels()
    ca = evit.ComplexityAwareSampler(MINI, levels=levels, window=window, start_level=2, seed=4)
    assert ca.level() == 2
    for k in (3, 0, 5):
        step = ca.sandwich_step(k)
        assert len(step) == k + 1
        assert step[-1] == ca.smallest(ca.level())
        for a in step:
            assert ca.in_window(ca.level(), ca.cost(a))
    sm = evit.ComplexityAwareSampler(MINI, levels=levels, window=window, smallest="space_min")
    assert all(sm.smallest(i) == MINI.min_arch() for i in range(sm.num_levels()))
    ca.set_smallest(1, MINI.min_arch())
    assert ca.smallest(1) == MINI.min_arch()
    ca.set_level(3)
    assert ca.level() == 3
    # tries=0 and restarts=0: every draw is constructed (or falls back), still in the window
    c0 = evit.ComplexityAwareSampler(MINI, levels=levels, window=window, tries=0, restarts=0)
    for _ in range(20):
        a = c0.next()
        assert c0.in_window(c0.level(), c0.cost(a))
    assert c0.draw_stats()["by_rejection"] == 0


def test_ca_level_for_draw_moves_only_per_draw_walks():
    levels, window = mini_levels()
    per_step = evit.ComplexityAwareSampler(MINI, levels=levels, window=window, start_level=1)
    assert {per_step.level_for_draw() for _ in range(20)} == {1}
    per_draw = evit.ComplexityAwareSampler(MINI, levels=levels, window=window, walk="random")
    assert len({per_draw.level_for_draw() for _ in range(60)}) > 1


# ---- cost models ---------------------------------------------------------------------------------


def test_python_monotone_cost_gives_the_builtin_sequence():
    levels, window = mini_levels()
    py_macs = evit.CostModel(MINI, lambda a: MINI.macs(a), monotone=True, name="py_macs")
    a = evit.ComplexityAwareSampler(MINI, levels=levels, window=window, seed=11)
    b = evit.ComplexityAwareSampler(MINI, cost=py_macs, levels=levels, window=window, seed=11)
    assert b.monotone() and b.cost_model.name == "py_macs"
    assert [a.next() for _ in range(40)] == [b.next() for _ in range(40)]
    assert [x.arch for x in evit.PerformanceAwareSampler(
        MINI, levels=levels, window=window, seed=2).sandwich_step()] == [
        x.arch for x in evit.PerformanceAwareSampler(
            MINI, cost=py_macs, levels=levels, window=window, seed=2).sandwich_step()]


def test_python_non_monotone_cost():
    # Parameters minus a resolution bonus: not monotone in the resolution.
    def cost(a):
        return MINI.params(a) - 2000.0 * a.resolution

    model = evit.CostModel(MINI, cost, monotone=False)
    lo = min(cost(MINI.sample(evit.Rng(i))) for i in range(200))
    hi = max(cost(MINI.sample(evit.Rng(i))) for i in range(200))
    levels = [lo + (hi - lo) * f for f in (0.2, 0.4, 0.6)]
    ca = evit.ComplexityAwareSampler(MINI, cost=model, levels=levels, window=(hi - lo) / 10)
    assert not ca.monotone()
    for _ in range(30):
        a = ca.next()
        assert ca.in_window(ca.level(), cost(a))


def test_params_cost_and_a_cost_model_of_another_space():
    ca = evit.ComplexityAwareSampler(
        MINI, cost=evit.cost.params(MINI),
        levels=[MINI.params(MINI.min_arch()) * 1.2], window=MINI.params(MINI.max_arch()))
    assert ca.cost_model.name == "params"
    with pytest.raises(evit.InvalidArgument, match="another space"):
        evit.ComplexityAwareSampler(MINI, cost=evit.cost.macs(OFFICIAL))
    with pytest.raises(evit.InvalidArgument, match="another space"):
        evit.PerformanceAwareSampler(
            MINI, cost=evit.CostModel(OFFICIAL, lambda a: 1.0, monotone=True))
    with pytest.raises(evit.InvalidArgument, match="not an evit.CostModel"):
        evit.ComplexityAwareSampler(MINI, cost=lambda a: 1.0)


def test_errors_of_the_cost_callable_reach_python():
    levels, window = mini_levels()

    def broken(a):
        raise ValueError("no cost today")

    with pytest.raises(ValueError, match="no cost today"):
        evit.ComplexityAwareSampler(MINI, cost=evit.CostModel(MINI, broken), levels=levels)
    with pytest.raises(evit.InvalidArgument, match="not a number"):
        evit.ComplexityAwareSampler(MINI, cost=evit.CostModel(MINI, lambda a: "x"), levels=levels)


def test_callables_run_on_the_callers_thread():
    levels, window = mini_levels()
    threads = set()

    def cost(a):
        threads.add(threading.get_ident())
        return MINI.macs(a)

    def score(a):
        threads.add(threading.get_ident())
        return fake_score(a)

    results = {}

    def work():
        pa = evit.PerformanceAwareSampler(
            MINI, cost=evit.CostModel(MINI, cost, monotone=True), levels=levels, window=window,
            capacity=(4, 4, 0.0), seed=5)
        for _ in range(30):
            d = pa.next()
            pa.report(d, score(d.arch))
        pa.rescore_all(score)
        evit.BestOfKSampler(MINI).next(score)
        results["ident"] = threading.get_ident()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert threads == {results["ident"]}
    assert results["ident"] != threading.get_ident()


# ---- performance-aware ---------------------------------------------------------------------------


def small_pa(seed=21, **kw):
    levels, window = mini_levels()
    kw.setdefault("capacity", (6, 6, 0.0))
    return evit.PerformanceAwareSampler(MINI, levels=levels, window=window, seed=seed, **kw)


def test_pa_draw_report_and_banks():
    pa = small_pa()
    assert pa.num_levels() == 4 and pa.epoch() == 0
    assert pa.exploit_probability() == pytest.approx(0.2)
    origins = set()
    for k in range(200):
        if k % 3 == 0:
            pa.step()
        d = pa.draw()
        assert isinstance(d, evit.LevelDraw)
        assert d.level == pa.level() and pa.in_window(d.level, pa.cost(d.arch))
        origins.add(d.origin)
        entered = pa.report(d, fake_score(d.arch))
        assert entered in (True, False)
        if d.origin == "exploited":
            assert not entered
    assert origins == {"explored", "exploited"}
    st = pa.stats()
    assert st["reported"] == 200 and st["explored"] + st["exploited"] == 200
    assert st["inserted"] > 0
    banks = pa.banks()
    assert len(banks) == 4
    for L, bank in enumerate(banks):
        assert bank == pa.bank(L)
        assert len(bank) <= pa.bank_capacity(L) == 6
        for arch, score in bank:
            assert pa.in_window(L, pa.cost(arch)) and score == fake_score(arch)
    step = pa.sandwich_step(3)
    assert [d.origin for d in step][-1] == "smallest"
    assert step[-1].arch == pa.smallest(pa.level())
    assert pa.draw_at(1).level == 1
    assert isinstance(pa.preference(pa.smallest(2), 2), float)


def test_pa_rescore_epoch_schedule_and_options():
    pa = small_pa(exploit_schedule=(0.1, 0.2, 10), candidates=2)
    for _ in range(100):
        d = pa.next()
        pa.report(d, fake_score(d.arch))
    pa.rescore(0, lambda a: 1.0)
    assert all(s == 1.0 for _, s in pa.bank(0))
    pa.rescore_all(lambda a: -a.macs() / 1e6)
    assert all(s == -a.macs() / 1e6 for bank in pa.banks() for a, s in bank)
    pa.set_epoch(9)
    assert pa.epoch() == 9 and pa.exploit_probability() == pytest.approx(0.3)
    pa.set_epoch(49)
    assert pa.exploit_probability() == pytest.approx(1.1)
    with pytest.raises(evit.InvalidArgument, match="not finite"):
        pa.rescore(0, lambda a: math.inf)
    with pytest.raises(evit.InvalidArgument, match="not a number"):
        pa.rescore_all(lambda a: None)
    with pytest.raises(evit.InvalidArgument, match="not a callable"):
        pa.rescore_all(3)
    o = pa.options()
    assert o["capacity"] == (6, 6, 0.0) and o["exploit_schedule"] == (0.1, 0.2, 10)
    assert o["candidates"] == 2 and o["capacities"] == []
    per = small_pa(capacities=[1, 2, 3, 4])
    assert [per.bank_capacity(L) for L in range(4)] == [1, 2, 3, 4]
    mm = evit.PerformanceAwareSampler(OFFICIAL, capacity_mmacs=(10, 5, 450))
    assert [mm.bank_capacity(L) for L in range(8)] == [10] * 4 + [5] * 4
    default = evit.PerformanceAwareSampler(OFFICIAL)
    assert [default.bank_capacity(L) for L in range(8)] == [150] * 4 + [50] * 4


def test_level_draw_values():
    a = MINI.min_arch()
    d = evit.LevelDraw(a, 2)
    assert d.origin == "explored" and d.level == 2 and d.arch == a
    assert pickle.loads(pickle.dumps(d)) == d
    assert evit.LevelDraw(a, 2, "smallest") != d
    assert "LevelDraw" in repr(d)
    with pytest.raises(evit.InvalidArgument, match="origin"):
        evit.LevelDraw(a, 0, "borrowed")
    pa = small_pa()
    assert pa.report(evit.LevelDraw(pa.smallest(1), 1), 0.5)  # a draw made elsewhere
    assert not pa.report(evit.LevelDraw(pa.smallest(1), 1, "exploited"), 0.5)
    with pytest.raises(evit.InvalidArgument, match="level index"):
        pa.report(evit.LevelDraw(a, 9), 0.5)


# ---- bad options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(levels=[2e8, 1e8]), evit.InvalidArgument, "strictly increasing"),
        (dict(levels=[1e8, math.inf]), evit.InvalidArgument, "not finite"),
        (dict(levels=[]), evit.InvalidArgument, "no levels"),
        (dict(levels="100"), evit.InvalidArgument, "levels: expected a sequence"),
        (dict(levels=[1e8, "x"]), evit.InvalidArgument, r"levels\[1\]"),
        (dict(levels=[1e8], levels_mmacs=[100]), evit.InvalidArgument, "not both"),
        (dict(window=-1.0), evit.InvalidArgument, "window -1"),
        (dict(window=math.nan), evit.InvalidArgument, "window"),
        (dict(window=1.0, window_mmacs=1.0), evit.InvalidArgument, "not both"),
        (dict(walk="sideways"), evit.InvalidArgument, "sideways"),
        (dict(smallest="tiny"), evit.InvalidArgument, "in_window, space_min"),
        (dict(start_level=8), evit.InvalidArgument, "start level 8"),
        (dict(tries=-1), evit.InvalidArgument, "tries"),
        (dict(restarts=-2), evit.InvalidArgument, "restarts"),
        (dict(levels_mmacs=[10, 5000]), evit.Infeasible, "unreachable"),
    ],
)
def test_bad_complexity_options(kwargs, error, match):
    for cls in (evit.ComplexityAwareSampler, evit.PerformanceAwareSampler):
        with pytest.raises(error, match=match):
            cls(OFFICIAL, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(capacity=(5, 5)), r"capacity: expected \(below, from, threshold\)"),
        (dict(capacity=(5, -1, 1e8)), "capacity -1 < 0"),
        (dict(capacity=(5.5, 5, 1e8)), r"capacity\[0\] \(below\): expected an int"),
        (dict(capacity=(5, 5, 1e8), capacity_mmacs=(5, 5, 100)), "not both"),
        (dict(capacities=[1, 2]), "2 capacities for 8 levels"),
        (dict(capacities=[1] * 7 + ["x"]), r"capacities\[7\]"),
        (dict(exploit_schedule=(0.2, 0.15, 0)), "period 0"),
        (dict(exploit_schedule=(math.nan, 0.15, 10)), "exploit schedule value nan"),
        (dict(exploit_schedule=(0.2, 0.15)), "exploit_schedule: expected"),
        (dict(candidates=0), "candidates 0"),
    ],
)
def test_bad_performance_options(kwargs, match):
    with pytest.raises(evit.InvalidArgument, match=match):
        evit.PerformanceAwareSampler(OFFICIAL, **kwargs)


def test_bad_arguments_of_methods(official_ca):
    with pytest.raises(evit.InvalidArgument, match="k = -1"):
        evit.SandwichSampler(MINI, k=-1)
    with pytest.raises(evit.InvalidArgument, match="k = 0 must be >= 1"):
        evit.BestOfKSampler(MINI, k=0)
    with pytest.raises(evit.InvalidArgument, match="per_layer"):
        evit.UniformSampler(MINI, mode="per_layer")
    with pytest.raises(evit.InvalidArgument, match="k = -1"):
        official_ca.sandwich_step(-1)
    with pytest.raises(evit.InvalidArgument, match="level index 8"):
        official_ca.window_of(8)
    with pytest.raises(evit.InvalidArgument, match="level 9"):
        official_ca.set_level(9)
    with pytest.raises(evit.InvalidArgument, match="belongs to space"):
        official_ca.cost(MINI.min_arch())
    with pytest.raises(evit.InvalidArgument, match="belongs to space"):
        official_ca.set_smallest(0, MINI.min_arch())
    with pytest.raises(evit.InvalidArgument, match="NaN"):
        evit.BestOfKSampler(MINI).next(lambda a: math.nan)
    pa = small_pa()
    d = pa.next()
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(evit.InvalidArgument, match="score .* is not finite"):
            pa.report(d, bad)
    with pytest.raises(evit.InvalidArgument, match="belongs to space"):
        pa.report(evit.LevelDraw(OFFICIAL.min_arch(), 0), 1.0)
    with pytest.raises(evit.InvalidArgument, match="epoch -1 < 0"):
        pa.set_epoch(-1)
    with pytest.raises(TypeError):
        evit.UniformSampler("official")


# ---- saved states and pickling -----------------------------------------------------------------


def run_uniform(s, n):
    return [s.next() for _ in range(n)]


def run_sandwich(s, n):
    return [s.sandwich_step() for _ in range(n)]


def run_best(s, n):
    return [tuple(s.next(fake_score)) for _ in range(n)]


def run_ca(s, n):
    return [(s.next(), s.level()) for _ in range(n)]


def run_pa(s, n):
    out = []
    for k in range(n):
        if k % 3 == 0:
            s.step()
        d = s.draw()
        s.report(d, fake_score(d.arch))
        out.append(d)
    return out


def make_samplers(seed):
    levels, window = mini_levels()
    return [
        (lambda: evit.UniformSampler(OFFICIAL, seed=seed, mode="per_subnet"), run_uniform),
        (lambda: evit.SandwichSampler(MINI, k=3, seed=seed), run_sandwich),
        (lambda: evit.BestOfKSampler(OFFICIAL, k=2, seed=seed), run_best),
        (lambda: evit.ComplexityAwareSampler(MINI, levels=levels, window=window, walk="random",
                                             seed=seed), run_ca),
        (lambda: evit.PerformanceAwareSampler(MINI, levels=levels, window=window,
                                              capacity=(6, 6, 0.0), seed=seed), run_pa),
    ]


SAMPLER_IDS = ["uniform", "sandwich", "best_of_k", "complexity_aware", "performance_aware"]


@pytest.mark.parametrize("index", range(5), ids=SAMPLER_IDS)
def test_state_resumes_the_same_sequence(index):
    make, run = make_samplers(31)[index]
    a = make()
    run(a, 40)
    state = a.state()
    assert json.loads(state)["format"].startswith("evit.")
    make_other, _ = make_samplers(1234)[index]  # another seed: the loaded state wins
    b = make_other()
    b.load_state(state)
    assert b.state() == state
    assert run(a, 60) == run(b, 60)
    assert a.state() == b.state()


@pytest.mark.parametrize("index", range(5), ids=SAMPLER_IDS)
def test_pickle_resumes_the_same_sequence(index):
    make, run = make_samplers(8)[index]
    a = make()
    run(a, 25)
    b = pickle.loads(pickle.dumps(a))
    assert type(b) is type(a) and b.space == a.space and b.options() == a.options()
    assert run(a, 30) == run(b, 30)


def _mini_macs(a):
    return MINI.macs(a)


def test_pickle_with_a_python_cost_needs_a_picklable_callable():
    levels, window = mini_levels()
    ca = evit.ComplexityAwareSampler(MINI, cost=evit.CostModel(MINI, _mini_macs, monotone=True),
                                     levels=levels, window=window)
    ca.next()
    back = pickle.loads(pickle.dumps(ca))
    assert [back.next() for _ in range(5)] == [ca.next() for _ in range(5)]
    lam = evit.ComplexityAwareSampler(MINI, cost=evit.CostModel(MINI, lambda a: MINI.macs(a),
                                                                monotone=True),
                                      levels=levels, window=window)
    with pytest.raises(Exception):  # pickle's own error: a lambda does not pickle
        pickle.dumps(lam)


@pytest.mark.parametrize("index", range(5), ids=SAMPLER_IDS)
def test_corrupted_states_raise_named_errors(index):
    make, run = make_samplers(3)[index]
    a = make()
    run(a, 10)
    good = json.loads(a.state())
    fresh = make()
    before = fresh.state()

    def expect(change, error, match):
        j = json.loads(json.dumps(good))
        change(j)
        with pytest.raises(error, match=match):
            fresh.load_state(json.dumps(j))

    expect(lambda j: j.update(format="evit.other_sampler"), evit.FormatError, '"format"')
    expect(lambda j: j.update(version=7), evit.FormatError, '"version"')
    expect(lambda j: j.update(space="elasticvit-official" if fresh.space == MINI
                              else "elasticvit-mini"), evit.FormatError, '"space"')
    expect(lambda j: j.update(engine=[1, 2]), evit.FormatError, '"engine"')
    expect(lambda j: j.update(engine=[0, 0, 0, 0]), evit.FormatError, '"engine" is all zeros')
    expect(lambda j: j.update(engine=[1, -2, 3, 4]), evit.FormatError, '"engine"')
    if "mode" in good:
        expect(lambda j: j.update(mode="per_dimension" if good["mode"] == "per_subnet"
                                  else "per_subnet"), evit.FormatError, '"mode"')
    if "k" in good:
        expect(lambda j: j.update(k=good["k"] + 1), evit.FormatError, '"k"')
    if "levels" in good:
        expect(lambda j: j["levels"].reverse(), evit.FormatError, '"levels"')
        expect(lambda j: j.update(window=1.0), evit.FormatError, '"window"')
        expect(lambda j: j.update(level=99), evit.FormatError, '"level"')
        expect(lambda j: j.pop("level"), evit.FormatError, 'missing field "level"')
    if "walk" in good:
        expect(lambda j: j.update(walk="cyclic"), evit.FormatError, '"walk"')
        expect(lambda j: j["smallest"][0].update(resolution=1), evit.FormatError,
               r'"smallest"\[0\]')
    if "banks" in good:
        expect(lambda j: j.update(epoch=-3), evit.FormatError, '"epoch"')
        expect(lambda j: j["banks"][0].update(entries=7), evit.FormatError, "entries")
        expect(lambda j: j["banks"][0].update(entries=[{"arch": {}, "score": "high"}]),
               evit.FormatError, "score")
    with pytest.raises(evit.ParseError, match="not valid JSON"):
        fresh.load_state("{not json")
    with pytest.raises(evit.FormatError, match="object"):
        fresh.load_state("[1, 2]")
    assert fresh.state() == before  # a refused state changes nothing


def test_state_argument_resumes_at_construction_and_copies():
    import copy

    levels, window = mini_levels()
    a = evit.PerformanceAwareSampler(MINI, levels=levels, window=window, capacity=(6, 6, 0.0))
    run_pa(a, 30)
    b = evit.PerformanceAwareSampler(MINI, levels=levels, window=window, capacity=(6, 6, 0.0),
                                     state=a.state())
    c = copy.deepcopy(a)
    assert b.state() == c.state() == a.state()
    assert run_pa(a, 20) == run_pa(b, 20) == run_pa(c, 20)
    with pytest.raises(evit.InvalidArgument, match="state: expected a str"):
        evit.UniformSampler(MINI, state={"engine": [1, 2, 3, 4]})
    with pytest.raises(evit.FormatError, match='"k"'):
        evit.SandwichSampler(MINI, k=1, state=evit.SandwichSampler(MINI, k=2).state())


def test_a_sampler_refuses_calls_while_it_runs():
    """A callable that calls back into its own sampler gets evit.InvalidArgument, not a corrupted
    sampler (the C++ samplers are not reentrant)."""
    pa = small_pa()
    for _ in range(60):
        d = pa.next()
        pa.report(d, fake_score(d.arch))

    def reentrant_score(a):
        pa.report(evit.LevelDraw(a, 0), 1.0)
        return 0.0

    with pytest.raises(evit.InvalidArgument, match="already running"):
        pa.rescore_all(reentrant_score)
    levels, window = mini_levels()
    holder = {}

    def cost(a):
        if "ca" in holder:
            holder["ca"].draw()
        return MINI.macs(a)

    ca = evit.ComplexityAwareSampler(MINI, cost=evit.CostModel(MINI, cost, monotone=True),
                                     levels=levels, window=window)
    holder["ca"] = ca
    with pytest.raises(evit.InvalidArgument, match="ComplexityAwareSampler.draw: the sampler is "
                                                   "already running"):
        ca.next()
    holder.clear()
    ca.next()  # usable again
    # Reading from a callable is fine.
    pa.rescore_all(lambda a: -pa.cost(a) / 1e6 + pa.level())
