// SPDX-License-Identifier: MIT
// fuzz-seconds: 60
// libFuzzer target: the safetensors reader on arbitrary bytes, and the labelled-set reader on
// what it parses. Any input must either parse, with every tensor's data readable inside the
// buffer, or raise evit::format_error. Run by tools/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <evit/io/dataset.hpp>
#include <evit/io/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto f = evit::io::safetensors_file::from_bytes(
        std::vector<std::uint8_t>(data, data + size), "fuzz");
    for (const auto& t : f.tensors()) {
      if (t.numel() > (1 << 20)) continue;
      try {
        volatile float sink = 0;
        for (float v : f.to_f32(t)) sink = sink + v;
      } catch (const evit::format_error&) {  // a non-float dtype
      }
    }
    const auto* im = f.find("images");
    if (im && im->numel() <= (1 << 20)) {
      try {
        volatile std::size_t sink = evit::io::labelled_images_of(f, 10, "fuzz").size();
        (void)sink;
      } catch (const evit::format_error&) {
      }
    }
  } catch (const evit::format_error&) {
  }
  return 0;
}
