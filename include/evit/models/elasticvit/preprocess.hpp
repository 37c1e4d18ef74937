// SPDX-License-Identifier: MIT
// ElasticViT's evaluation preprocessing: from an RGB image to the network input of a subnet at
// resolution R (3 x R x R floats, NCHW), as the official evaluation does it (its data loader,
// util/data_loader.py, and its forward; README.md, "Real images in", says why this one):
//   1. resize so that the shorter side is 256, bicubic, with Pillow's antialiasing filter
//      (torchvision Resize(256, BICUBIC) on a PIL image; the longer side keeps the aspect ratio);
//   2. centre-crop 224 x 224 (torchvision CenterCrop(224));
//   3. scale to [0, 1] and normalise per channel with ImageNet's mean (0.485, 0.456, 0.406) and
//      standard deviation (0.229, 0.224, 0.225) (ToTensor, Normalize);
//   4. when R is not 224, resize the 224 x 224 crop to R x R bicubically, as the official
//      forward does with every input whose side is not R (torch.nn.functional.interpolate,
//      mode "bicubic", a = -0.75, align_corners False, no antialiasing).
// So every subnet sees the same 224 crop (the official data loader's only size), shrunk or
// enlarged to its resolution, and not a crop of its own size. Steps 1-3 give Pillow's and
// torchvision's values exactly; step 4 agrees with PyTorch's to float rounding.
//   evit::io::image im = evit::io::load_image("cat.png");            // io/image_file.hpp
//   std::vector<float> x = evit::elasticvit::preprocess(im, a.resolution());
//   net.forward(a, x.data(), 1, logits.data(), ws);
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/io/image.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

/// The preprocessing's parameters; the defaults are the official evaluation's.
struct preprocess_options {
  int resize = 256;                             ///< shorter side after step 1
  int crop = 224;                               ///< square centre crop of step 2
  io::resample filter = io::resample::bicubic;  ///< step 1's interpolation
  std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};
  std::array<float, 3> std = {0.229f, 0.224f, 0.225f};

  void check() const {
    if (crop < 1 || resize < crop)
      throw invalid_argument("preprocess_options: resize " + std::to_string(resize) + " and crop " +
                             std::to_string(crop) + " (need 1 <= crop <= resize)");
    for (float s : std)
      if (!(s > 0)) throw invalid_argument("preprocess_options: a standard deviation <= 0");
  }
};

/// Resizes `channels` planes of side `in` (contiguous) to side `out`, as PyTorch's
/// interpolate(mode="bicubic", align_corners=False) does: cubic convolution with a = -0.75,
/// source coordinate (i + 0.5) * in / out - 0.5, indices clamped at the borders.
inline void resize_bicubic_planes(const float* src, int in, float* dst, int out, int channels) {
  constexpr float a = -0.75f;
  const auto weights = [&](float t, float* w) {
    const auto near = [&](float x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };
    const auto far = [&](float x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };
    w[0] = far(t + 1);
    w[1] = near(t);
    w[2] = near(1 - t);
    w[3] = far(2 - t);
  };
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  std::vector<int> idx(static_cast<std::size_t>(out) * 4);
  std::vector<float> wt(static_cast<std::size_t>(out) * 4);
  for (int i = 0; i < out; ++i) {
    const float real = scale * (static_cast<float>(i) + 0.5f) - 0.5f;
    const float base = std::floor(real);
    float t = real - base;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    weights(t, &wt[static_cast<std::size_t>(i) * 4]);
    for (int k = 0; k < 4; ++k) {
      const int j = static_cast<int>(base) - 1 + k;
      idx[static_cast<std::size_t>(i) * 4 + k] = j < 0 ? 0 : j >= in ? in - 1 : j;
    }
  }
  for (int c = 0; c < channels; ++c) {
    const float* s = src + static_cast<std::size_t>(c) * in * in;
    float* d = dst + static_cast<std::size_t>(c) * out * out;
    for (int y = 0; y < out; ++y) {
      const int* iy = &idx[static_cast<std::size_t>(y) * 4];
      const float* wy = &wt[static_cast<std::size_t>(y) * 4];
      for (int x = 0; x < out; ++x) {
        const int* ix = &idx[static_cast<std::size_t>(x) * 4];
        const float* wx = &wt[static_cast<std::size_t>(x) * 4];
        float v = 0;
        for (int r = 0; r < 4; ++r) {
          const float* row = s + static_cast<std::size_t>(iy[r]) * in;
          v += wy[r] *
               (wx[0] * row[ix[0]] + wx[1] * row[ix[1]] + wx[2] * row[ix[2]] + wx[3] * row[ix[3]]);
        }
        d[static_cast<std::size_t>(y) * out + x] = v;
      }
    }
  }
}

/// Writes the network input of `im` for a subnet at `resolution` to out[0 .. 3R^2) (channels
/// R, G, B, rows top to bottom): the official evaluation preprocessing (header comment).
/// @throws evit::invalid_argument for a resolution below 1 or bad options.
inline void preprocess(const io::image& im, int resolution, float* out,
                       const preprocess_options& o = preprocess_options()) {
  o.check();
  if (resolution < 1)
    throw invalid_argument("preprocess: resolution " + std::to_string(resolution));
  const auto size = io::shorter_side_size(im.width, im.height, o.resize);
  const io::image crop =
      io::center_crop(io::resize(im, size.first, size.second, o.filter), o.crop, o.crop);
  const std::size_t plane = static_cast<std::size_t>(o.crop) * o.crop;
  std::vector<float> tmp(resolution == o.crop ? 0 : 3 * plane);
  float* x = resolution == o.crop ? out : tmp.data();
  for (int c = 0; c < 3; ++c)
    for (std::size_t p = 0; p < plane; ++p)  // ToTensor then Normalize, in float as torchvision
      x[c * plane + p] =
          (static_cast<float>(crop.pixels[p * 3 + c]) / 255.0f - o.mean[c]) / o.std[c];
  if (resolution != o.crop) resize_bicubic_planes(x, o.crop, out, resolution, 3);
}

/// The same, returned: 3 x resolution x resolution floats.
inline std::vector<float> preprocess(const io::image& im, int resolution,
                                     const preprocess_options& o = preprocess_options()) {
  std::vector<float> out(3 * static_cast<std::size_t>(resolution > 0 ? resolution : 0) *
                         static_cast<std::size_t>(resolution > 0 ? resolution : 0));
  preprocess(im, resolution, out.data(), o);
  return out;
}

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
