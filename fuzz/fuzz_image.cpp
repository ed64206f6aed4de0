// libFuzzer target: xrestore::read_image_from_memory (stb_image: PNG, JPEG, BMP, TGA, GIF, PSD,
// PNM, HDR; then the size checks and de-interleaving in image.hpp).
//
// Contract checked: on any input it returns or throws a type derived from xrestore::error. Any
// other exception is printed and turned into an abort, which libFuzzer reports as a crash;
// sanitizer reports (inside stb_image too), hangs and memory blow-ups are caught by libFuzzer. A
// returned image is checked: 1 or 3 channels, non-empty, every value finite and in [0,1].
//
// stb_image is compiled into this target (XRESTORE_FUZZ_STB_IMPL, set by tools/dev/run_fuzzers.sh)
// from the same Debian header libstb is built from, so its code is instrumented too; asserts
// stay on, as in Debian's libstb.so.
//
// Build: see tools/dev/run_fuzzers.sh.

#if defined(XRESTORE_FUZZ_STB_IMPL)
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#endif

#include <xrestore/core/error.hpp>
#include <xrestore/io/image.hpp>

#include "fuzz_support.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <typeinfo>

namespace {

using xrestore_fuzz::contract_violation;

void check(const xrestore::image& x) {
    const auto& s = x.shape();
    if ((s[0] != 1 && s[0] != 3) || s[1] == 0 || s[2] == 0) {
        std::fprintf(stderr, "==FUZZ== image of shape %zu x %zu x %zu\n", s[0], s[1], s[2]);
        std::abort();
    }
    for (std::size_t i = 0; i < x.size(); ++i) {
        const float v = x.data()[i];
        if (!(v >= 0.0F && v <= 1.0F)) {
            std::fprintf(stderr, "==FUZZ== sample %zu is %g, outside [0,1]\n", i,
                         static_cast<double>(v));
            std::abort();
        }
    }
}

/// Known bugs of the Debian stb_image (2.27, snapshot 2022-09-08), already reported (see
/// fuzz/README.md). With XRESTORE_FUZZ_SKIP_KNOWN=1 in the environment, inputs that would hit
/// one of them are rejected (not run, not kept) so that a run can look for other bugs; without
/// it they are run, and reported, like any other input.
bool hits_known_stb_bug(const uint8_t* data, size_t size) {
    auto at = [&](size_t i) -> unsigned {
        return i < size ? data[i] : 0U;
    };                                  // stb reads 0 past the end
    if (size >= 2 && data[0] == 0xFF) { // a JPEG: SOI after any number of 0xFF fill bytes
        // 1. JPEG DHT segment whose 16 counts add up to more than 256 symbols: stb_image.h
        //    stbi__build_huffman writes h->size[k] past size[257], and stbi__process_marker
        //    the symbols past values[256] (upstream 2.28 refuses n > 256); stbi_info reaches it.
        for (size_t i = 2; i + 1 < size; ++i) {
            if (data[i] != 0xFF || data[i + 1] != 0xC4) {
                continue;
            }
            long length = static_cast<long>(at(i + 2) << 8 | at(i + 3)) - 2;
            size_t p = i + 4;
            while (length > 0 && p < size + 17) {
                unsigned n = 0;
                for (size_t k = 0; k < 16; ++k) {
                    n += at(p + 1 + k);
                }
                if (n > 256) {
                    return true;
                }
                p += 17 + n;
                length -= 17 + static_cast<long>(n);
            }
        }
    }
    if (size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) {
        // 2. PNG whose first IDAT chunks are empty: stbi__parse_png_file calls stbi__getn with
        //    z->idata == NULL and length 0, so memcpy(NULL, p, 0) (UB, harmless in practice).
        // 3. PNG whose IDAT chunk declares more bytes than the file holds: stbi__parse_png_file
        //    grows z->idata to the declared size (doubling, up to 2 GiB) before it reads, so a
        //    55-byte file makes it call realloc(p, 2147483648).
        uint64_t ioff = 0;
        size_t p = 8;
        while (p + 8 <= size) {
            const uint64_t length =
                static_cast<uint64_t>(at(p)) << 24 | at(p + 1) << 16 | at(p + 2) << 8 | at(p + 3);
            if (std::memcmp(data + p + 4, "IDAT", 4) == 0) {
                if (length == 0 && ioff == 0) {
                    return true;
                }
                if (ioff + length > (uint64_t{1} << 30) && ioff + length < (uint64_t{1} << 31)) {
                    return true;
                }
                ioff += length;
            }
            if (length > size) {
                break;
            }
            p += 12 + length;
        }
    }
    if ((size >= 11 && std::memcmp(data, "#?RADIANCE\n", 11) == 0) ||
        (size >= 7 && std::memcmp(data, "#?RGBE\n", 7) == 0)) {
        // 4. Radiance HDR whose RLE scanline holds a literal run of length 0: stbi__hdr_load's
        //    `while ((nleft = width - i) > 0)` never advances (CVE-2021-42715, fixed upstream in
        //    2.28); past the end of the data stb reads zeros, so a truncated file does it too.
        size_t p = 0;
        auto line = [&] {
            std::string s;
            while (p < size && data[p] != '\n') {
                s += static_cast<char>(data[p++]);
            }
            ++p;
            return s;
        };
        while (p < size && !line().empty()) {
        }
        const std::string resolution = line();
        long height = 0;
        long width = 0;
        if (std::sscanf(resolution.c_str(), "-Y %ld +X %ld", &height, &width) != 2 || width < 8 ||
            width >= 32768 || height <= 0) {
            return false;
        }
        for (long y = 0; y < height && y < 65536; ++y) {
            if (at(p) != 2 || at(p + 1) != 2 || (at(p + 2) & 0x80U) != 0) {
                return false; // a flat scanline: stb decodes the rest flat
            }
            if (static_cast<long>(at(p + 2) << 8 | at(p + 3)) != width) {
                return false;
            }
            p += 4;
            for (int k = 0; k < 4; ++k) {
                for (long i = 0; i < width;) {
                    long count = at(p++);
                    if (count > 128) {
                        count -= 128;
                        ++p;
                    } else if (count == 0) {
                        return true;
                    } else {
                        p += static_cast<size_t>(count);
                    }
                    if (count > width - i) {
                        return false;
                    }
                    i += count;
                }
            }
            if (p > size + 4) {
                return false; // stb would loop here forever too, but only on zeros: caught above
            }
        }
    }
    if (size >= 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '6')) {
        // 5. PNM header integer over INT_MAX: stbi__pnm_getinteger's value * 10 + digit
        //    overflows int (UB; upstream 2.28 refuses it).
        uint64_t value = 0;
        for (size_t i = 2; i < size; ++i) {
            if (data[i] >= '0' && data[i] <= '9') {
                value = value * 10 + (data[i] - '0');
                if (value > 0x7FFFFFFFU) {
                    return true;
                }
            } else {
                value = 0;
            }
        }
    }
    if (size >= 14 && std::memcmp(data, "8BPS", 4) == 0 && (data[12] << 8 | data[13]) >= 4) {
        // 6. PSD with 4 or more channels: stbi__psd_load un-premultiplies the colours by the
        //    alpha, and (unsigned char)(pixel * ra + inv_a) converts a negative float (UB;
        //    still so in upstream 2.30).
        return true;
    }
    return false;
}

const bool skip_known = [] {
    const char* v = std::getenv("XRESTORE_FUZZ_SKIP_KNOWN");
    return v != nullptr && v[0] == '1';
}();

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (skip_known && hits_known_stb_bug(data, size)) {
        return -1; // libFuzzer: do not add to the corpus
    }
    try {
        check(xrestore::read_image_from_memory(std::span<const unsigned char>(data, size),
                                               "fuzz.img"));
    } catch (const xrestore::error&) {
    } catch (const std::exception& e) {
        contract_violation(e.what(), typeid(e).name());
    } catch (...) {
        contract_violation("(not a std::exception)", "unknown");
    }
    return 0;
}
