#!/usr/bin/env python3
"""Search ElasticViT's official space under a phone-latency budget, from Python.

For each budget, an evolutionary search (ElasticViT's operators, smaller numbers) looks for the
subnet with the most MACs whose latency predicted by the phone's block table (data/mobile-lut)
stays within the budget. MACs stand in for accuracy here (a *proxy*: more compute tends to mean
higher top-1); pass your own callable f(arch) -> float (e.g. top-1 on a validation loader) as the
objective for a real search.

    PYTHONPATH=build/py/python python3 examples/python/search_phone_latency.py [--device pixel6]
        [--budgets 6 10 15] [--threads 2] [--quick]
"""
import argparse
import time

import evit

RELEASED = ["elastic_T1", "elastic_T2", "elastic_S1", "elastic_S2", "elastic_M", "elastic_L1",
            "elastic_L1.5", "elastic_L2", "elastic_L3"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="pixel6",
                   help="a phone with a latency table (%s)" % ", ".join(evit.cost.phone_devices()))
    p.add_argument("--budgets", type=float, nargs="+", default=[6.0, 10.0, 15.0],
                   help="latency budgets in ms")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a few iterations only (for tests)")
    args = p.parse_args()

    space = evit.spaces.official
    latency = evit.cost.phone_latency(space, args.device)
    macs = evit.cost.macs(space)
    # ElasticViT's operators with smaller numbers (its preset: 512 / 256 / 128 + 128 / 40).
    options = evit.search.EvolutionOptions(
        "elasticvit", population=24 if args.quick else 256, parents=8 if args.quick else 64,
        mutations=12 if args.quick else 64, crossovers=12 if args.quick else 64,
        iterations=2 if args.quick else 20)
    # The released models, for comparison: the largest one within each budget.
    released = sorted(((latency(space.parse(n)), n) for n in RELEASED), reverse=True)
    objective = evit.search.maximize(macs, name="MACs (accuracy proxy)")

    print("official space, %s latency table, objective: %s" % (args.device, objective.name))
    print("%8s  %10s  %8s  %8s  %6s  %5s  %-24s  %s" % (
        "budget", "latency", "MMACs", "Mparams", "evals", "sec", "released within budget",
        "subnet found"))
    for budget in args.budgets:
        start = time.time()
        r = evit.search.evolutionary(space, objective,
                                     evit.search.at_most(latency, budget, name=args.device),
                                     options, seed=args.seed, threads=args.threads)
        took = time.time() - start
        if not r.ok:
            print("%6.1f ms  %s" % (budget, r.message))
            continue
        a = r.best.arch
        text = a.to_text()
        ref = next(("%s %.0fM" % (n, space.parse(n).macs() / 1e6)
                    for ms, n in released if ms <= budget), "-")
        print("%6.1f ms  %7.2f ms  %8.1f  %8.2f  %6d  %5.1f  %-24s  %s" % (
            budget, r.best.costs[0], a.macs() / 1e6, a.params() / 1e6, r.evaluations, took, ref,
            text if len(text) <= 48 else text[:45] + "..."))


if __name__ == "__main__":
    main()
