// SPDX-License-Identifier: MIT
// libFuzzer target: the arch parsers (compact text, JSON, official 10-list) on arbitrary bytes.
// Any input must either parse into a valid arch that round-trips exactly, or raise an evit::error;
// a crash, a sanitizer report or any other exception is a finding. Run by tools/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <evit/io/arch_json.hpp>
#include <evit/io/arch_text.hpp>
#include <evit/models/elasticvit/official_list.hpp>

namespace ev = evit::elasticvit;
using S = ev::official_space;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto& d = S::descriptor();
  try {
    const evit::arch a = evit::parse_arch(d, text);
    if (evit::parse_arch(d, evit::to_string(d, a)) != a) std::abort();
  } catch (const evit::error&) {
  }
  try {
    const evit::arch a = evit::from_json_text(d, text);
    if (evit::from_json(d, evit::to_json(d, a)) != a) std::abort();
  } catch (const evit::error&) {
  }
  try {
    const evit::arch a = ev::from_official_list(d, text);
    if (ev::from_official_list(d, ev::to_official_list(d, a)) != a) std::abort();
  } catch (const evit::error&) {
  }
  return 0;
}
