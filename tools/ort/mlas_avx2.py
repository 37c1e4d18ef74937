#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Makes a copy of onnxruntime-node whose MLAS kernels are the AVX2 + FMA ones on an AVX-512 CPU.

    python3 tools/ort/mlas_avx2.py SRC_NODE_MODULES DST_NODE_MODULES

Why: issue 11's goal holds on AVX2-only CPUs too, and such a CPU is rarely the one at hand. evit
can be held to AVX2 anywhere (EVIT_ISA=avx2); ONNX Runtime has no such switch: its MLAS library
picks its kernels once, at start-up, from CPUID and the register state the OS saves (XGETBV). With
this copy (run.js reads it from EVIT_ORT_MODULES; compare.sh --isa avx2 makes and uses it), both
run AVX2 kernels on the same AVX-512 machine.

How: MLAS installs its AVX-512 kernels when CPUID says AVX512F and XCR0 has the three AVX-512
state bits (0xe0). In the x64 libonnxruntime.so.1 that second test is `not %rax; test $0xe0,%al;
je <AVX-512 set-up>`, a few bytes after a `test $0x10000` of the CPUID bit. The copy's `je` becomes
a 6-byte no-op, so MLAS goes on as on a CPU without AVX-512 state: exactly what an AVX2-only CPU
runs. Nothing else changes (ORT's other CPU checks are for quantised kernels, not used by the
float models here). The sequence must occur exactly once, else the script stops with an error
naming what it found: another ORT version needs this check redone.

The rest of the tree is hard-linked (or copied where links are not possible), not duplicated.
Checked on onnxruntime-node 1.30.0 (Zen 5, T2 batch 8: 20.4 -> 29.1 ms; `perf` samples of the
copy's library: none of its 400 hottest addresses is a zmm instruction, against 2298 of 5952
samples for the original; see benchmarks/ort/README.md).
Errors: one line "mlas_avx2.py: <reason>" on stderr, exit code 1 (2 for a bad command line).
"""

import os
import re
import shutil
import sys

PROG = "mlas_avx2.py"
LIBRARY = os.path.join("onnxruntime-node", "bin", "napi-v6", "linux", "x64", "libonnxruntime.so.1")
# test $0x10000, r32 (CPUID.7.EBX bit 16, AVX512F), up to 24 bytes, then
# not %rax; test $0xe0,%al; je rel32 (XCR0's opmask, ZMM_Hi256 and Hi16_ZMM state bits).
CHECK = re.compile(rb"(?:\x41)?\xf7[\xc0-\xc7]\x00\x00\x01\x00.{0,24}?\x48\xf7\xd0\xa8\xe0(\x0f\x84)",
                   re.DOTALL)
NOP6 = b"\x66\x0f\x1f\x44\x00\x00"  # nopw 0x0(%rax,%rax,1)


def fail(message, code=1):
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.exit(code)


def link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def patched(data):
    """The library's bytes with MLAS's AVX-512 state test made a no-op."""
    found = list(CHECK.finditer(data))
    if len(found) != 1:
        fail(f"{LIBRARY}: found the AVX-512 state test {len(found)} times, expected exactly once "
             "(checked on onnxruntime-node 1.30.0; another version needs this script redone)")
    at = found[0].start(1)
    return data[:at] + NOP6 + data[at + len(NOP6):]


def main(argv):
    if len(argv) != 2 or argv[0].startswith("-"):
        fail("usage: mlas_avx2.py SRC_NODE_MODULES DST_NODE_MODULES", 2)
    src, dst = (os.path.abspath(a) for a in argv)
    library = os.path.join(src, LIBRARY)
    if not os.path.isfile(library):
        fail(f"SRC_NODE_MODULES: no {LIBRARY} under {src} (npm install --ignore-scripts "
             "onnxruntime-node there)")
    if os.path.commonpath([src, dst]) in (src, dst):
        fail(f"DST_NODE_MODULES: {dst} must lie outside {src} and not contain it", 2)
    with open(library, "rb") as f:
        data = patched(f.read())  # before touching dst: a failed check leaves nothing behind
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True, copy_function=link_or_copy)
    target = os.path.join(dst, LIBRARY)
    os.unlink(target)  # a hard link to the original: write a file of its own
    with open(target, "wb") as f:
        f.write(data)
    shutil.copymode(library, target)
    print(f"{target}: MLAS's AVX-512 kernels switched off (AVX2 + FMA kernels)")


if __name__ == "__main__":
    main(sys.argv[1:])
