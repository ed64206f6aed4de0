// Writes the hostile and edge-case inputs of the CLI reliability tests
// (tests/cli/reliability.cmake) into a folder: PNGs declaring 16000 x 16000 pixels in a few MB
// (all-zero rows, deflated with fixed Huffman codes: 258-byte copies of the previous byte), a black
// and a constant photo, a small measurement, a weights file with a sidecar nested 100,000 levels
// deep, a grid nested as deep, and copies of the image reproducers of tests/data/fuzz_regressions
// with .png names.
//
// Usage: cli_test_inputs OUT_DIR SOURCE_DIR

#include <xrestore/core/tensor.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/io/npy.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

/// Bits into bytes, least significant bit first (deflate's order).
struct bit_writer {
    std::vector<unsigned char> bytes;
    unsigned used = 8; ///< bits used in the last byte
    void put(unsigned value, int count) {
        for (int i = 0; i < count; ++i) {
            if (used == 8) {
                bytes.push_back(0);
                used = 0;
            }
            bytes.back() = static_cast<unsigned char>(bytes.back() | ((value >> i) & 1U) << used);
            ++used;
        }
    }
    /// A Huffman code: most significant bit first.
    void code(unsigned value, int length) {
        for (int i = length - 1; i >= 0; --i) {
            put((value >> i) & 1U, 1);
        }
    }
};

void put_be32(std::vector<unsigned char>& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<unsigned char>(v >> shift));
    }
}

/// A zlib stream of `n` zero bytes: one fixed-Huffman block, a literal 0 then copies of length
/// 258 at distance 1 (symbol 285, 8 bits; distance code 0, 5 bits), about 160:1.
std::vector<unsigned char> zlib_zeros(std::uint64_t n) {
    bit_writer w;
    w.put(1, 1); // BFINAL
    w.put(1, 2); // BTYPE 01: fixed Huffman codes
    std::uint64_t left = n;
    if (left > 0) {
        w.code(0x30, 8); // literal 0
        --left;
    }
    for (; left >= 258; left -= 258) {
        w.code(0xC5, 8); // length 258
        w.code(0, 5);    // distance 1
    }
    for (; left > 0; --left) {
        w.code(0x30, 8);
    }
    w.code(0, 7); // end of block
    std::vector<unsigned char> out{0x78, 0x01};
    out.insert(out.end(), w.bytes.begin(), w.bytes.end());
    // Adler-32 of zeros: a stays 1, b adds 1 per byte
    put_be32(out, static_cast<std::uint32_t>((n % 65521U) << 16 | 1U));
    return out;
}

void chunk(std::vector<unsigned char>& png, const char* type, std::span<const unsigned char> data) {
    put_be32(png, static_cast<std::uint32_t>(data.size()));
    const std::size_t at = png.size();
    png.insert(png.end(), type, type + 4);
    png.insert(png.end(), data.begin(), data.end());
    put_be32(png, xrestore::detail::png_crc32(std::span(png.data() + at, 4 + data.size())));
}

/// An all-zero PNG of width x height, `depth` bits per sample, colour type `colour` (0 gray,
/// 2 RGB) with `samples` samples per pixel.
void write_zero_png(const fs::path& path, std::uint32_t width, std::uint32_t height,
                    unsigned char depth, unsigned char colour, unsigned samples) {
    std::vector<unsigned char> png{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    std::vector<unsigned char> ihdr;
    put_be32(ihdr, width);
    put_be32(ihdr, height);
    ihdr.insert(ihdr.end(), {depth, colour, 0, 0, 0});
    chunk(png, "IHDR", ihdr);
    const std::uint64_t row = 1 + (std::uint64_t{width} * samples * depth + 7) / 8; // filter byte
    const std::vector<unsigned char> idat = zlib_zeros(row * height);
    constexpr std::size_t piece = std::size_t{1} << 20;
    for (std::size_t i = 0; i < idat.size(); i += piece) {
        chunk(png, "IDAT", std::span(idat.data() + i, std::min(piece, idat.size() - i)));
    }
    chunk(png, "IEND", {});
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::string nested(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: cli_test_inputs OUT_DIR SOURCE_DIR\n");
        return 2;
    }
    const fs::path out = argv[1];
    const fs::path source = argv[2];
    fs::remove_all(out);
    fs::create_directories(out / "deep");
    // 16000 x 16000: within read_image's limits (2^28 pixels, 16384 per byte), 3 GB as floats
    write_zero_png(out / "big_rgb.png", 16000, 16000, 8, 2, 3);
    write_zero_png(out / "big_1bit.png", 16000, 16000, 1, 0, 1);
    // photos the study cannot score against a log axis: all black, all one gray
    xrestore::write_png(out / "black.png", xrestore::image(xt::zeros<float>({3, 96, 96})));
    xrestore::write_png(out / "constant.png",
                        xrestore::image(xt::zeros<float>({1, 96, 96}) + 0.5F));
    // a small measurement and its ground truth
    xrestore::image small = xt::zeros<float>({3, 32, 32});
    for (std::size_t i = 0; i < small.size(); ++i) {
        small.data()[i] = static_cast<float>((i * 37) % 101) / 100.0F;
    }
    xrestore::write_npy(out / "y.npy", small);
    xrestore::write_npy(out / "truth.npy", small);
    // a sidecar nested 100,000 levels deep beside weights (the issue's reproducer)
    fs::copy_file(source / "tests" / "data" / "weights" / "small.pth",
                  out / "deep" / "weights.pth");
    write_text(out / "deep" / "weights.json",
               R"({"call":"residual","note":)" + nested(100000) + "}");
    write_text(out / "deep_grid.json", R"({"images":)" + nested(100000) + "}");
    // a safetensors file cut inside its header
    std::ifstream st(source / "tests" / "data" / "weights" / "small.safetensors", std::ios::binary);
    std::string bytes(100, '\0');
    st.read(bytes.data(), 100);
    write_text(out / "cut.safetensors", bytes);
    // the image reproducers under .png names, as a user would meet them
    for (const char* name : {"image_png_declares_100000x100000", "image_png_declares_0x0",
                             "image_png_cut_after_header"}) {
        fs::copy_file(source / "tests" / "data" / "fuzz_regressions" / (std::string(name) + ".bin"),
                      out / (std::string(name).substr(10) + ".png"));
    }
    std::printf("cli_test_inputs: wrote %s\n", out.string().c_str());
    return 0;
}
