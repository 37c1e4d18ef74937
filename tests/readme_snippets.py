#!/usr/bin/env python3
"""ctest "readme: every C++ snippet compiles as written": the ```cpp blocks of README.md, in
order, become one program (#include lines first, the rest inside main(), after the few variables
the README leaves to the reader: images, batch, ...), compiled with -fsyntax-only against the
repository's headers. A snippet that names a function or option evit no longer has fails here.

usage: readme_snippets.py README.md <compiler> <output.cpp> [compiler flags...]"""
import re
import subprocess
import sys

# What the snippets use without defining it (the user's own data and loop variables).
PRELUDE = """
  // Left to the reader by the README: the user's images, batch size, training loop and loss.
  const int batch = 2;
  std::vector<float> user_images(static_cast<std::size_t>(batch) * 3 * 256 * 256);
  const float* images = user_images.data();
  const float* images2 = user_images.data();
  std::vector<std::vector<float>> calibration_batches;
  const int steps = 1;
  const double loss = 0;
"""


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    readme, compiler, out = sys.argv[1], sys.argv[2], sys.argv[3]
    flags = sys.argv[4:]
    text = open(readme, encoding="utf-8").read()
    snippets = re.findall(r"^```cpp\n(.*?)^```", text, flags=re.S | re.M)
    if not snippets:
        sys.exit("readme_snippets: no ```cpp block in " + readme)
    includes, body = ["#include <iostream>", "#include <vector>"], []
    for i, s in enumerate(snippets, 1):
        body.append("  // ---- README snippet %d" % i)
        for line in s.splitlines():
            if line.startswith("#include"):
                includes.append(line.split("//")[0].strip())
            else:
                body.append("  " + line)
    program = "\n".join(includes) + "\n\nint main() {\n" + PRELUDE + "\n".join(body) + "\n}\n"
    with open(out, "w", encoding="utf-8") as f:
        f.write(program)
    cmd = [compiler, "-std=c++17", "-fsyntax-only", "-Wno-unused-variable",
           "-Wno-unused-but-set-variable"] + flags + [out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-6000:])
        sys.exit("readme_snippets: %d snippets of %s do not compile (program: %s)"
                 % (len(snippets), readme, out))
    print("readme_snippets: %d snippets of %s compile" % (len(snippets), readme))


if __name__ == "__main__":
    main()
