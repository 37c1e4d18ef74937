// SPDX-License-Identifier: MIT
// What an evaluation reads besides the weights: class names, and a labelled set of images already
// preprocessed into tensors.
//   class names   a text file with one name per line (class 0 first), or the "labels" entry of
//                 a safetensors file's metadata (the same text): read_class_names(path),
//                 class_names(safetensors_file)
//   labelled set  a safetensors file with "images" and "labels" (N; I64, I32 or U8):
//                 load_labelled_images(path). The images are either network inputs, (N, 3, H, H)
//                 F32, F16 or BF16, already normalised; or pixels, (N, C, H, H) U8 with C 1 or 3
//                 and metadata "mean" and "std" (one number, or one per channel, comma-separated):
//                 input = (pixel / 255 - mean) / std, a single channel given as three equal ones.
//                 The pixel form is four times smaller (a validation split shipped with a model).
//   auto val = evit::io::load_labelled_images("val.safetensors", 1000);
//   auto names = evit::io::read_class_names("imagenet_classes.txt");
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
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

namespace detail {

/// The per-channel numbers of metadata entry `key` ("0.5" or "0.5,0.5,0.5"), `channels` of them.
inline std::vector<float> channel_numbers(const safetensors_file& f, const std::string& key,
                                          std::size_t channels, const std::string& where) {
  const auto it = f.metadata().find(key);
  if (it == f.metadata().end())
    throw format_error(where + ": U8 'images' need metadata '" + key +
                       "' (the normalisation, one number or one per channel)");
  std::vector<float> v;
  std::size_t start = 0;
  const std::string& text = it->second;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    char* stop = nullptr;
    const float x = std::strtof(item.c_str(), &stop);
    if (item.empty() || stop != item.c_str() + item.size() || !std::isfinite(x))
      throw format_error(where + ": metadata '" + key + "' is \"" + text +
                         "\"; expected finite numbers separated by commas");
    v.push_back(x);
    start = end + 1;
  }
  if (v.size() == 1) v.assign(channels, v[0]);
  if (v.size() != channels)
    throw format_error(where + ": metadata '" + key + "' has " + std::to_string(v.size()) +
                       " numbers for " + std::to_string(channels) + " channels");
  return v;
}

/// Network inputs (N x 3 x side x side) of U8 pixels (N, C, side, side), C 1 or 3.
inline std::vector<float> normalised_pixels(const safetensors_file& f, const tensor_info& im,
                                            const std::string& where) {
  const auto n = static_cast<std::size_t>(im.shape[0]);
  const auto channels = static_cast<std::size_t>(im.shape[1]);
  const auto plane = static_cast<std::size_t>(im.shape[2] * im.shape[3]);
  const std::vector<float> mean = channel_numbers(f, "mean", channels, where);
  const std::vector<float> stdev = channel_numbers(f, "std", channels, where);
  for (float s : stdev)
    if (!(s > 0))
      throw format_error(where + ": metadata 'std' holds " + std::to_string(s) +
                         "; every number must be > 0");
  const std::uint8_t* px = f.data(im);
  std::vector<float> out(n * 3 * plane);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < 3; ++c) {
      const std::size_t from = channels == 1 ? 0 : c;
      const std::uint8_t* src = px + (i * channels + from) * plane;
      float* dst = out.data() + (i * 3 + c) * plane;
      for (std::size_t k = 0; k < plane; ++k)
        dst[k] = (static_cast<float>(src[k]) / 255.0f - mean[from]) / stdev[from];
    }
  return out;
}

}  // namespace detail

/// The labelled set a safetensors file holds (header comment); every label must be in
/// [0, classes). `where` names the file in errors.
/// @throws evit::format_error naming the file and what is wrong.
inline labelled_images labelled_images_of(const safetensors_file& f, int classes,
                                          const std::string& where) {
  const tensor_info& im = f.at("images");
  const tensor_info& lb = f.at("labels");
  const bool pixels = im.type == dtype::u8;
  const bool channels_ok = pixels ? (im.shape.size() == 4 && (im.shape[1] == 1 || im.shape[1] == 3))
                                  : (im.shape.size() == 4 && im.shape[1] == 3);
  if (!channels_ok || im.shape[2] != im.shape[3] || im.shape[0] < 1 || im.shape[2] < 1)
    throw format_error(where + ": 'images' must be (N, 3, H, H) with N >= 1" +
                       std::string(pixels ? " (U8 pixels: (N, 1, H, H) or (N, 3, H, H))" : ""));
  if (lb.shape.size() != 1 || lb.shape[0] != im.shape[0])
    throw format_error(where + ": 'labels' must be (N) for the N images");
  if (lb.type != dtype::i64 && lb.type != dtype::i32 && lb.type != dtype::u8)
    throw format_error(where + ": 'labels' is " + dtype_name(lb.type) +
                       "; expected I64, I32 or U8");
  labelled_images s;
  s.images = pixels ? detail::normalised_pixels(f, im, where) : f.to_f32(im);
  s.side = static_cast<int>(im.shape[2]);
  const std::uint8_t* p = f.data(lb);
  for (std::int64_t i = 0; i < lb.shape[0]; ++i) {
    std::int64_t v = 0;
    if (lb.type == dtype::i64) {
      std::memcpy(&v, p + 8 * i, 8);
    } else if (lb.type == dtype::i32) {
      std::int32_t w = 0;
      std::memcpy(&w, p + 4 * i, 4);
      v = w;
    } else {
      v = p[i];
    }
    if (v < 0 || v >= classes)
      throw format_error(where + ": label " + std::to_string(v) + " outside [0, " +
                         std::to_string(classes) + ")");
    s.labels.push_back(static_cast<int>(v));
  }
  return s;
}

/// Reads a labelled set (header comment); every label must be in [0, classes).
/// @throws evit::format_error naming the file and what is wrong.
inline labelled_images load_labelled_images(const std::string& path, int classes) {
  return labelled_images_of(safetensors_file::open(path), classes, path);
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
