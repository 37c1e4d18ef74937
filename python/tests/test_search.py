"""Searches (evolutionary, NSGA-II, random) and phone latency cost models from Python."""
import json
import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import evit

S = evit.spaces.official
ROOT = Path(__file__).resolve().parents[2]
LUT_DIR = ROOT / "data" / "mobile-lut"


def small_evolution(**kw):
    o = dict(population=40, parents=10, mutations=15, crossovers=15, iterations=4)
    o.update(kw)
    return evit.search.EvolutionOptions(**o)


def small_nsga2(**kw):
    o = dict(population=16, generations=4)
    o.update(kw)
    return evit.search.NSGA2Options(**o)


def features(a):
    """A small numeric description of a subnet: resolution and each stage's width and depth."""
    f = [a.resolution / 256.0]
    for st in a.stages:
        f += [st["width"] / 512.0, st["depth"] / 8.0]
    return np.array(f)


_W = np.random.default_rng(0).standard_normal(64)


def numpy_score(a):
    """A stand-in for "top-1 on my validation loader": a tiny numpy computation."""
    f = features(a)
    return float(np.tanh(f @ _W[: f.size]) + 0.1 * f.sum())


def same_results(a, b):
    assert a.ranked == b.ranked
    assert a.evaluated == b.evaluated
    assert a.history == b.history
    assert a.counters == b.counters
    assert a.evaluations == b.evaluations


# ---- evolutionary search ---------------------------------------------------------------------


def test_evolutionary_builtin_objective_under_budget():
    macs = evit.cost.macs(S)
    r = evit.search.evolutionary(S, evit.cost.params(S), evit.search.at_most(macs, 300e6),
                                 small_evolution(), seed=3)
    assert r.ok and r.status == "ok" and r.message == "" and r.algorithm == "evolution"
    assert r.space == S and r.objective_names == ["params"] and r.senses == ["maximize"]
    assert r.constraints == ["macs <= 3e+08"]
    best = r.best
    assert best.feasible and best.violation == 0
    assert best.costs == [S.macs(best.arch)] and best.costs[0] <= 300e6
    assert best.values == [S.params(best.arch)] and best.value == best.values[0]
    values = [e.value for e in r.ranked]
    assert values == sorted(values, reverse=True) and len(r.ranked) <= 10
    assert len(r.evaluated) == r.evaluations <= small_evolution().max_evaluations
    assert all(e.feasible and e.costs[0] <= 300e6 for e in r.evaluated)
    assert [h.iteration for h in r.history] == [0, 1, 2, 3, 4]
    assert r.history[-1].evaluations == r.evaluations and r.history[-1].best == best.value
    assert sum(h.new_subnets for h in r.history) == r.evaluations
    assert r.counters.proposed >= r.evaluations and "proposed" in r.counters.to_dict()
    assert r.seed == 3 and r.seconds >= 0 and not r.stopped
    # The front of (params maximised, MACs minimised) among the evaluated: the best is on it.
    front = r.front()
    assert front[0].value == best.value  # (ties in params: the front keeps the fewest MACs)
    for x in front:
        for y in front:
            assert not (x.value >= y.value and x.costs[0] <= y.costs[0] and x != y
                        and (x.value > y.value or x.costs[0] < y.costs[0]))


@pytest.mark.parametrize("space", evit.spaces.all(), ids=lambda s: s.attribute)
def test_every_space_searches(space):
    lo, hi = space.macs(space.min_arch()), space.macs(space.max_arch())
    budget = lo + 0.4 * (hi - lo)
    r = evit.search.evolutionary(space, evit.cost.params(space),
                                 evit.search.at_most(evit.cost.macs(space), budget),
                                 small_evolution(iterations=2), seed=1)
    assert r.ok and r.best.arch.space == space and space.macs(r.best.arch) <= budget
    assert space.is_valid(r.best.arch)


def test_same_seed_same_result_whatever_the_threads():
    args = (S, evit.search.minimize(evit.cost.params(S)),
            evit.search.within(evit.cost.macs(S), 250e6, 300e6))
    a = evit.search.evolutionary(*args, options=small_evolution(), seed=7)
    b = evit.search.evolutionary(*args, options=small_evolution(), seed=7, threads=3)
    c = evit.search.evolutionary(*args, options=small_evolution(), seed=8)
    same_results(a, b)
    assert a.ranked != c.ranked
    assert a.senses == ["minimize"]
    assert all(250e6 <= e.costs[0] <= 300e6 for e in a.evaluated)


def test_python_objective_numpy_and_threads():
    calls = []

    def score(a):
        calls.append(a)
        return numpy_score(a)

    cons = evit.search.at_most(evit.cost.macs(S), 400e6)
    r1 = evit.search.evolutionary(S, score, cons, small_evolution(), seed=5)
    assert len(calls) == r1.evaluations
    assert r1.objective_names == ["score"]
    assert r1.best.value == numpy_score(r1.best.arch)
    r4 = evit.search.evolutionary(S, evit.search.maximize(score, name="proxy"), cons,
                                  small_evolution(), seed=5, threads=4)
    same_results(r1, r4)
    assert r4.objective_names == ["proxy"]


def test_python_objective_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(11, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def top1(a):
        with torch.no_grad():
            x = torch.tensor(features(a)[:11], dtype=torch.float32)
            return float(net(x)[0])

    r = evit.search.evolutionary(S, top1, evit.search.at_most(evit.cost.macs(S), 350e6),
                                 small_evolution(iterations=2), seed=2, threads=2)
    assert r.ok and r.best.value == pytest.approx(top1(r.best.arch))


def test_constraints_windows_bounds_and_several():
    macs, params = evit.cost.macs(S), evit.cost.params(S)
    cs = [evit.search.within(macs, 200e6, 260e6), evit.search.at_most(params, 6e6, name="p"),
          evit.search.at_least(lambda a: float(a.resolution), 192, name="res")]
    assert cs[1].describe() == "p <= 6000000" and cs[1].hi == 6e6 and math.isinf(cs[1].lo)
    assert cs[2].name == "res" and cs[0].name == "macs"
    r = evit.search.evolutionary(S, evit.cost.params(S), cs, small_evolution(iterations=2))
    assert r.ok and len(r.constraints) == 3
    for e in r.evaluated:
        assert 200e6 <= e.costs[0] <= 260e6 and e.costs[1] <= 6e6 and e.costs[2] >= 192
        assert e.costs == [S.macs(e.arch), S.params(e.arch), e.arch.resolution]
    assert len(r.front()) >= 1 and len(r.front()[0].costs) == 3
    # No constraint: costs hold one 0.
    u = evit.search.evolutionary(S, evit.search.minimize(macs), None,
                                 small_evolution(iterations=1))
    assert u.constraints == [] and u.best.costs == [0.0]


def test_infeasible_constraint_is_a_result():
    r = evit.search.evolutionary(S, evit.cost.params(S),
                                 evit.search.at_most(evit.cost.macs(S), 1e6), small_evolution())
    assert not r.ok and r.status == "infeasible" and "infeasible" in r.message
    with pytest.raises(evit.Infeasible, match="smallest subnet"):
        r.best


def test_presets_and_options():
    assert evit.search.presets() == ["elasticvit", "autoformer", "ofa", "hat"]
    e = evit.search.EvolutionOptions.preset("elasticvit")
    assert (e.population, e.parents, e.mutations, e.crossovers, e.iterations) == (
        512, 256, 128, 128, 40)
    assert e.random_choice_prob == 0.45 and e.depth_mode == "together" and e.name == "elasticvit"
    a = evit.search.EvolutionOptions("autoformer", iterations=3)
    assert a.refill and a.iterations == 3 and a.parents == 10 and a.name == "autoformer"
    assert evit.search.EvolutionOptions("ofa").depth_mode == "per_stage"
    assert evit.search.EvolutionOptions("hat").mutation_prob == 0.3
    assert evit.search.EvolutionOptions.from_json(a.to_json()) == a
    n = evit.search.NSGA2Options(population=10, crossover_prob=0.5)
    assert evit.search.NSGA2Options.from_json(n.to_json()) == n
    assert n.max_evaluations == 10 * 51
    r = evit.search.RandomOptions(evaluations=20, keep=5)
    assert (r.evaluations, r.keep, r.attempts, r.repair) == (20, 5, 10, True)
    # A preset by name, with AutoFormer's refill.
    t = evit.spaces.autoformer_t
    budget = 0.5 * (t.macs(t.min_arch()) + t.macs(t.max_arch()))
    res = evit.search.evolutionary(t, evit.cost.params(t),
                                   evit.search.at_most(evit.cost.macs(t), budget),
                                   evit.search.EvolutionOptions("autoformer", iterations=2), seed=4)
    assert res.ok and res.history[1].new_subnets > 0


def test_bad_options_raise_the_named_class_with_the_cpp_message():
    with pytest.raises(evit.InvalidArgument, match=r"evolution_options: population 0 < 1"):
        evit.search.EvolutionOptions(population=0)
    with pytest.raises(evit.InvalidArgument, match=r"a probability is outside \[0, 1\]"):
        evit.search.EvolutionOptions(mutation_prob=1.5)
    with pytest.raises(evit.InvalidArgument, match=r'no search preset "nope" \(known: elasticvit'):
        evit.search.EvolutionOptions.preset("nope")
    with pytest.raises(evit.InvalidArgument, match=r'no search preset "nope"'):
        evit.search.evolutionary(S, evit.cost.params(S), options="nope")
    with pytest.raises(evit.InvalidArgument, match='"bogus" is not an option'):
        evit.search.EvolutionOptions(bogus=1)
    with pytest.raises(evit.InvalidArgument, match="allowed: together, per_stage"):
        evit.search.EvolutionOptions(depth_mode="sideways")
    with pytest.raises(evit.InvalidArgument, match=r"nsga2_options: population 1 < 2"):
        evit.search.NSGA2Options(population=1)
    o = small_evolution()
    o.parents = 0  # setters do not check; the search does, with the C++ message
    with pytest.raises(evit.InvalidArgument, match=r"evolution_options: parents 0 < 1"):
        evit.search.Evolution(S, evit.cost.params(S), options=o)
    with pytest.raises(evit.InvalidArgument, match="evaluations, attempts and keep must be >= 1"):
        evit.search.random(S, evit.cost.params(S), options=evit.search.RandomOptions(keep=0))
    with pytest.raises(evit.InvalidArgument, match=r"bounds \[3, 2\] are not an interval"):
        evit.search.within(evit.cost.macs(S), 3, 2)
    with pytest.raises(evit.InvalidArgument, match="threads: 0 is not a thread count"):
        evit.search.evolutionary(S, evit.cost.params(S), threads=0)
    many = [evit.search.at_most(evit.cost.macs(S), 1e9)] * 4
    with pytest.raises(evit.InvalidArgument, match="4 given, at most 3 allowed"):
        evit.search.evolutionary(S, evit.cost.params(S), many)
    with pytest.raises(evit.InvalidArgument, match="4 given, 1 to 3 allowed"):
        evit.search.nsga2(S, [evit.cost.params(S)] * 4)
    with pytest.raises(evit.InvalidArgument, match="not a list of objectives"):
        evit.search.nsga2(S, evit.cost.params(S))
    with pytest.raises(evit.InvalidArgument, match="not an evit.CostModel or a callable"):
        evit.search.maximize(3)
    with pytest.raises(evit.InvalidArgument, match="not an evit.search.Constraint"):
        evit.search.evolutionary(S, evit.cost.params(S), [3])
    with pytest.raises(evit.InvalidArgument, match="not an evit.search.NSGA2Options"):
        evit.search.nsga2(S, [evit.cost.params(S)], options=small_evolution())
    with pytest.raises(evit.InvalidArgument, match="ref has 1 values"):
        evit.search.nsga2(S, [evit.cost.params(S), evit.search.minimize(evit.cost.macs(S))],
                          options=small_nsga2(generations=1)).hypervolume([0.0])


def test_cost_models_of_another_space_are_refused():
    mini = evit.spaces.mini
    with pytest.raises(evit.InvalidArgument, match="is of space mini, the search is over space official"):
        evit.search.evolutionary(S, evit.cost.params(mini))
    with pytest.raises(evit.InvalidArgument, match="constraint on macs: cost model \"macs\" is of space mini"):
        evit.search.evolutionary(S, evit.cost.params(S),
                                 evit.search.at_most(evit.cost.macs(mini), 1e9))
    with pytest.raises(evit.InvalidArgument, match="is of space mini"):
        evit.search.nsga2(S, [evit.cost.params(S), evit.cost.params(mini)])
    with pytest.raises(evit.InvalidArgument, match="is of space official"):
        evit.search.random(mini, evit.CostModel(S, lambda a: 1.0))
    # A Python callable receives subnets of the searched space.
    seen = set()
    evit.search.random(mini, lambda a: seen.add(a.space) or 1.0,
                       options=evit.search.RandomOptions(evaluations=5))
    assert seen == {mini}


# ---- exceptions from Python --------------------------------------------------------------------


class Boom(Exception):
    pass


@pytest.mark.parametrize("threads", [1, 4])
def test_objective_exception_propagates_as_itself(threads):
    n = [0]
    lock = threading.Lock()

    def flaky(a):
        with lock:
            n[0] += 1
            k = n[0]
        if k == 55:
            raise Boom("objective failed at call 55")
        return numpy_score(a)

    evo = evit.search.Evolution(S, flaky, evit.search.at_most(evit.cost.macs(S), 400e6),
                                small_evolution(), seed=1, threads=threads)
    assert evo.step()  # the initial population: 40 calls
    saved = evo.state()
    with pytest.raises(Boom, match="call 55"):
        evo.run()
    # The interrupted step left no usable state: the search says so until restored.
    with pytest.raises(evit.InvalidArgument, match="restore"):
        evo.step()
    evo.restore(saved)
    n[0] = -10**6  # no more failures
    r = evo.run()
    assert r.ok and evo.done and evo.iteration == 4
    # NSGA-II and random too.
    n[0] = 0
    with pytest.raises(Boom):
        evit.search.nsga2(S, [flaky, evit.search.minimize(evit.cost.macs(S))], None,
                          small_nsga2(), threads=threads)
    n[0] = 0
    with pytest.raises(Boom):
        evit.search.random(S, flaky, options=evit.search.RandomOptions(evaluations=100),
                           threads=threads)


def test_every_call_raising_on_many_threads():
    """Many exceptions at once (only the first is kept; the others are dropped, each taking the
    GIL to release its Python objects): no hang, no crash, the Python exception comes out."""
    def always(a):
        raise Boom(a.to_text())

    for _ in range(5):
        with pytest.raises(Boom, match="^r"):
            evit.search.evolutionary(S, always, None, small_evolution(population=200), threads=8)


def test_bad_objective_values():
    with pytest.raises(evit.InvalidArgument, match="not a number"):
        evit.search.evolutionary(S, lambda a: "high", options=small_evolution())
    # (C++ throws the base evit::error: evit.Error once the module translates it; RuntimeError,
    # its base, either way.)
    with pytest.raises(RuntimeError, match="NaN"):
        evit.search.evolutionary(S, lambda a: float("nan"), options=small_evolution(), threads=2)


# ---- progress, stop, save and resume -----------------------------------------------------------


def test_progress_callback_and_stop():
    seen = []
    r = evit.search.evolutionary(S, evit.cost.params(S),
                                 evit.search.at_most(evit.cost.macs(S), 300e6),
                                 small_evolution(), seed=9, progress=seen.append)
    assert [p.iteration for p in seen] == [0, 1, 2, 3, 4]
    assert all(p.iterations == 4 for p in seen)
    assert [p.evaluations for p in seen] == [h.evaluations for h in r.history]
    assert seen[-1].best == r.best.arch and seen[-1].best_score == r.best.value
    assert seen[-1].feasible == r.evaluations and seen[-1].seconds >= 0

    evo = evit.search.Evolution(S, evit.cost.params(S),
                                evit.search.at_most(evit.cost.macs(S), 300e6),
                                small_evolution(), seed=9)
    partial = evo.run(progress=lambda p: p.iteration < 2)
    assert partial.stopped and evo.iteration == 2 and len(partial.history) == 3
    same_results(evo.run(), r)  # run() again goes on to the end

    def bad(p):
        raise KeyError("from the callback")

    evo2 = evit.search.Evolution(S, evit.cost.params(S), None, small_evolution(), seed=9)
    with pytest.raises(KeyError):
        evo2.run(progress=bad)
    assert evo2.iteration == 0  # the step had finished: the search is intact
    assert evo2.run().evaluations > 0

    gens = []
    evit.search.nsga2(S, [evit.cost.params(S), evit.search.minimize(evit.cost.macs(S))],
                      options=small_nsga2(), progress=lambda p: gens.append(p.iteration))
    assert gens == [0, 1, 2, 3, 4]


def test_evolution_save_and_resume_equal_the_uninterrupted_search(tmp_path):
    args = (S, numpy_score, evit.search.within(evit.cost.macs(S), 250e6, 350e6))
    full = evit.search.Evolution(*args, options=small_evolution(), seed=11).run()
    part = evit.search.Evolution(*args, options=small_evolution(), seed=11)
    assert part.iteration == -1 and not part.done
    assert part.step() and part.step()
    state = part.state()
    assert json.loads(state)["algorithm"] == "evolution"
    part.save(str(tmp_path / "evo.json"))
    resumed = evit.search.Evolution(*args, options=small_evolution(), seed=999, threads=2)
    resumed.restore(state)
    assert resumed.iteration == 1
    same_results(resumed.run(), full)
    loaded = evit.search.Evolution(*args, options=small_evolution(), seed=0)
    loaded.load(str(tmp_path / "evo.json"))
    same_results(loaded.run(), full)
    # The result's own JSON.
    back = evit.search.SearchResult.from_json(full.to_json())
    same_results(back, full)
    assert back.best == full.best and back.objective_names == full.objective_names
    assert back.constraints == full.constraints and back.space == S


def test_checkpoint_from_the_progress_callback():
    """The callback sees a finished step: state() there is a checkpoint; a nested step() is
    refused (the search is running)."""
    args = (S, evit.cost.params(S), evit.search.at_most(evit.cost.macs(S), 300e6))
    evo = evit.search.Evolution(*args, options=small_evolution(), seed=4)
    checkpoints = {}
    refused = []

    def progress(p):
        checkpoints[p.iteration] = evo.state()
        try:
            evo.step()
        except evit.InvalidArgument as e:
            refused.append(str(e))

    full = evo.run(progress)
    assert sorted(checkpoints) == [0, 1, 2, 3, 4]
    assert len(refused) == 5 and "already running" in refused[0]
    resumed = evit.search.Evolution(*args, options=small_evolution(), seed=4)
    resumed.restore(checkpoints[2])
    same_results(resumed.run(), full)
    assert resumed.options == small_evolution() and evo.options.population == 40


def test_pickling_options_and_results():
    import pickle
    for o in [small_evolution(), evit.search.EvolutionOptions("ofa"), small_nsga2()]:
        assert pickle.loads(pickle.dumps(o)) == o
    r = evit.search.RandomOptions(evaluations=7, keep=3, repair=False)
    q = pickle.loads(pickle.dumps(r))
    assert (q.evaluations, q.keep, q.repair) == (7, 3, False)
    res = evit.search.random(S, numpy_score, options=evit.search.RandomOptions(evaluations=20))
    back = pickle.loads(pickle.dumps(res))
    same_results(back, res)
    with pytest.raises(evit.ParseError, match="not valid JSON"):
        evit.search.SearchResult.from_json("{")
    with pytest.raises(evit.ParseError, match="format"):
        evit.search.SearchResult.from_json('{"format": "other"}')
    bad = json.loads(res.to_json())
    bad["evaluated"][0]["arch"] = "r999 nonsense"
    with pytest.raises((evit.ParseError, evit.InvalidArch)):
        evit.search.SearchResult.from_json(json.dumps(bad))


def test_stubs_declare_the_search_api():
    import ast
    stub = Path(evit.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    block = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "search")
    declared = {n.name for n in block.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    public = {n for n in dir(evit.search) if not n.startswith("_")}
    assert public == declared
    for cls in block.body:
        if isinstance(cls, ast.ClassDef):
            members = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)} | {
                n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)}
            real = {n for n in dir(getattr(evit.search, cls.name)) if not n.startswith("_")}
            assert real == members - {"__init__"}, cls.name


def test_nsga2_front_determinism_and_resume():
    objs = [evit.search.maximize(numpy_score, name="proxy"),
            evit.search.minimize(evit.cost.macs(S))]
    cons = evit.search.at_most(evit.cost.macs(S), 500e6)
    r = evit.search.nsga2(S, objs, cons, small_nsga2(), seed=3)
    assert r.ok and r.algorithm == "nsga2" and r.senses == ["maximize", "minimize"]
    assert r.objective_names == ["proxy", "macs"]
    front = r.ranked
    assert front == r.front() and r.best == front[0]
    assert [e.value for e in front] == sorted((e.value for e in front), reverse=True)
    for x in front:
        assert x.feasible and x.values[1] == S.macs(x.arch) <= 500e6
        for y in front:
            dominates = (x.values[0] >= y.values[0] and x.values[1] <= y.values[1]
                         and x.values != y.values)
            assert not dominates
    assert len(r.history) == 5 and r.evaluations == len(r.evaluated)
    ref = [min(e.values[0] for e in r.evaluated if e.feasible) - 1.0, 600e6]
    hv = r.hypervolume(ref)
    pts = [[-e.values[0], e.values[1]] for e in front]
    assert hv > 0 and hv == evit.search.hypervolume(pts, [-ref[0], ref[1]])
    # Same seed, any threads.
    same_results(evit.search.nsga2(S, objs, cons, small_nsga2(), seed=3, threads=3), r)
    # Save after two generations, resume in a new object.
    part = evit.search.NSGA2(S, objs, cons, small_nsga2(), seed=3)
    part.step(), part.step(), part.step()
    resumed = evit.search.NSGA2(S, objs, cons, small_nsga2(), seed=0)
    resumed.restore(part.state())
    same_results(resumed.run(), r)
    # A state of another algorithm, space or shape is refused.
    evo = evit.search.Evolution(S, numpy_score, cons, small_evolution())
    with pytest.raises(evit.ParseError, match="not an evolution search state"):
        evo.restore(part.state())
    with pytest.raises(evit.ParseError, match="not JSON"):
        resumed.restore("{nope")
    other = evit.search.NSGA2(evit.spaces.mini, [evit.cost.params(evit.spaces.mini)] * 2)
    with pytest.raises(evit.ParseError, match="space"):
        other.restore(part.state())
    one = evit.search.NSGA2(S, [numpy_score], cons, small_nsga2())
    with pytest.raises(evit.ParseError, match="objectives"):
        one.restore(part.state())


def test_random_search():
    cons = evit.search.at_most(evit.cost.macs(S), 300e6)
    opts = evit.search.RandomOptions(evaluations=60, keep=7)
    r = evit.search.random(S, numpy_score, cons, opts, seed=2)
    assert r.algorithm == "random" and r.ok
    assert len(r.ranked) == 7 and len(r.evaluated) == r.evaluations == 60
    assert r.ranked == r.evaluated[:7]
    assert r.best.value == max(e.value for e in r.evaluated)
    assert len({e.arch for e in r.evaluated}) == 60
    assert all(e.costs[0] <= 300e6 for e in r.evaluated)
    same_results(evit.search.random(S, numpy_score, cons, opts, seed=2, threads=3), r)
    assert len(r.history) == 1 and r.front()[0].value == r.best.value
    assert r.hypervolume([-10.0, 400e6]) > 0


def test_search_releases_the_gil():
    """A search of C++ models lets other Python threads run meanwhile (thousands of ticks, where
    a search holding the GIL would allow none)."""
    ticks = [0]
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=ticker)
    t.start()
    try:
        while ticks[0] == 0:  # the ticker is running
            pass
        lat = evit.cost.phone_latency(S, "pixel6")
        opts = small_evolution(population=200, mutations=100, crossovers=100, iterations=10)
        before = ticks[0]
        evit.search.evolutionary(S, lat, evit.search.within(evit.cost.macs(S), 200e6, 220e6),
                                 opts)
        during = ticks[0] - before
    finally:
        stop.set()
        t.join()
    assert during > 100


def test_pareto_front_and_hypervolume_helpers():
    assert evit.search.pareto_front([[1, 2], [2, 1], [2, 2]]) == [0, 1]
    assert evit.search.hypervolume([[1, 2], [2, 1]], [3, 3]) == 3.0


# ---- phone latency -----------------------------------------------------------------------------

# docs/elasticvit.md#phone-latency-tables (tests/cost/test_latency_table.cpp), to 0.005 ms.
EXPECTED_MS = {
    "elastic_T1": [13.42, 6.82, 4.44, 6.32],
    "elastic_T2": [23.94, 11.85, 7.62, 11.73],
    "elastic_S1": [42.56, 21.10, 13.58, 20.81],
    "elastic_S2": [61.45, 30.94, 19.67, 30.06],
    "elastic_M": [78.64, 38.80, 25.02, 38.99],
    "elastic_L1": [107.04, 53.06, 34.23, 52.45],
    "elastic_L1.5": [121.42, 60.11, 38.89, 60.70],
    "elastic_L2": [136.49, 68.63, 43.86, 68.28],
    "elastic_L3": [156.93, 78.85, 50.62, 79.36],
}
PHONES = ["pixel1", "pixel4", "pixel6", "xiaomi11"]

# evit::cost::mobile_latency(device)(evit::elasticvit::released(model)) printed by C++ with
# %.17g: the Python model must give these doubles exactly.
CPP_EXACT = {
    ("pixel1", "elastic_T1"): 13.423515,
    ("pixel1", "elastic_M"): 78.636012000000008,
    ("pixel1", "elastic_L3"): 156.93307000000001,
    ("pixel4", "elastic_T1"): 6.8220809999999998,
    ("pixel4", "elastic_M"): 38.801071,
    ("pixel4", "elastic_L3"): 78.845102999999995,
    ("pixel6", "elastic_T1"): 4.4404483999999993,
    ("pixel6", "elastic_M"): 25.023260000000001,
    ("pixel6", "elastic_L3"): 50.624225000000003,
    ("xiaomi11", "elastic_T1"): 6.3228499999999999,
    ("xiaomi11", "elastic_M"): 38.993242000000002,
    ("xiaomi11", "elastic_L3"): 79.358663000000007,
}


def test_phone_devices_and_dirs():
    assert evit.cost.phone_devices() == PHONES
    assert evit.cost.phone_devices(str(LUT_DIR)) == PHONES
    assert any(Path(d) == LUT_DIR for d in evit.cost.phone_lut_dirs())


@pytest.mark.parametrize("k,device", list(enumerate(PHONES)))
def test_phone_latency_matches_the_cpp_tests(k, device):
    lat = evit.cost.phone_latency(S, device)
    assert lat.name == "latency@" + device and lat.space == S and not lat.monotone
    explicit = evit.cost.phone_latency(S, device, str(LUT_DIR))
    for model, ms in EXPECTED_MS.items():
        a = S.parse(model)
        v = lat(a)
        assert abs(v - ms[k]) <= 0.005 + 1e-9, (device, model, v)
        assert explicit(a) == v
        if (device, model) in CPP_EXACT:
            assert v == CPP_EXACT[(device, model)]


def test_phone_latency_errors():
    with pytest.raises(evit.InvalidArgument,
                       match=r'no latency table for device "pixel9".*pixel1, pixel4, pixel6, xiaomi11'):
        evit.cost.phone_latency(S, "pixel9")
    with pytest.raises(evit.InvalidArgument, match=r'"pixel9" in .*devices there: pixel1, pixel4'):
        evit.cost.phone_latency(S, "pixel9", str(LUT_DIR))
    with pytest.raises(evit.InvalidArgument, match="is not a folder"):
        evit.cost.phone_latency(S, "pixel6", "/nonexistent/folder")
    with pytest.raises(evit.InvalidArgument, match=r"not of the ElasticViT family.*allowed: official, mini"):
        evit.cost.phone_latency(evit.spaces.autoformer_t, "pixel6")
    with pytest.raises(evit.InvalidArgument):
        evit.cost.phone_latency(S, "../mobile-lut/pixel6")
    with pytest.raises(evit.InvalidArgument, match=r'has no block ".*" of space mini'):
        evit.cost.phone_latency(evit.spaces.mini, "pixel6")
    lat = evit.cost.phone_latency(S, "pixel6")
    with pytest.raises(evit.InvalidArgument, match="belongs to space"):
        lat(evit.spaces.mini.max_arch())


def test_phone_latency_env_dir_and_custom_tables(tmp_path, monkeypatch):
    shutil.copy(LUT_DIR / "pixel4.json", tmp_path / "board.json")
    lat = evit.cost.phone_latency(S, "board", str(tmp_path))
    t1 = S.parse("elastic_T1")
    assert lat(t1) == evit.cost.phone_latency(S, "pixel4")(t1)
    monkeypatch.setenv("EVIT_MOBILE_LUT_DIR", str(tmp_path))
    assert "board" in evit.cost.phone_devices() and "pixel6" in evit.cost.phone_devices()
    assert evit.cost.phone_latency(S, "board")(t1) == lat(t1)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(evit.FormatError, match="broken.json"):
        evit.cost.phone_latency(S, "broken")


def test_search_under_phone_latency():
    lat = evit.cost.phone_latency(S, "pixel6")
    r = evit.search.evolutionary(S, evit.cost.macs(S), evit.search.at_most(lat, 8.0),
                                 small_evolution(iterations=3), seed=1, threads=2)
    assert r.ok and r.constraints == ["latency@pixel6 <= 8"]
    assert r.best.costs[0] == lat(r.best.arch) <= 8.0


def test_example_runs_quickly():
    script = ROOT / "examples" / "python" / "search_phone_latency.py"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    out = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "budget" in out.stdout and "pixel" in out.stdout
