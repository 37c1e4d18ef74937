"""Determinism: every rank of a distributed job (here: separate OS processes) draws the same
subnets at the same step with the same seed, and a sampler driven from Python draws what the same
sampler draws in C++ (examples/sampler_trace)."""
import csv
import json
import os
import subprocess
import sys
import textwrap

import pytest

import evit

CI = os.environ.get("CI") == "true"

# One rank's work: 200 steps of a complexity-aware and a performance-aware sampler (with reports
# of scores that every rank computes alike), printed as JSON.
RANK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import evit

    def score(arch):
        return -(arch.hash64() % 1000) / 100.0

    def run(seed, steps):
        space = evit.spaces.official
        ca = evit.ComplexityAwareSampler(space, seed=seed)
        pa = evit.PerformanceAwareSampler(space, capacity=(8, 8, 0.0), seed=seed)
        out = {"ca": [], "pa": []}
        for step in range(steps):
            out["ca"].append([ca.level(), ca.next().to_text()])
            pa.set_epoch(step // 50)
            for d in pa.sandwich_step(2):
                out["pa"].append([d.level, d.origin, d.arch.to_text()])
                pa.report(d, score(d.arch))
            if step % 40 == 39:
                pa.rescore_all(score)
        out["state"] = pa.state()
        return out

    if __name__ == "__main__":
        print(json.dumps(run(int(sys.argv[1]), int(sys.argv[2]))))
    """
)


def python_env():
    """The environment of a child process that imports the same evit as this one."""
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(evit.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in sys.path if p])
    return env


def test_two_processes_draw_the_same_subnets(tmp_path):
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    # Two ranks at once, as a launcher starts them, plus one with another seed.
    procs = [
        subprocess.Popen([sys.executable, str(script), str(seed), "200"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=python_env(), text=True)
        for seed in (17, 17, 18)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    rank0, rank1, other = results
    assert len(rank0["ca"]) == 200 and len(rank0["pa"]) == 600
    assert rank0 == rank1
    assert rank0["ca"] != other["ca"]
    # This process agrees too (the module is deterministic, not merely each process).
    namespace = {}
    exec(compile(RANK_SCRIPT, "rank.py", "exec"), namespace)
    assert namespace["run"](17, 60)["ca"] == rank0["ca"][:60]
    # The exploit branch was taken, so the banks (and the reports) shaped the sequence.
    assert any(origin == "exploited" for _, origin, _ in rank0["pa"])


def sampler_trace_binary():
    build = os.environ.get("EVIT_BUILD_DIR")
    path = os.path.join(build, "examples", "sampler_trace") if build else None
    if path and os.access(path, os.X_OK):
        return path
    reason = ("examples/sampler_trace not found (set EVIT_BUILD_DIR to a build with "
              "-DEVIT_BUILD_EXAMPLES=ON; looked for %s)" % path)
    if CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.mark.parametrize("walk", ["adjacent_step", "random", "adjacent", "cyclic"])
@pytest.mark.parametrize("seed", [0, 7, 4242])
def test_same_sequence_as_cpp(tmp_path, walk, seed):
    binary = sampler_trace_binary()
    steps = 80
    out = tmp_path / "trace.csv"
    subprocess.run([binary, "--steps", str(steps), "--seed", str(seed), "--walk", walk,
                    "--csv", str(out)], check=True, capture_output=True, timeout=300)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * steps
    space = evit.spaces.official
    # sampler_trace: the official levels and window, MACs, the given walk and seed; its uniform
    # sampler has its own engine with the same seed.
    ca = evit.ComplexityAwareSampler(space, walk=walk, seed=seed)
    uniform = evit.UniformSampler(space, seed=seed)
    for step in range(steps):
        u_row, c_row = rows[2 * step], rows[2 * step + 1]
        assert (u_row["step"], u_row["sampler"]) == (str(step), "uniform")
        assert (c_row["step"], c_row["sampler"]) == (str(step), "complexity_aware")
        u = uniform.next()
        assert u.to_text() == u_row["arch"]
        assert ca.level_of(u.macs()) == int(u_row["level"])
        c = ca.next()
        assert c.to_text() == c_row["arch"], "step %d differs" % step
        assert ca.level() == int(c_row["level"])
        assert c.macs() / 1e6 == pytest.approx(float(c_row["mmacs"]), rel=1e-5)


# A torch.distributed (gloo) job of two ranks: every step the ranks compare their subnets, and
# each reports the all-reduced score of its draws (each rank's own loss differs: a rank that
# reported its local loss would fill its banks differently and diverge).
GLOO_SCRIPT = textwrap.dedent(
    """
    import datetime, json, sys
    import torch
    import torch.distributed as dist
    import evit

    rank, port = int(sys.argv[1]), sys.argv[2]
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:" + port, rank=rank,
                            world_size=2, timeout=datetime.timedelta(seconds=60))
    pa = evit.PerformanceAwareSampler(evit.spaces.official, capacity=(8, 8, 0.0), seed=5)
    same = True
    for step in range(60):
        draws = pa.sandwich_step(2)
        texts = [d.arch.to_text() for d in draws]
        gathered = [None, None]
        dist.all_gather_object(gathered, texts)
        same = same and gathered[0] == gathered[1]
        local = torch.tensor([-(d.arch.hash64() % 997) / 100.0 - rank for d in draws],
                             dtype=torch.float64)
        dist.all_reduce(local)
        for d, s in zip(draws, (local / 2).tolist()):
            pa.report(d, s)
    dist.destroy_process_group()
    print(json.dumps({"same": same, "state": pa.state()}))
    """
)


def test_torch_distributed_ranks_draw_the_same_subnets(tmp_path):
    try:
        import torch.distributed as dist
    except ImportError:
        pytest.skip("PyTorch is not installed")
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed without gloo")
    import socket

    with socket.socket() as s:  # a free port (released just before the ranks bind it)
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    script = tmp_path / "gloo_rank.py"
    script.write_text(GLOO_SCRIPT)
    procs = [subprocess.Popen([sys.executable, str(script), str(rank), port],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=python_env(),
                              text=True) for rank in (0, 1)]
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert results[0]["same"] and results[1]["same"]
    assert results[0]["state"] == results[1]["state"]
    assert any(b["entries"] for b in json.loads(results[0]["state"])["banks"])
