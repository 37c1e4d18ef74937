// SPDX-License-Identifier: MIT
// safetensors files: an 8-byte little-endian header length, a JSON header
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// then the raw data. Reading is strict: every length, offset, dtype and shape is checked before
// any data is touched, and each problem is an evit::format_error naming the tensor or field.
// F32 is read as is; F16 and BF16 are converted to F32 on request. A file is memory-mapped (or
// read in one call) once, and its F32 tensors can be used in place, without a copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/io/detail/file_bytes.hpp"

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

/// Options of safetensors_file::open, with named setters.
class open_options {
 public:
  /// Map the file into memory (POSIX mmap: read-only, private) instead of reading it. On by
  /// default. Where mapping is not possible (not POSIX, not a regular file, mmap fails) the file is
  /// read, as with memory_map(false): one read into one 64-byte aligned buffer of the file's size.
  open_options& memory_map(bool on) {
    memory_map_ = on;
    return *this;
  }
  bool memory_map() const { return memory_map_; }

 private:
  bool memory_map_ = true;
};

/// A safetensors file, in memory once and checked.
/// @code
///   auto f = evit::io::safetensors_file::open("supernet.safetensors");
///   const auto& w = f.at("first_conv.weight");      // throws naming a missing tensor
///   std::vector<float> v = f.to_f32(w);             // F32, F16 or BF16
///   const float* p = f.f32_in_place(w);             // no copy (F32 tensors; else nullptr)
/// @endcode
///
/// Memory: open() maps the file (storage::mapped) or, failing that or with
/// open_options().memory_map(false), reads it in one buffer of the file's size (storage::read);
/// from_bytes() keeps the vector it is given (storage::memory). Nothing else is copied: data()
/// and f32_in_place() point into those bytes, which copies of this object and every keep_alive()
/// handle share, so they stay valid as long as any of them lives.
///
/// A file changed after open(): the header is read and checked once, at open, and the tensors'
/// offsets never change after, so no later change of the file makes a read go outside the bytes
/// of the file as it was at open. What a mapped file shows after open:
///  - the size is taken at open (fstat) and the mapping covers exactly that size;
///  - the mapping is read-only and private (MAP_PRIVATE, PROT_READ): nothing evit does writes to
///    the file, and the process cannot write through it;
///  - data written into the file in place by another program after open may show in the tensors
///    (Linux does show it): values change, nothing crashes;
///  - a file truncated (made shorter) while mapped makes a read of its lost pages raise SIGBUS, as
///    for every mapped file; evit's own writer (safetensors_writer::write) never truncates: it
///    writes a new file and renames it over the old one, which mappings of the old one keep. Use
///    open_options().memory_map(false) to be immune: the bytes are then read at open and private.
class safetensors_file {
 public:
  /// Largest header accepted (the format's own limit is 100 MB).
  static constexpr std::uint64_t max_header_bytes = 100u << 20;

  static safetensors_file open(const std::string& path, const open_options& opts = open_options()) {
    safetensors_file f;
    f.origin_ = path;
    f.bytes_ = detail::load_file(path, opts.memory_map());
    f.parse();
    return f;
  }

  /// Parses bytes already in memory, kept without a copy; `origin` names them in error messages.
  static safetensors_file from_bytes(std::vector<std::uint8_t> bytes, std::string origin) {
    safetensors_file f;
    f.origin_ = std::move(origin);
    f.bytes_ = detail::from_vector(std::move(bytes));
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
  const std::uint8_t* data(const tensor_info& t) const { return bytes() + data_start_ + t.begin; }

  /// Where the file's bytes live (mapped, read or memory).
  io::storage storage() const { return bytes_.kind; }
  /// The whole file's bytes, and their count.
  const std::uint8_t* bytes() const { return bytes_.data.get(); }
  std::size_t size_bytes() const { return bytes_.size; }
  /// A handle that keeps the file's bytes (and so data() and f32_in_place()) alive after this
  /// object is gone.
  std::shared_ptr<const void> keep_alive() const { return bytes_.data; }

  /// The tensor's floats in place in the file's bytes, without a copy: for an F32 tensor whose
  /// data is 4-byte aligned in memory (every F32 tensor of a file whose tensors start at
  /// multiples of 4 bytes from the data section, as writers produce), on a little-endian host.
  /// nullptr otherwise: copy_f32() converts or copies it then. Valid while keep_alive() lives.
  const float* f32_in_place(const tensor_info& t) const {
    if (t.type != dtype::f32 || !little_endian()) return nullptr;
    const std::uint8_t* p = data(t);
    if (reinterpret_cast<std::uintptr_t>(p) % alignof(float) != 0) return nullptr;
    return reinterpret_cast<const float*>(p);
  }

  /// Lets the tensor's bytes leave this process's memory once it no longer reads them (it may
  /// still): the whole pages of a mapped file inside them are dropped from the resident set, and
  /// a later read brings them back from the file. Nothing for bytes read or given in memory.
  void release(const tensor_info& t) const {
    if (storage() == io::storage::mapped) detail::release_pages(data(t), t.end - t.begin);
  }

  /// Copies a floating-point tensor to `out` (numel floats), converting F16/BF16/F64 to F32.
  void copy_f32(const tensor_info& t, float* out) const {
    const std::uint8_t* p = data(t);
    const std::size_t n = static_cast<std::size_t>(t.numel());
    switch (t.type) {
      case dtype::f32:
        // A tensor of no elements copies nothing (its `out` may be null, which memcpy may not
        // be given even for 0 bytes: found by the fuzzer). Little-endian hosts only.
        if (n > 0) std::memcpy(out, p, n * 4);
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
  static bool little_endian() {
    const std::uint32_t one = 1;
    std::uint8_t first;
    std::memcpy(&first, &one, 1);
    return first == 1;
  }

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
    const std::uint8_t* file = bytes();
    const std::size_t size = bytes_.size;
    if (size < 8)
      fail("truncated: " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | file[i];
    if (n > max_header_bytes)
      fail("header length " + std::to_string(n) + " exceeds the limit of 100 MB");
    if (n > size - 8)
      fail("header length " + std::to_string(n) + " runs beyond the end of the file (" +
           std::to_string(size) + " bytes)");
    data_start_ = 8 + static_cast<std::size_t>(n);
    const std::size_t data_size = size - data_start_;
    const auto* first = reinterpret_cast<const char*>(file + 8);
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
  detail::shared_bytes bytes_;
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
    const std::string head = header();
    std::vector<std::uint8_t> out(head.size() + data_bytes());
    std::memcpy(out.data(), head.data(), head.size());
    std::size_t pos = head.size();
    for (const auto& e : entries_) {
      if (e.values.empty()) continue;  // data() may be null
      std::memcpy(out.data() + pos, e.values.data(), e.values.size() * 4);
      pos += e.values.size() * 4;
    }
    return out;
  }
  /// Writes the file, tensor by tensor (no second copy of the data in memory). An existing
  /// regular file is replaced, not overwritten: the new file is written beside it and renamed
  /// over it once complete, so a reader never sees it half-written and a mapping of the old file
  /// (a supernet loaded from it) keeps the old bytes instead of losing them to truncation. (Where
  /// no file can be created beside it, it is overwritten in place.)
  void write(const std::string& path) const {
    const std::string target = detail::replace_target(path);
    if (!target.empty()) {
      const std::string partial = target + ".partial";
      std::ofstream out(partial, std::ios::binary | std::ios::trunc);
      if (out) {
        if (!emit(out)) {
          std::remove(partial.c_str());
          throw format_error(path + ": write failed");
        }
        detail::replace_file(partial, target, path);
        return;
      }
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw format_error(path + ": cannot open for writing");
    if (!emit(out)) throw format_error(path + ": write failed");
  }

 private:
  struct entry {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> values;
  };
  std::vector<entry> entries_;
  std::map<std::string, std::string> metadata_;

  bool emit(std::ofstream& out) const {
    const std::string head = header();
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    for (const auto& e : entries_)
      if (!e.values.empty())  // data() may be null
        out.write(reinterpret_cast<const char*>(e.values.data()),
                  static_cast<std::streamsize>(e.values.size() * 4));
    out.close();
    return !out.fail();
  }
  std::size_t data_bytes() const {
    std::size_t n = 0;
    for (const auto& e : entries_) n += e.values.size() * 4;
    return n;
  }
  /// The header length and the header, padded so that the data starts 8-byte aligned.
  std::string header() const {
    nlohmann::json h = nlohmann::json::object();
    std::size_t offset = 0;
    for (const auto& e : entries_) {
      const std::size_t bytes = e.values.size() * 4;
      h[e.name] = {
          {"dtype", "F32"}, {"shape", e.shape}, {"data_offsets", {offset, offset + bytes}}};
      offset += bytes;
    }
    if (!metadata_.empty()) h["__metadata__"] = metadata_;
    std::string text = h.dump();
    while ((8 + text.size()) % 8 != 0) text += ' ';
    std::string out(8, '\0');
    const std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i)
      out[static_cast<std::size_t>(i)] = static_cast<char>(static_cast<std::uint8_t>(n >> (8 * i)));
    return out + text;
  }
};

}  // namespace io
}  // namespace evit
