// SPDX-License-Identifier: MIT
// safetensors files: an 8-byte little-endian header length, a JSON header
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// then the raw data. Reading is strict: every length, offset, dtype and shape is checked before
// any data is touched, and each problem is an evit::format_error naming the tensor or field.
// F32 is read as is; F16 and BF16 are converted to F32 on request.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"

namespace evit {
namespace io {

/// Element types of safetensors.
enum class dtype { f64, f32, f16, bf16, i64, i32, i16, i8, u8, boolean };

inline const char* dtype_name(dtype t) {
  switch (t) {
    case dtype::f64:
      return "F64";
    case dtype::f32:
      return "F32";
    case dtype::f16:
      return "F16";
    case dtype::bf16:
      return "BF16";
    case dtype::i64:
      return "I64";
    case dtype::i32:
      return "I32";
    case dtype::i16:
      return "I16";
    case dtype::i8:
      return "I8";
    case dtype::u8:
      return "U8";
    case dtype::boolean:
      return "BOOL";
  }
  return "?";
}
inline std::size_t dtype_size(dtype t) {
  switch (t) {
    case dtype::f64:
    case dtype::i64:
      return 8;
    case dtype::f32:
    case dtype::i32:
      return 4;
    case dtype::f16:
    case dtype::bf16:
    case dtype::i16:
      return 2;
    default:
      return 1;
  }
}

/// One tensor's entry in the header.
struct tensor_info {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::int64_t> shape;
  std::size_t begin = 0;  ///< byte offsets into the data section
  std::size_t end = 0;
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

namespace detail {
/// IEEE half to float, exact (subnormals, infinities and NaN included).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline float bf16_to_float(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline std::uint16_t load_u16le(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
}  // namespace detail

/// A safetensors file read once into memory and checked.
/// @code
///   auto f = evit::io::safetensors_file::open("supernet.safetensors");
///   const auto& w = f.at("first_conv.weight");      // throws naming a missing tensor
///   std::vector<float> v = f.to_f32(w);             // F32, F16 or BF16
/// @endcode
class safetensors_file {
 public:
  /// Largest header accepted (the format's own limit is 100 MB).
  static constexpr std::uint64_t max_header_bytes = 100u << 20;

  static safetensors_file open(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw format_error(path + ": cannot open the file");
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    return from_bytes(std::move(bytes), path);
  }

  /// Parses bytes already in memory; `origin` names them in error messages.
  static safetensors_file from_bytes(std::vector<std::uint8_t> bytes, std::string origin) {
    safetensors_file f;
    f.origin_ = std::move(origin);
    f.bytes_ = std::move(bytes);
    f.parse();
    return f;
  }

  const std::string& origin() const { return origin_; }
  const std::vector<tensor_info>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  /// The tensor called `name`, or nullptr.
  const tensor_info* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  /// The tensor called `name`; throws evit::format_error naming it when absent.
  const tensor_info& at(const std::string& name) const {
    const tensor_info* t = find(name);
    if (!t) throw format_error(origin_ + ": tensor \"" + name + "\" is missing");
    return *t;
  }
  /// The raw bytes of a tensor.
  const std::uint8_t* data(const tensor_info& t) const {
    return bytes_.data() + data_start_ + t.begin;
  }

  /// Copies a floating-point tensor to `out` (numel floats), converting F16/BF16/F64 to F32.
  void copy_f32(const tensor_info& t, float* out) const {
    const std::uint8_t* p = data(t);
    const std::size_t n = static_cast<std::size_t>(t.numel());
    switch (t.type) {
      case dtype::f32:
        std::memcpy(out, p, n * 4);  // little-endian hosts only (x86-64, aarch64)
        return;
      case dtype::f16:
        for (std::size_t i = 0; i < n; ++i)
          out[i] = detail::half_to_float(detail::load_u16le(p + 2 * i));
        return;
      case dtype::bf16:
        for (std::size_t i = 0; i < n; ++i)
          out[i] = detail::bf16_to_float(detail::load_u16le(p + 2 * i));
        return;
      case dtype::f64:
        for (std::size_t i = 0; i < n; ++i) {
          double d;
          std::memcpy(&d, p + 8 * i, 8);
          out[i] = static_cast<float>(d);
        }
        return;
      default:
        throw format_error(origin_ + ": tensor \"" + t.name + "\" has dtype " + dtype_name(t.type) +
                           "; expected F32, F16, BF16 or F64");
    }
  }
  std::vector<float> to_f32(const tensor_info& t) const {
    std::vector<float> v(static_cast<std::size_t>(t.numel()));
    copy_f32(t, v.data());
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw format_error(origin_ + ": " + what);
  }

  static bool parse_dtype(const std::string& s, dtype& out) {
    static const std::pair<const char*, dtype> table[] = {
        {"F64", dtype::f64}, {"F32", dtype::f32},     {"F16", dtype::f16}, {"BF16", dtype::bf16},
        {"I64", dtype::i64}, {"I32", dtype::i32},     {"I16", dtype::i16}, {"I8", dtype::i8},
        {"U8", dtype::u8},   {"BOOL", dtype::boolean}};
    for (const auto& e : table)
      if (s == e.first) {
        out = e.second;
        return true;
      }
    return false;
  }

  static bool read_u64(const nlohmann::json& j, std::uint64_t& out) {
    if (!j.is_number_integer()) return false;
    if (j.is_number_unsigned()) {
      out = j.get<std::uint64_t>();
      return true;
    }
    const auto v = j.get<std::int64_t>();
    if (v < 0) return false;
    out = static_cast<std::uint64_t>(v);
    return true;
  }

  void parse() {
    if (bytes_.size() < 8)
      fail("truncated: " + std::to_string(bytes_.size()) +
           " bytes, fewer than the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes_[static_cast<std::size_t>(i)];
    if (n > max_header_bytes)
      fail("header length " + std::to_string(n) + " exceeds the limit of 100 MB");
    if (n > bytes_.size() - 8)
      fail("header length " + std::to_string(n) + " runs beyond the end of the file (" +
           std::to_string(bytes_.size()) + " bytes)");
    data_start_ = 8 + static_cast<std::size_t>(n);
    const std::size_t data_size = bytes_.size() - data_start_;
    const auto* first = reinterpret_cast<const char*>(bytes_.data() + 8);
    nlohmann::json h = nlohmann::json::parse(first, first + n, nullptr, /*allow_exceptions=*/false);
    if (h.is_discarded()) fail("the header is not valid JSON");
    if (!h.is_object()) fail("the header is not a JSON object");

    for (auto it = h.begin(); it != h.end(); ++it) {
      const std::string& name = it.key();
      const nlohmann::json& e = it.value();
      if (name == "__metadata__") {
        if (!e.is_object()) fail("__metadata__ is not an object of strings");
        for (auto m = e.begin(); m != e.end(); ++m) {
          if (!m.value().is_string()) fail("__metadata__." + m.key() + " is not a string");
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      const std::string where = "tensor \"" + name + "\"";
      if (!e.is_object()) fail(where + ": entry is not an object");
      for (auto k = e.begin(); k != e.end(); ++k)
        if (k.key() != "dtype" && k.key() != "shape" && k.key() != "data_offsets")
          fail(where + ": unknown field \"" + k.key() + "\"");
      if (!e.contains("dtype") || !e["dtype"].is_string())
        fail(where + ": missing or non-string dtype");
      tensor_info t;
      t.name = name;
      if (!parse_dtype(e["dtype"].get<std::string>(), t.type))
        fail(where + ": unknown dtype \"" + e["dtype"].get<std::string>() + "\"");
      if (!e.contains("shape") || !e["shape"].is_array())
        fail(where + ": missing or non-array shape");
      std::uint64_t numel = 1;
      for (const auto& d : e["shape"]) {
        std::uint64_t v = 0;
        if (!read_u64(d, v)) fail(where + ": shape entries must be non-negative integers");
        if (v != 0 && numel > std::numeric_limits<std::uint64_t>::max() / v)
          fail(where + ": shape overflows");
        numel *= v;
        t.shape.push_back(static_cast<std::int64_t>(v));
      }
      if (!e.contains("data_offsets") || !e["data_offsets"].is_array() ||
          e["data_offsets"].size() != 2)
        fail(where + ": data_offsets must be [begin, end]");
      std::uint64_t b = 0, en = 0;
      if (!read_u64(e["data_offsets"][0], b) || !read_u64(e["data_offsets"][1], en))
        fail(where + ": data_offsets must be non-negative integers");
      if (b > en)
        fail(where + ": data_offsets begin " + std::to_string(b) + " > end " + std::to_string(en));
      if (en > data_size)
        fail(where + ": data_offsets end " + std::to_string(en) + " is beyond the data section (" +
             std::to_string(data_size) + " bytes)");
      const std::uint64_t elem = dtype_size(t.type);
      if (numel > std::numeric_limits<std::uint64_t>::max() / elem || numel * elem != en - b)
        fail(where + ": " + std::to_string(en - b) + " bytes of data for shape of " +
             std::to_string(numel) + " " + dtype_name(t.type) + " elements");
      t.begin = static_cast<std::size_t>(b);
      t.end = static_cast<std::size_t>(en);
      index_[name] = tensors_.size();
      tensors_.push_back(std::move(t));
    }
    // No two tensors may share bytes.
    std::vector<const tensor_info*> by_offset;
    for (const auto& t : tensors_)
      if (t.end > t.begin) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const tensor_info* a, const tensor_info* b) { return a->begin < b->begin; });
    for (std::size_t i = 1; i < by_offset.size(); ++i)
      if (by_offset[i]->begin < by_offset[i - 1]->end)
        fail("tensors \"" + by_offset[i - 1]->name + "\" and \"" + by_offset[i]->name +
             "\" overlap in the data section");
  }

  std::string origin_;
  std::vector<std::uint8_t> bytes_;
  std::size_t data_start_ = 0;
  std::vector<tensor_info> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

/// Writes F32 tensors and string metadata as a safetensors file.
class safetensors_writer {
 public:
  void add(const std::string& name, std::vector<std::int64_t> shape, const float* values) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    entry e{name, std::move(shape), std::vector<float>(values, values + n)};
    entries_.push_back(std::move(e));
  }
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

  std::vector<std::uint8_t> to_bytes() const {
    nlohmann::json h = nlohmann::json::object();
    std::size_t offset = 0;
    for (const auto& e : entries_) {
      const std::size_t bytes = e.values.size() * 4;
      h[e.name] = {
          {"dtype", "F32"}, {"shape", e.shape}, {"data_offsets", {offset, offset + bytes}}};
      offset += bytes;
    }
    if (!metadata_.empty()) h["__metadata__"] = metadata_;
    std::string header = h.dump();
    while ((8 + header.size()) % 8 != 0) header += ' ';  // keep the data 8-byte aligned
    std::vector<std::uint8_t> out(8 + header.size() + offset);
    std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i)
      out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    std::memcpy(out.data() + 8, header.data(), header.size());
    std::size_t pos = 8 + header.size();
    for (const auto& e : entries_) {
      std::memcpy(out.data() + pos, e.values.data(), e.values.size() * 4);
      pos += e.values.size() * 4;
    }
    return out;
  }
  void write(const std::string& path) const {
    const auto bytes = to_bytes();
    std::ofstream out(path, std::ios::binary);
    if (!out) throw format_error(path + ": cannot open for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) throw format_error(path + ": write failed");
  }

 private:
  struct entry {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> values;
  };
  std::vector<entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace io
}  // namespace evit
