#!/usr/bin/env python3
"""Supernet training with evit's samplers, on a toy: an elastic MLP whose hidden widths and depths
are sliced from each drawn subnet of evit.spaces.mini (its transformer stages' widths and depths),
trained on synthetic data (a fixed random teacher's labels).

Each step trains the subnets one sampler rule gives (--sampler):
  sandwich     the largest, the smallest and 2 uniform subnets (BigNAS, AttentiveNAS)
  complexity   ElasticViT's complexity-aware step: 3 subnets of the step's MACs level, then the
               level's smallest
  performance  the same with memory banks: every trained subnet's score (minus its loss) is
               reported, the banks are re-scored at each epoch, and good subnets are re-drawn
Halfway through, the sampler's state is saved to a file and a fresh sampler resumes from it (as a
restarted job would); the run checks that the resumed sampler continues exactly the same sequence.

  PYTHONPATH=build/py/python python3 examples/python/sample_training.py --sampler performance
"""
import argparse
import json
import os
import pickle
import tempfile
import time

import torch
import torch.nn.functional as F

import evit

SPACE = evit.spaces.mini
IN_DIM, CLASSES = 24, 10


class ElasticMLP(torch.nn.Module):
    """One residual block of Linear layers per transformer stage of the space, as wide and deep as
    the stage's largest choice; a subnet uses the first `width` features and `depth` blocks."""

    def __init__(self, space):
        super().__init__()
        self.stages = [s for s in space.stages if s["kind"] == "transformer_stage"]
        widths = [max(s["width"]) for s in self.stages]
        self.inp = torch.nn.Linear(IN_DIM, widths[0])
        self.proj = torch.nn.ModuleList(
            torch.nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.blocks = torch.nn.ModuleList(
            torch.nn.ModuleList(torch.nn.Linear(w, w) for _ in range(max(s["depth"])))
            for s, w in zip(self.stages, widths))
        self.head = torch.nn.Linear(widths[-1], CLASSES)

    @staticmethod
    def sliced(layer, x, out_features):
        return F.linear(x, layer.weight[:out_features, : x.shape[1]], layer.bias[:out_features])

    def forward(self, x, arch):
        dims = {s["name"]: (s["width"], s["depth"]) for s in arch.stages}
        h = None
        for i, stage in enumerate(self.stages):
            width, depth = dims[stage["name"]]
            h = self.sliced(self.inp, x, width) if i == 0 else F.relu(
                self.sliced(self.proj[i - 1], h, width))
            for block in self.blocks[i][:depth]:
                h = h + F.relu(self.sliced(block, h, width))
        return self.sliced(self.head, h, CLASSES)


def make_sampler(kind, seed):
    """The sampler of --sampler; levels spread over the mini space's MACs range (the official
    levels, 100 to 1200 MMACs, are far above it)."""
    if kind == "sandwich":
        return evit.SandwichSampler(SPACE, k=2, seed=seed)
    lo, hi = SPACE.macs(SPACE.min_arch()), SPACE.macs(SPACE.max_arch())
    step = (hi - lo) / 5
    levels = [lo + step * (i + 0.5) for i in range(4)]
    common = dict(levels=levels, window=step / 2, seed=seed)
    if kind == "complexity":
        return evit.ComplexityAwareSampler(SPACE, **common)
    # Small banks, so that exploiting starts within a short run.
    return evit.PerformanceAwareSampler(SPACE, capacity=(8, 8, 0.0),
                                        exploit_schedule=(0.3, 0.2, 2), **common)


def subnets_of_step(sampler):
    """This step's subnets, each with the draw to report (None: nothing to report)."""
    if isinstance(sampler, evit.SandwichSampler):
        return [(a, None) for a in sampler.sandwich_step()]
    if isinstance(sampler, evit.ComplexityAwareSampler):
        return [(a, None) for a in sampler.sandwich_step(3)]
    return [(d.arch, d if d.origin != "smallest" else None) for d in sampler.sandwich_step(3)]


def copy_of(sampler):
    """A copy at the same position (a sampler pickles as its options and its state)."""
    return pickle.loads(pickle.dumps(sampler))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sampler", choices=["sandwich", "complexity", "performance"],
                        default="performance")
    parser.add_argument("--steps", type=int, default=60, help="training steps")
    parser.add_argument("--steps-per-epoch", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--state", help="where to save the sampler's state halfway "
                        "(default: a temporary file)")
    args = parser.parse_args()
    if args.steps < 1 or args.steps_per_epoch < 1:
        parser.error("--steps and --steps-per-epoch must be >= 1")
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    start = time.time()

    teacher = torch.nn.Linear(IN_DIM, CLASSES)
    x_all = torch.randn(2048, IN_DIM)
    y_all = teacher(x_all).argmax(dim=1).detach()
    model = ElasticMLP(SPACE)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sampler = make_sampler(args.sampler, args.seed)
    pa = isinstance(sampler, evit.PerformanceAwareSampler)
    print("sampler:", sampler)

    def loss_on(arch, x, y):
        return F.cross_entropy(model(x, arch), y)

    state_file = args.state or os.path.join(tempfile.mkdtemp(), "sampler_state.json")
    for step in range(args.steps):
        epoch, in_epoch = divmod(step, args.steps_per_epoch)
        idx = torch.randint(0, len(x_all), (128,))
        x, y = x_all[idx], y_all[idx]
        if pa and in_epoch == 0:  # official: banks re-scored on each epoch's first batch
            sampler.set_epoch(epoch)
            with torch.no_grad():
                sampler.rescore_all(lambda a: -loss_on(a, x, y).item())
        if step == args.steps // 2:  # save, then resume from the file with a fresh sampler
            # (a real job saves the model and optimizer state_dicts next to it, with torch.save)
            with open(state_file, "w") as f:
                f.write(sampler.state())
            expected = [a.to_text() for a, _ in subnets_of_step(copy_of(sampler))]
            sampler = make_sampler(args.sampler, seed=12345)  # the state, not the seed, counts
            with open(state_file) as f:
                sampler.load_state(f.read())
            resumed = copy_of(sampler)
            assert [a.to_text() for a, _ in subnets_of_step(resumed)] == expected
            print("step %d: sampler state saved to %s and resumed (%d bytes)"
                  % (step, state_file, os.path.getsize(state_file)))
        opt.zero_grad()
        losses = []
        for arch, draw in subnets_of_step(sampler):
            loss = loss_on(arch, x, y)
            loss.backward()  # gradients of the step's subnets add up (sandwich rule)
            losses.append(loss.item())
            if draw is not None:
                sampler.report(draw, -loss.item())
        opt.step()
        if step % 10 == 0 or step == args.steps - 1:
            print("step %3d  losses %s" % (step, " ".join("%.3f" % v for v in losses)))

    with torch.no_grad():
        for name, arch in (("largest", SPACE.max_arch()), ("smallest", SPACE.min_arch())):
            acc = (model(x_all, arch).argmax(dim=1) == y_all).float().mean().item()
            print("%-8s subnet: loss %.3f, accuracy %.2f" % (name, loss_on(arch, x_all, y_all)
                                                            .item(), acc))
    if pa:
        sizes = [len(b) for b in sampler.banks()]
        print("bank sizes per level:", sizes, "stats:", json.dumps(sampler.stats()))
    print("done in %.1f s" % (time.time() - start))


if __name__ == "__main__":
    main()
