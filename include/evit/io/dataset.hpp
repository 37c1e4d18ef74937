// SPDX-License-Identifier: MIT
// What an evaluation reads besides the weights: class names, and a labelled set of images already
// preprocessed into tensors.
//   class names   a text file with one name per line (class 0 first), or the "labels" entry of
//                 a safetensors file's metadata (the same text): read_class_names(path),
//                 class_names(safetensors_file)
//   labelled set  a safetensors file with "images" (N, 3, H, H; F32, F16 or BF16; normalised
//                 network inputs) and "labels" (N; I64 or I32): load_labelled_images(path)
//   auto val = evit::io::load_labelled_images("val.safetensors", 1000);
//   auto names = evit::io::read_class_names("imagenet_classes.txt");
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/io/safetensors.hpp"

namespace evit {
namespace io {

/// The class names in `text`, one per line (a carriage return before the newline and a final
/// newline are ignored; empty lines are names too, so that numbering never shifts).
inline std::vector<std::string> parse_class_names(const std::string& text) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(std::move(line));
    start = end + 1;
  }
  return names;
}

/// The class names of a text file, one per line.
/// @throws evit::format_error naming the path when it cannot be read or holds no name.
inline std::vector<std::string> read_class_names(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw format_error(path + ": cannot open the file");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> names = parse_class_names(text);
  if (names.empty()) throw format_error(path + ": no class names (one per line expected)");
  return names;
}

/// The class names a safetensors file carries in its metadata under "labels" (one per line),
/// or none.
inline std::vector<std::string> class_names(const safetensors_file& f) {
  const auto it = f.metadata().find("labels");
  return it == f.metadata().end() ? std::vector<std::string>() : parse_class_names(it->second);
}

/// Preprocessed images with their labels.
struct labelled_images {
  std::vector<float> images;  ///< size() x 3 x side x side, NCHW
  std::vector<int> labels;    ///< class of each image
  int side = 0;               ///< image height and width
  std::size_t size() const { return labels.size(); }
};

/// Reads a labelled set (header comment); every label must be in [0, classes).
/// @throws evit::format_error naming the file and what is wrong.
inline labelled_images load_labelled_images(const std::string& path, int classes) {
  const auto f = safetensors_file::open(path);
  const tensor_info& im = f.at("images");
  const tensor_info& lb = f.at("labels");
  if (im.shape.size() != 4 || im.shape[1] != 3 || im.shape[2] != im.shape[3] || im.shape[0] < 1)
    throw format_error(path + ": 'images' must be (N, 3, H, H) with N >= 1");
  if (lb.shape.size() != 1 || lb.shape[0] != im.shape[0])
    throw format_error(path + ": 'labels' must be (N) for the N images");
  if (lb.type != dtype::i64 && lb.type != dtype::i32)
    throw format_error(path + ": 'labels' must be I64 or I32");
  labelled_images s;
  s.images = f.to_f32(im);
  s.side = static_cast<int>(im.shape[2]);
  const std::uint8_t* p = f.data(lb);
  for (std::int64_t i = 0; i < lb.shape[0]; ++i) {
    std::int64_t v = 0;
    if (lb.type == dtype::i64) {
      std::memcpy(&v, p + 8 * i, 8);
    } else {
      std::int32_t w = 0;
      std::memcpy(&w, p + 4 * i, 4);
      v = w;
    }
    if (v < 0 || v >= classes)
      throw format_error(path + ": label " + std::to_string(v) + " outside [0, " +
                         std::to_string(classes) + ")");
    s.labels.push_back(static_cast<int>(v));
  }
  return s;
}

/// `n` random images (uniform in [-1, 1)) of side `side` with random labels: a smoke test of an
/// evaluation pipeline (any model scores chance on it).
inline labelled_images random_labelled_images(std::size_t n, int side, int classes,
                                              std::uint64_t seed) {
  if (side < 1 || classes < 1)
    throw invalid_argument("random_labelled_images: side " + std::to_string(side) + ", classes " +
                           std::to_string(classes));
  labelled_images s;
  s.side = side;
  rng g(seed);
  s.images.resize(n * 3 * static_cast<std::size_t>(side) * static_cast<std::size_t>(side));
  for (auto& v : s.images) v = static_cast<float>(2 * uniform_real(g) - 1);
  for (std::size_t i = 0; i < n; ++i)
    s.labels.push_back(static_cast<int>(uniform_below(g, static_cast<std::uint64_t>(classes))));
  return s;
}

}  // namespace io
}  // namespace evit
