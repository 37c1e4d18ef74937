// SPDX-License-Identifier: MIT
// Reading image files (io/image_file.hpp, through Debian's libstb): PNGs written here with
// stb_image_write and by Pillow (tests/data/preprocess) decode to their exact pixels, greyscale
// becomes RGB, a JPEG decodes to about its pixels, and a missing or corrupt file is an error that
// names it.
//   image_file <scratch folder> <tests/data>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#if __has_include(<stb/stb_image_write.h>)
#include <stb/stb_image_write.h>
#else
#include <stb_image_write.h>
#endif

#include <evit/io/image_file.hpp>

namespace {

int failures = 0, checks = 0;

void check(bool ok, const std::string& what) {
  ++checks;
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  }
}

// The synthetic image of tests/data/preprocess/make_golden.py.
evit::io::image synthetic(int w, int h) {
  evit::io::image im(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        im.at(x, y, c) = static_cast<unsigned char>(
            ((x * 73 + y * 151 + c * 23) * (x + 2 * y + 3 * c + 1)) % 256);
  return im;
}

std::string error_of(const std::string& path) {
  try {
    evit::io::load_image(path);
  } catch (const evit::format_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: image_file <scratch folder> <tests/data>\n");
    return 2;
  }
  const std::string dir = argv[1], data = argv[2];
  const evit::io::image want = synthetic(37, 29);

  const std::string png = dir + "/written.png";
  check(stbi_write_png(png.c_str(), 37, 29, 3, want.pixels.data(), 37 * 3) != 0, "write " + png);
  check(evit::io::load_image(png).pixels == want.pixels, "stb's PNG decodes to its pixels");
  const evit::io::image pil = evit::io::load_image(data + "/preprocess/synthetic-37x29.png");
  check(pil.width == 37 && pil.height == 29 && pil.pixels == want.pixels,
        "Pillow's PNG decodes to its pixels");

  const std::vector<unsigned char> grey = {0, 100, 200, 255, 7, 9};
  const std::string grey_png = dir + "/grey.png";
  check(stbi_write_png(grey_png.c_str(), 3, 2, 1, grey.data(), 3) != 0, "write " + grey_png);
  const evit::io::image g = evit::io::load_image(grey_png);
  bool replicated = g.width == 3 && g.height == 2;
  for (int i = 0; i < 6 && replicated; ++i)
    for (int c = 0; c < 3; ++c) replicated = replicated && g.pixels[i * 3 + c] == grey[i];
  check(replicated, "greyscale becomes RGB");

  evit::io::image flat(16, 16);
  for (auto& v : flat.pixels) v = 120;
  const std::string jpg = dir + "/flat.jpg";
  check(stbi_write_jpg(jpg.c_str(), 16, 16, 3, flat.pixels.data(), 100) != 0, "write " + jpg);
  bool close = true;
  for (unsigned char v : evit::io::load_image(jpg).pixels) close = close && std::abs(v - 120) <= 2;
  check(close, "a JPEG decodes to about its pixels");

  const std::string corrupt = dir + "/corrupt.png";
  std::ofstream(corrupt) << "\x89PNG\r\n\x1a\n not really a PNG";
  const std::string e1 = error_of(corrupt);
  check(e1.rfind(corrupt + ": not an image evit can read (", 0) == 0,
        "a corrupt file is named: " + e1);
  const std::string e2 = error_of(dir + "/missing.png");
  check(e2 == dir + "/missing.png: cannot open the file", "a missing file is named: " + e2);
  std::ofstream(dir + "/empty.png").close();
  check(error_of(dir + "/empty.png") == dir + "/empty.png: empty file, not an image",
        "an empty file is named");

  std::printf("image_file: %d of %d checks passed\n", checks - failures, checks);
  return failures == 0 ? 0 : 1;
}
