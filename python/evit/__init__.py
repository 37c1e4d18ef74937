"""evit: elastic transformer subnets from Python.

The search spaces of ElasticViT and AutoFormer (evit.spaces), their subnets (evit.Arch), cost
models (evit.cost, evit.CostModel), the samplers of supernet training (uniform, sandwich,
best-of-k, complexity-aware, performance-aware), the searches (evolutionary, NSGA-II, random) and
the supernet runtime (evit.Supernet), all running evit's C++ headers underneath.

    import evit
    space = evit.spaces.official
    print(space.cardinality())          # 21672453419827200
    a = space.sample(evit.Rng(7))
    print(a, space.macs(a) / 1e6, "MMACs")

Every error evit raises is an evit.Error subclass carrying the C++ message: evit.InvalidArch,
evit.ParseError, evit.FormatError, evit.Infeasible, evit.InvalidArgument.
"""
from ._core import *  # noqa: F401,F403  (the compiled module: classes and functions)
from ._core import __version__, cost, spaces  # noqa: F401
