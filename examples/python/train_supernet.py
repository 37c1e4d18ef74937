#!/usr/bin/env python3
"""Trains the ElasticViT supernet of evit.spaces.fashion on Fashion-MNIST (CPU, PyTorch) with one of
evit's samplers, following the official recipe (docs/elasticvit.md) where it applies.

Each step (--sampler):
  uniform   one uniform subnet, trained on the labels (single-path baseline, no sandwich)
  sandwich  SandwichSampler: the largest on the labels, then the smallest and --k uniform subnets
            by in-place distillation from the largest's soft outputs
  ca        ComplexityAwareSampler: the largest on the labels, then sandwich_step(--k): --k
            subnets of the step's MACs level and the level's smallest, distilled from the largest
  ca+pa     PerformanceAwareSampler: as ca, with memory banks; every explored/exploited draw is
            reported with its score (minus its cross-entropy on the step's batch, averaged over
            the ranks); set_epoch at each epoch; the banks re-scored at each epoch's first batch
The gradients of the step's subnets add up; one AdamW step (linear warm-up, cosine decay).
--alone ARCH (arch text, 'smallest' or 'largest') trains that one subnet on the labels every step
instead, no sampler: the fixed-size baseline "the same family trained alone at one size".

Levels: the fashion space spans 2.66..32.9 MMACs (official count; the official 100..1200 MMAC
levels do not apply). The default levels are 4, 8, 13, 19 and 26 MMACs, each with the window
[L, L + 3 MMACs] (--window; the official window is [L, L + 20]); --levels overrides them. Uniform
sampling puts its median at 11.7 MMACs and 95% of subnets below 17.7, and its mass in these
windows is about 4%, 31%, 23%, 1.7% and ~0%: the levels spread training over the whole range,
the largest subnets included, as the official levels do. Every window holds subnets (the
complexity-aware sampler draws in each; python/tests/test_train_smoke.py checks it).

Checkpoints (--out DIR, every --ckpt-every steps and at the end): DIR/supernet.safetensors (the
official tensor names, evit.Supernet.load reads it), DIR/train_state.pt (optimizer, step), and
DIR/sampler.json (the sampler's state); --resume continues exactly where the checkpoint stopped.
Evaluation (--eval, at the end): BatchNorm recalibration (cumulative statistics over
--calib-batches training batches) then top-1 on the test split for the smallest, the largest and
--eval-random random subnets; --evit-check runs the same through evit (Supernet.load,
recalibrate, forward) and prints both top-1s.

Distributed (--distributed): torch.distributed with gloo on 127.0.0.1; --world N spawns N
processes (or, with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT in the environment, each process is
one rank). Each rank reads its shard of every batch; all ranks draw the same subnets (same sampler
seed, same all-reduced scores); gradients are all-reduced (mean).

  PYTHONPATH=build/py/python /usr/bin/python3 examples/python/train_supernet.py \\
      --sampler ca+pa --steps 600 --batch 64 --threads 2 --out /tmp/run --eval --evit-check
"""
import argparse
import ctypes
import gzip
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evit  # noqa: E402
from elastic_supernet import ElasticSupernet, save_safetensors  # noqa: E402

SPACE = evit.spaces.fashion
DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training pixels
# The default levels (MMACs, official count) and window: inside the fashion space's 2.7..33 MMACs,
# each window [L, L + 3] checked to hold subnets (python/tests/test_train_smoke.py).
DEFAULT_LEVELS = (4.0, 8.0, 13.0, 19.0, 26.0)
DEFAULT_WINDOW = 3.0
BN_MOMENTUM = 0.1  # ElasticSupernet's default
HOLDOUT_SEED = 20240  # the --holdout validation draw: fixed, so every run holds out the same


# ---- data ----------------------------------------------------------------------------------------

def read_idx(path):
    """An IDX file (gzip) as a numpy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()


def dataset_available(data_dir=DATA_DIR):
    return all(os.path.exists(os.path.join(data_dir, "%s-%s-ubyte.gz" % (s, k)))
               for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1"))


def load_split(split, data_dir=DATA_DIR):
    """(images uint8 [N, 28, 28], labels int64 [N]) of 'train' or 't10k'."""
    x = read_idx(os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % split))
    y = read_idx(os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % split))
    return x, y.astype(np.int64)


def to_input(images):
    """uint8 [B, 28, 28] -> float [B, 3, 28, 28], normalised, grey as 3 equal channels."""
    x = (torch.from_numpy(np.ascontiguousarray(images)).float() / 255.0 - MEAN) / STD
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def holdout_split(n, holdout):
    """(training indices, validation indices) of n training images: a fixed draw of `holdout`
    images (the same in every run: HOLDOUT_SEED) kept out of training, e.g. for a search's
    objective; both sorted."""
    perm = np.random.default_rng(HOLDOUT_SEED).permutation(n)
    return np.sort(perm[holdout:]), np.sort(perm[:holdout])


def batch_indices(n, batch, seed, step, rank=0, world=1):
    """This rank's indices of the global batch of `step`: a fixed permutation per epoch (seeded by
    seed and epoch), global batches of batch x world images, rank r takes every world-th one. A
    function of the step alone, so a resumed run reads the same batches."""
    per_epoch = n // (batch * world)
    epoch, i = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    g = perm[i * batch * world:(i + 1) * batch * world]
    return g[rank::world]


# ---- samplers ------------------------------------------------------------------------------------

def make_sampler(kind, seed, levels=DEFAULT_LEVELS, window=DEFAULT_WINDOW, bank=16, k=3,
                 exploit=(0.2, 0.15, 2)):
    if kind == "uniform":
        return evit.UniformSampler(SPACE, seed=seed)
    if kind == "sandwich":
        return evit.SandwichSampler(SPACE, k=k, seed=seed)
    common = dict(levels_mmacs=list(levels), window_mmacs=window, seed=seed)
    if kind == "ca":
        return evit.ComplexityAwareSampler(SPACE, **common)
    if kind == "ca+pa":
        return evit.PerformanceAwareSampler(SPACE, capacity=(bank, bank, 0.0),
                                            exploit_schedule=tuple(exploit), **common)
    raise ValueError("unknown sampler %r" % kind)


def subnets_of_step(sampler, k):
    """[(arch, draw to report or None, trained on labels?)] of this step."""
    if isinstance(sampler, evit.UniformSampler):
        return [(sampler.next(), None, True)]
    if isinstance(sampler, evit.SandwichSampler):
        archs = sampler.sandwich_step()  # largest, smallest, k uniform
        return [(archs[0], None, True)] + [(a, None, False) for a in archs[1:]]
    out = [(SPACE.max_arch(), None, True)]
    if isinstance(sampler, evit.ComplexityAwareSampler):
        return out + [(a, None, False) for a in sampler.sandwich_step(k)]
    return out + [(d.arch, d if d.origin != "smallest" else None, False)
                  for d in sampler.sandwich_step(k)]


# ---- threads -------------------------------------------------------------------------------------

def set_threads(n):
    """n threads for torch and for the BLAS under it. Debian's torch calls a pthreads OpenBLAS,
    which torch.set_num_threads does not reach: without this it starts a thread per core (unless
    OPENBLAS_NUM_THREADS or OMP_NUM_THREADS says otherwise), and two 1-thread runs on a 2-core
    machine would contend."""
    torch.set_num_threads(n)
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
    except (OSError, AttributeError):  # another BLAS: torch.set_num_threads is enough
        pass


# ---- distributed ---------------------------------------------------------------------------------

class Dist:
    def __init__(self, rank=0, world=1):
        self.rank, self.world = rank, world

    def allreduce_mean(self, t):
        if self.world > 1:
            torch.distributed.all_reduce(t)
            t /= self.world
        return t

    def grads(self, model):
        if self.world == 1:
            return
        params = [p for p in model.parameters() if p.grad is not None]
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        self.allreduce_mean(flat)
        o = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[o:o + n].view_as(p.grad))
            o += n

    def buffers(self, model):
        """Averages the BatchNorm running statistics (each rank saw its own shard)."""
        if self.world == 1:
            return
        for b in model.buffers():
            if b.dtype.is_floating_point:
                self.allreduce_mean(b.data)


def weights_digest(model):
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


# ---- checkpoints ---------------------------------------------------------------------------------

def save_checkpoint(out, model, opt, sampler, step, args):
    os.makedirs(out, exist_ok=True)
    meta = {"space": SPACE.name, "step": step, "sampler": args.sampler}
    tmp = os.path.join(out, ".tmp")
    os.makedirs(tmp, exist_ok=True)
    model.save_safetensors(os.path.join(tmp, "supernet.safetensors"), metadata=meta)
    torch.save({"optimizer": opt.state_dict(), "step": step, "args": vars(args)},
               os.path.join(tmp, "train_state.pt"))
    with open(os.path.join(tmp, "sampler.json"), "w") as f:
        f.write(sampler.state())
    for name in ("supernet.safetensors", "train_state.pt", "sampler.json"):
        os.replace(os.path.join(tmp, name), os.path.join(out, name))
    os.rmdir(tmp)


def load_checkpoint(out, model, opt, sampler, args):
    model.load_safetensors(os.path.join(out, "supernet.safetensors"))
    st = torch.load(os.path.join(out, "train_state.pt"))
    saved = st.get("args", {})
    for key in ("sampler", "seed", "batch", "levels_list", "window", "k", "bank", "holdout"):
        if key in saved and saved[key] != getattr(args, key):
            raise SystemExit("--resume: the checkpoint was trained with --%s %s, not %s"
                             % (key, saved[key], getattr(args, key)))
    opt.load_state_dict(st["optimizer"])
    with open(os.path.join(out, "sampler.json")) as f:
        sampler.load_state(f.read())
    return st["step"]


# ---- evaluation ----------------------------------------------------------------------------------

def resized(x, arch):
    r = arch.resolution
    if x.shape[-1] == r:
        return x
    return F.interpolate(x, size=(r, r), mode="bicubic", align_corners=False)


def calibration_batches(train_x, n_batches, batch, seed):
    rng = np.random.default_rng([seed, 99])
    return [to_input(train_x[rng.choice(len(train_x), batch, replace=False)])
            for _ in range(n_batches)]


@torch.no_grad()
def top1_recalibrated(model, arch, calib, test_x, test_y, eval_batch=500):
    """Top-1 of `arch` on the test images after recalibrating its BatchNorm statistics (reset,
    cumulative average over the calibration batches in training mode); the supernet's running
    statistics are restored afterwards."""
    saved = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    momentum = model.bn_momentum
    model.reset_bn_statistics()
    model.bn_momentum = None
    model.train()
    for b in calib:
        model(b, arch)
    model.eval()
    correct = 0
    for i in range(0, len(test_x), eval_batch):
        logits = model(to_input(test_x[i:i + eval_batch]), arch)
        correct += int((logits.argmax(1) == torch.from_numpy(test_y[i:i + eval_batch])).sum())
    model.bn_momentum = momentum
    model.load_state_dict(saved, strict=False)
    model.train()
    return correct / len(test_x)


def top1_evit(path, arch, calib, test_x, test_y, threads=1, eval_batch=250):
    """The same through evit: Supernet.load, recalibrate, forward with the override."""
    net = evit.Supernet.load(path, SPACE, threads=threads)
    override = net.recalibrate(arch, [resized(b, arch).numpy() for b in calib])
    correct = 0
    for i in range(0, len(test_x), eval_batch):
        x = resized(to_input(test_x[i:i + eval_batch]), arch).numpy()
        logits = net.forward(arch, x, bn=override)
        correct += int((np.asarray(logits).argmax(1) == test_y[i:i + eval_batch]).sum())
    return correct / len(test_x)


def eval_archs(n_random, seed):
    rng = evit.Rng(seed + 1000)
    archs = [("smallest", SPACE.min_arch()), ("largest", SPACE.max_arch())]
    archs += [("random%d" % i, SPACE.sample(rng)) for i in range(n_random)]
    return archs


def evaluate(model, args, train_x, log):
    test_x, test_y = load_split("t10k", args.data)
    if args.eval_n:
        test_x, test_y = test_x[:args.eval_n], test_y[:args.eval_n]
    calib = calibration_batches(train_x, args.calib_batches, args.calib_batch, args.seed)
    results = []
    path = os.path.join(args.out, "supernet.safetensors") if args.out else None
    archs = [("alone", args.alone_arch)] if args.alone_arch else eval_archs(args.eval_random,
                                                                             args.seed)
    for name, arch in archs:
        t0 = time.time()
        acc = top1_recalibrated(model, arch, calib, test_x, test_y)
        r = {"name": name, "arch": arch.to_text(), "mmacs": arch.macs() / 1e6, "top1": acc}
        msg = "eval %-8s %6.2f MMACs  top-1 %.4f" % (name, r["mmacs"], acc)
        if args.evit_check and path:
            r["top1_evit"] = top1_evit(path, arch, calib, test_x, test_y, args.threads)
            msg += "  evit %.4f" % r["top1_evit"]
        log(msg + "  (%.1f s, %d test images)" % (time.time() - t0, len(test_x)))
        results.append(r)
    return results


# ---- training ------------------------------------------------------------------------------------

def lr_at(step, total, base, warmup):
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sampler", choices=["uniform", "sandwich", "ca", "ca+pa"], default="ca+pa")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: --epochs)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="sampler epochs (set_epoch, rescore) every this many steps (default: one "
                   "pass over the data)")
    p.add_argument("--batch", type=int, default=64, help="images per rank per step")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--wd", type=float, default=0.05)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--holdout", type=int, default=0,
                   help="keep this many training images (a fixed draw, holdout_split) out of "
                   "training: a validation split")
    p.add_argument("--k", type=int, default=3, help="in-level (or uniform) subnets per step")
    p.add_argument("--levels", default=None,
                   help="comma-separated MMAC levels (default %s)"
                   % ",".join("%g" % v for v in DEFAULT_LEVELS))
    p.add_argument("--window", type=float, default=DEFAULT_WINDOW, help="level window, MMACs")
    p.add_argument("--bank", type=int, default=16, help="PA memory bank capacity per level")
    p.add_argument("--exploit", default="0.2,0.15,2",
                   help="PA exploit schedule: initial, increment, period (epochs)")
    p.add_argument("--rescore", type=int, default=1,
                   help="PA: re-score the banks every this many epochs (0: never)")
    p.add_argument("--kd-temp", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="checkpoint directory")
    p.add_argument("--ckpt-every", type=int, default=100)
    p.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    p.add_argument("--stop-at", type=int, default=None,
                   help="stop (and checkpoint) after this step, the schedule still of --steps")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--data", default=DATA_DIR)
    p.add_argument("--eval", action="store_true", help="evaluate at the end")
    p.add_argument("--eval-n", type=int, default=0, help="test images (0: all 10000)")
    p.add_argument("--eval-random", type=int, default=2)
    p.add_argument("--calib-batches", type=int, default=8)
    p.add_argument("--calib-batch", type=int, default=96)
    p.add_argument("--alone", metavar="ARCH", default=None,
                   help="the baseline: train only this subnet (arch text, 'smallest' or "
                   "'largest') on the labels every step, no sampler; --eval scores it alone")
    p.add_argument("--evit-check", action="store_true",
                   help="also evaluate through evit (needs --out)")
    p.add_argument("--export-val", default=None, metavar="FILE",
                   help="write a labelled set for evit's search (search_subnet --space fashion "
                   "--val FILE): the --holdout images, else the first test images; no training")
    p.add_argument("--export-val-n", type=int, default=2000,
                   help="images in --export-val (the search recalibrates on the first half)")
    p.add_argument("--export-val-format", choices=("u8", "f32"), default="u8",
                   help="u8: the pixels with the normalisation in the metadata (a quarter of "
                        "the size); f32: the normalised network inputs")
    p.add_argument("--distributed", action="store_true")
    p.add_argument("--world", type=int, default=2, help="processes to spawn with --distributed")
    p.add_argument("--port", type=int, default=29533)
    p.add_argument("--trace", default=None,
                   help="write each step's subnet hashes and the final weights digest here "
                   "(JSON; with {rank} in the name, one file per rank)")
    args = p.parse_args(argv)
    if args.levels:
        args.levels_list = [float(v) for v in args.levels.split(",")]
    else:
        args.levels_list = list(DEFAULT_LEVELS)
    args.exploit_tuple = tuple(float(v) for v in args.exploit.split(","))
    args.exploit_tuple = (args.exploit_tuple[0], args.exploit_tuple[1], int(args.exploit_tuple[2]))
    if args.resume and not args.out:
        p.error("--resume needs --out")
    args.alone_arch = None
    if args.alone in ("smallest", "largest"):
        args.alone_arch = SPACE.min_arch() if args.alone == "smallest" else SPACE.max_arch()
    elif args.alone:
        try:
            args.alone_arch = SPACE.parse(args.alone)
        except evit.Error as e:  # evit's errors name the stage, value and what is allowed
            p.error("--alone: %s" % e)
    return args


def train(args, rank=0, world=1):
    """Trains; returns a dict of results (losses per step, eval, digest...)."""
    set_threads(args.threads)
    torch.manual_seed(args.seed)
    dist = Dist(rank, world)

    def log(msg):
        if rank == 0:
            print(msg, flush=True)

    train_x, train_y = load_split("train", args.data)
    if args.holdout:
        keep, _ = holdout_split(len(train_x), args.holdout)
        train_x, train_y = train_x[keep], train_y[keep]
    per_epoch_data = len(train_x) // (args.batch * world)
    total = args.steps if args.steps is not None else int(args.epochs * per_epoch_data)
    steps_per_epoch = args.steps_per_epoch or per_epoch_data
    model = ElasticSupernet(SPACE)
    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    sampler = make_sampler(args.sampler, args.seed, args.levels_list, args.window, args.bank,
                           args.k, args.exploit_tuple)
    pa = isinstance(sampler, evit.PerformanceAwareSampler) and not args.alone_arch
    start = 0
    if args.resume and os.path.exists(os.path.join(args.out, "train_state.pt")):
        start = load_checkpoint(args.out, model, opt, sampler, args)
        log("resumed from %s at step %d" % (args.out, start))
    trains = ("alone: %s" % args.alone_arch.to_text()) if args.alone_arch else "sampler %s" % sampler
    log("%s, %d steps (%d per epoch), batch %d x %d ranks, %d threads, %.2f M params"
        % (trains, total, steps_per_epoch, args.batch, world, args.threads,
           sum(p.numel() for p in model.parameters()) / 1e6))
    model.train()
    trace, history = [], []
    t0, t_last, s_last = time.time(), time.time(), start
    cpu0 = time.process_time()  # this process's CPU time: steady where the machine is shared
    stop = min(total, args.stop_at) if args.stop_at else total
    for step in range(start, stop):
        idx = batch_indices(len(train_x), args.batch, args.seed, step, rank, world)
        x, y = to_input(train_x[idx]), torch.from_numpy(train_y[idx])
        epoch, in_epoch = divmod(step, steps_per_epoch)
        if pa and in_epoch == 0:
            sampler.set_epoch(epoch)
            if args.rescore and epoch % args.rescore == 0 and epoch > 0:
                # Scored as the reports are (training-mode BatchNorm on the batch), without
                # touching the running statistics (momentum 0 leaves them as they are).
                model.bn_momentum = 0.0

                def score(a):
                    with torch.no_grad():
                        ce = F.cross_entropy(model(x, a), y).reshape(1)
                    return -float(dist.allreduce_mean(ce))
                sampler.rescore_all(score)
                model.bn_momentum = BN_MOMENTUM
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, args.lr, args.warmup)
        opt.zero_grad(set_to_none=True)
        subnets = ([(args.alone_arch, None, True)] if args.alone_arch
                   else subnets_of_step(sampler, args.k))
        teacher = None
        losses, reports = [], []
        for arch, draw, on_labels in subnets:
            logits = model(x, arch)
            if on_labels:
                loss = F.cross_entropy(logits, y)
                if args.sampler != "uniform":
                    teacher = F.softmax(logits.detach() / args.kd_temp, dim=1)
            else:  # in-place distillation from the largest's soft outputs
                T = args.kd_temp
                loss = F.kl_div(F.log_softmax(logits / T, dim=1), teacher,
                                reduction="batchmean") * T * T
            loss.backward()
            losses.append(loss.detach())
            if draw is not None:
                reports.append((draw, F.cross_entropy(logits.detach(), y).reshape(1)))
        dist.grads(model)
        if args.clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        if reports:  # the score: minus the cross-entropy on the step's batch, over all ranks
            ces = dist.allreduce_mean(torch.cat([c for _, c in reports]))
            for (draw, _), ce in zip(reports, ces.tolist()):
                sampler.report(draw, -ce)
        lv = dist.allreduce_mean(torch.stack(losses))
        history.append(lv.tolist())
        if args.trace:
            trace.append([a.hash64() for a, _, _ in subnets])
        done = step + 1
        if done % args.log_every == 0 or done == stop:
            now = time.time()
            sps = (done - s_last) / max(1e-9, now - t_last)
            t_last, s_last = now, done
            extra = ""
            if pa:
                st = sampler.stats()
                extra = "  banks %s" % [len(b) for b in sampler.banks()]
                extra += " exploited %d" % st.get("exploited", 0)
            # kd: the distilled subnets' mean loss; uniform trains one subnet, nothing distilled.
            kd = ("%.4f" % float(np.mean(history[-1][1:]))) if len(history[-1]) > 1 else "-"
            ce = "ce(largest)" if args.sampler != "uniform" and not args.alone_arch else "ce"
            log("step %d/%d  ep %d  lr %.2e  %s %.4f  kd %s  %.2f step/s  ETA %.0f s%s"
                % (done, total, epoch, opt.param_groups[0]["lr"], ce, history[-1][0], kd,
                   sps, (total - done) / max(sps, 1e-9), extra))
        if args.out and (done % args.ckpt_every == 0 or done == stop):
            dist.buffers(model)
            if rank == 0:
                save_checkpoint(args.out, model, opt, sampler, done, args)
            if world > 1:
                torch.distributed.barrier()
    elapsed, cpu = time.time() - t0, time.process_time() - cpu0
    steps_run = stop - start
    log("trained %d steps in %.1f s: %.3f step/s (CPU %.1f s: %.3f step/CPU-s)"
        % (steps_run, elapsed, steps_run / max(elapsed, 1e-9), cpu, steps_run / max(cpu, 1e-9)))
    dist.buffers(model)
    result = {"history": history, "steps": steps_run, "seconds": elapsed, "cpu_seconds": cpu,
              "digest": weights_digest(model), "sampler_state": sampler.state()}
    if pa:
        result["bank_sizes"] = [len(b) for b in sampler.banks()]
        result["pa_stats"] = dict(sampler.stats())
    if args.trace:
        path = args.trace.replace("{rank}", str(rank))
        with open(path, "w") as f:
            json.dump({"rank": rank, "trace": trace, "digest": result["digest"],
                       "history": history}, f)
    if args.eval and rank == 0:
        result["eval"] = evaluate(model, args, train_x, log)
    result["model"] = model
    return result


def _worker(rank, world, args):
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(args.port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        train(args, rank, world)
    finally:
        torch.distributed.destroy_process_group()


def export_val(args):
    """Writes --export-val, the format evit::io::load_labelled_images reads: 'labels' [N] and
    'images', either U8 pixels [N, 1, 28, 28] with metadata 'mean' and 'std' (the reader
    normalises them as in training and gives grey as 3 equal channels) or, with
    --export-val-format f32, the network inputs F32 [N, 3, 28, 28]."""
    if args.holdout:
        x, y = load_split("train", args.data)
        _, held = holdout_split(len(x), args.holdout)
        x, y, source = x[held], y[held], "the %d held-out training images" % args.holdout
    else:
        x, y = load_split("t10k", args.data)
        source = "the test set"
    n = min(args.export_val_n, len(x))
    if n < 2:
        raise SystemExit("--export-val-n %d: at least 2 images (half recalibrate, half are "
                         "scored)" % args.export_val_n)
    metadata = {"source": "Fashion-MNIST, first %d of %s" % (n, source)}
    if args.export_val_format == "u8":
        images = np.ascontiguousarray(x[:n], dtype=np.uint8)[:, None, :, :]
        labels = np.ascontiguousarray(y[:n], dtype=np.uint8)
        metadata.update(mean=repr(MEAN), std=repr(STD))
    else:
        images, labels = to_input(x[:n]), torch.from_numpy(y[:n])
    save_safetensors({"images": images, "labels": labels}, args.export_val, metadata=metadata)
    print("wrote %s: %d images from %s (%s)" % (args.export_val, n, source,
                                                args.export_val_format))


def main(argv=None):
    args = parse_args(argv)
    if args.export_val:
        return export_val(args)
    if not args.distributed:
        r = train(args)
        if args.out:
            summary = {k: v for k, v in r.items() if k not in ("model", "history")}
            with open(os.path.join(args.out, "summary.json"), "w") as f:
                json.dump(summary, f, indent=1)
        return r
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        _worker(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), args)
    else:
        import torch.multiprocessing as mp
        mp.spawn(_worker, args=(args.world, args), nprocs=args.world, join=True)
    return None


if __name__ == "__main__":
    main()
