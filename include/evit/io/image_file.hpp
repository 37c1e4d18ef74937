// SPDX-License-Identifier: MIT
// Reading image files (PNG, JPEG, BMP, GIF, TGA, PNM: what stb_image decodes) into io::image.
// Greyscale is replicated to RGB and alpha is dropped, as Pillow's convert("RGB") does (the
// official loader's). PNG pixels equal Pillow's; JPEG pixels may differ from Pillow's
// (libjpeg-turbo) by a few levels, as two JPEG decoders do.
//   evit::io::image im = evit::io::load_image("cat.jpg");
//
// This header is not part of <evit/evit.hpp>: it needs stb_image (Debian: libstb-dev). The
// program must contain stb_image's implementation once: link Debian's compiled one (pkg-config
// stb, i.e. -lstb; in CMake find_library(STB_LIBRARY stb)), or compile it in exactly one .cpp
// of yours:
//   #define STB_IMAGE_IMPLEMENTATION
//   #include <stb/stb_image.h>
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#if __has_include(<stb/stb_image.h>)
#include <stb/stb_image.h>  // Debian's libstb-dev
#else
#include <stb_image.h>
#endif

#include "evit/core/error.hpp"
#include "evit/io/image.hpp"

namespace evit {
namespace io {

/// Decodes an image file's bytes; `origin` names them in error messages.
/// @throws evit::format_error naming `origin` and stb_image's reason when they are not an image
///         it can decode.
inline image decode_image(const std::uint8_t* bytes, std::size_t size, const std::string& origin) {
  if (size == 0) throw format_error(origin + ": empty file, not an image");
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw format_error(origin + ": too large for the image decoder (" + std::to_string(size) +
                       " bytes)");
  int w = 0, h = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_memory(bytes, static_cast<int>(size), &w, &h, &channels, 3), stbi_image_free);
  if (!data) {
    const char* why = stbi_failure_reason();
    throw format_error(origin + ": not an image evit can read (" +
                       (why ? std::string(why) : std::string("unknown reason")) +
                       "; PNG, JPEG, BMP, GIF, TGA and PNM are)");
  }
  image im(w, h);
  std::memcpy(im.pixels.data(), data.get(), im.pixels.size());
  return im;
}

/// Reads and decodes an image file.
/// @throws evit::format_error naming the path when it cannot be read or decoded.
inline image load_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw format_error(path + ": cannot open the file");
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>());
  if (in.bad()) throw format_error(path + ": read error");
  return decode_image(bytes.data(), bytes.size(), path);
}

}  // namespace io
}  // namespace evit
