"""examples/python/sample_training.py runs, for a few steps, with each sampler (it checks itself
that the resumed sampler continues the saved sequence)."""
import os
import subprocess
import sys

import pytest

import evit

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python",
                      "sample_training.py")


def require_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("PyTorch is missing (CI=true: it must be installed)")
        pytest.skip("PyTorch is not installed")


@pytest.mark.parametrize("sampler", ["sandwich", "complexity", "performance"])
def test_sample_training_runs(tmp_path, sampler):
    require_torch()
    state = tmp_path / "state.json"
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(evit.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in sys.path if p])
    r = subprocess.run([sys.executable, SCRIPT, "--sampler", sampler, "--steps", "8",
                        "--steps-per-epoch", "3", "--state", str(state)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resumed" in r.stdout and "done in" in r.stdout
    assert state.exists() and state.read_text().startswith("{")
