// SPDX-License-Identifier: MIT
// Hand-made safetensors files for tests: any dtype, any bytes, optional metadata (evit's writer
// writes F32 only, and only well-formed files).
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace evit {
namespace test {

/// One tensor of a hand-made file: dtype, shape and raw little-endian bytes.
struct raw_tensor {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;
};

/// A safetensors file holding `tensors` back to back, in order, and `metadata` when not empty,
/// after a header padded so that the data section starts 8-byte aligned (as every writer does).
inline std::vector<std::uint8_t> make_file(
    const std::vector<raw_tensor>& tensors,
    const std::map<std::string, std::string>& metadata = {}) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (const auto& t : tensors) {
    h[t.name] = {{"dtype", t.dtype},
                 {"shape", t.shape},
                 {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string header = h.dump();
  while ((8 + header.size()) % 8 != 0) header += ' ';
  std::vector<std::uint8_t> out(8 + header.size());
  for (int i = 0; i < 8; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(header.size() >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  for (const auto& t : tensors) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  return out;
}

}  // namespace test
}  // namespace evit
