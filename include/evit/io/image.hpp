// SPDX-License-Identifier: MIT
// Images in memory: 8-bit RGB pixels, and the resizing and cropping that evaluation pipelines
// apply before a model sees them. The resize is Pillow's (Image.resize, which torchvision's
// Resize calls on a PIL image): a separable convolution whose filter widens with the scale
// factor when shrinking (antialiasing), in Pillow's fixed-point arithmetic, so that the pixels
// equal Pillow's. Reading image files is in io/image_file.hpp (it needs the stb library).
//   evit::io::image im = evit::io::load_image("cat.png");        // io/image_file.hpp
//   evit::io::image small = evit::io::resize(im, 256, 192);      // Pillow's bicubic
//   evit::io::image mid = evit::io::center_crop(small, 224, 160);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"

namespace evit {
namespace io {

/// An 8-bit RGB image, rows top to bottom, pixels left to right, channels R, G, B interleaved.
struct image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  ///< height x width x 3

  image() = default;
  image(int w, int h) : width(w), height(h), pixels(static_cast<std::size_t>(w) * h * 3, 0) {
    if (w < 1 || h < 1)
      throw invalid_argument("image: size " + std::to_string(w) + "x" + std::to_string(h) +
                             " (width and height must be at least 1)");
  }
  /// Channel c (0 R, 1 G, 2 B) of pixel (x, y).
  std::uint8_t& at(int x, int y, int c) {
    return pixels[(static_cast<std::size_t>(y) * width + x) * 3 + c];
  }
  std::uint8_t at(int x, int y, int c) const {
    return pixels[(static_cast<std::size_t>(y) * width + x) * 3 + c];
  }
};

/// The interpolation of resize(): Pillow's filters (bicubic uses a = -0.5, Pillow's choice).
enum class resample { bilinear, bicubic };

namespace detail {

// Pillow's filters (src/libImaging/Resample.c).
inline double resample_filter(resample f, double x) {
  if (x < 0) x = -x;
  if (f == resample::bilinear) return x < 1 ? 1 - x : 0;
  constexpr double a = -0.5;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}
inline double resample_support(resample f) { return f == resample::bilinear ? 1.0 : 2.0; }

/// Pillow's coefficients for resizing in_size samples to out_size: for output i, the inputs
/// first[i] .. first[i] + count[i] - 1 with fixed-point weights (22 fractional bits) at
/// weights[i * taps ...].
struct resample_coeffs {
  static constexpr int precision_bits = 32 - 8 - 2;
  int taps = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weights;
};

inline resample_coeffs make_resample_coeffs(int in_size, int out_size, resample f) {
  resample_coeffs c;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = resample_support(f) * filterscale;
  c.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<std::size_t>(out_size));
  c.count.resize(static_cast<std::size_t>(out_size));
  c.weights.assign(static_cast<std::size_t>(out_size) * c.taps, 0);
  std::vector<double> k(static_cast<std::size_t>(c.taps));
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(0, static_cast<int>(center - support + 0.5));
    const int xmax = std::min(in_size, static_cast<int>(center + support + 0.5)) - xmin;
    double ww = 0;
    for (int x = 0; x < xmax; ++x) {
      const double w = resample_filter(f, (x + xmin - center + 0.5) * ss);
      k[static_cast<std::size_t>(x)] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x) {
      double w = ww != 0.0 ? k[static_cast<std::size_t>(x)] / ww : k[static_cast<std::size_t>(x)];
      w *= static_cast<double>(1 << resample_coeffs::precision_bits);
      c.weights[static_cast<std::size_t>(i) * c.taps + x] =
          static_cast<std::int32_t>(w < 0 ? -0.5 + w : 0.5 + w);
    }
    c.first[static_cast<std::size_t>(i)] = xmin;
    c.count[static_cast<std::size_t>(i)] = xmax;
  }
  return c;
}

inline std::uint8_t clip8(std::int32_t v) {
  v >>= resample_coeffs::precision_bits;
  return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

}  // namespace detail

/// `src` resized to width x height with Pillow's algorithm and arithmetic (the same pixels as
/// PIL's Image.resize((width, height), BICUBIC or BILINEAR)).
/// @throws evit::invalid_argument for an empty source or a size below 1.
inline image resize(const image& src, int width, int height, resample f = resample::bicubic) {
  if (src.width < 1 || src.height < 1) throw invalid_argument("resize: empty image");
  if (width < 1 || height < 1)
    throw invalid_argument("resize: target size " + std::to_string(width) + "x" +
                           std::to_string(height) + " (must be at least 1x1)");
  constexpr std::int32_t half = 1 << (detail::resample_coeffs::precision_bits - 1);
  // Horizontal pass (when the width changes), then vertical, each rounding to 8 bits as Pillow.
  image mid = src;
  if (width != src.width) {
    const detail::resample_coeffs c = detail::make_resample_coeffs(src.width, width, f);
    mid = image(width, src.height);
    for (int y = 0; y < src.height; ++y)
      for (int x = 0; x < width; ++x) {
        const std::int32_t* w = c.weights.data() + static_cast<std::size_t>(x) * c.taps;
        const int x0 = c.first[static_cast<std::size_t>(x)];
        for (int ch = 0; ch < 3; ++ch) {
          std::int32_t s = half;
          for (int t = 0; t < c.count[static_cast<std::size_t>(x)]; ++t)
            s += src.at(x0 + t, y, ch) * w[t];
          mid.at(x, y, ch) = detail::clip8(s);
        }
      }
  }
  if (height == src.height) return mid;
  const detail::resample_coeffs c = detail::make_resample_coeffs(src.height, height, f);
  image out(width, height);
  for (int y = 0; y < height; ++y) {
    const std::int32_t* w = c.weights.data() + static_cast<std::size_t>(y) * c.taps;
    const int y0 = c.first[static_cast<std::size_t>(y)];
    for (int x = 0; x < width; ++x)
      for (int ch = 0; ch < 3; ++ch) {
        std::int32_t s = half;
        for (int t = 0; t < c.count[static_cast<std::size_t>(y)]; ++t)
          s += mid.at(x, y0 + t, ch) * w[t];
        out.at(x, y, ch) = detail::clip8(s);
      }
  }
  return out;
}

/// The central width x height region of `src`, placed as torchvision's CenterCrop places it
/// (offset round((size - crop) / 2), halves rounded to even as Python rounds).
/// @throws evit::invalid_argument when the crop is larger than the image.
inline image center_crop(const image& src, int width, int height) {
  if (width < 1 || height < 1 || width > src.width || height > src.height)
    throw invalid_argument("center_crop: " + std::to_string(width) + "x" + std::to_string(height) +
                           " from a " + std::to_string(src.width) + "x" +
                           std::to_string(src.height) + " image");
  const auto offset = [](int d) {  // round(d / 2), ties to even
    const int h = d / 2;
    return d % 2 == 0 || h % 2 == 0 ? h : h + 1;
  };
  const int left = offset(src.width - width), top = offset(src.height - height);
  image out(width, height);
  for (int y = 0; y < height; ++y)
    std::copy_n(&src.pixels[(static_cast<std::size_t>(top + y) * src.width + left) * 3],
                static_cast<std::size_t>(width) * 3,
                &out.pixels[static_cast<std::size_t>(y) * width * 3]);
  return out;
}

/// The size whose shorter side is `shorter` and whose longer side keeps the aspect ratio,
/// truncated as torchvision's Resize(int) does: {width, height}.
inline std::pair<int, int> shorter_side_size(int width, int height, int shorter) {
  if (width <= height)
    return {shorter, static_cast<int>(static_cast<long long>(shorter) * height / width)};
  return {static_cast<int>(static_cast<long long>(shorter) * width / height), shorter};
}

}  // namespace io
}  // namespace evit
