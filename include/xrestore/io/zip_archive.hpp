#pragma once
/// @file zip_archive.hpp
/// A reader for zip archives held in memory, as PyTorch writes them: the central directory is
/// found through the end-of-central-directory record (ZIP64 records and extra fields included),
/// entries must be STORED (uncompressed), and every entry read is checked against its CRC-32.
/// Every offset and size is bounds-checked, so no byte outside the buffer is ever read; anything
/// malformed throws io_error naming the source, the entry and what was wrong.
///
/// @code
/// xrestore::detail::zip_archive zip(bytes, "model.pth");             // bytes: span of the file
/// const xrestore::detail::zip_entry* e = zip.find("archive/data.pkl");
/// std::span<const unsigned char> pkl = zip.read(*e);                  // STORED, CRC checked
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/io/prefault.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace xrestore::detail {

/// CRC-32 (ISO-HDLC, polynomial 0xEDB88320) as zip stores it, slicing by 8 bytes.
class crc32_table {
public:
    constexpr crc32_table() {
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) {
                c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
            }
            t_[0][i] = c;
        }
        for (std::size_t s = 1; s < 8; ++s) {
            for (std::size_t i = 0; i < 256; ++i) {
                t_[s][i] = (t_[s - 1][i] >> 8) ^ t_[0][t_[s - 1][i] & 0xFFU];
            }
        }
    }

    /// CRC-32 of `bytes`, or, given the register `c` (not inverted) after earlier bytes, of them
    /// followed by `bytes`.
    [[nodiscard]] std::uint32_t operator()(std::span<const unsigned char> bytes,
                                           std::uint32_t c = 0xFFFFFFFFU) const {
        const unsigned char* p = bytes.data();
        std::size_t n = bytes.size();
        for (; n >= 8; n -= 8, p += 8) {
            const std::uint32_t lo =
                c ^
                (static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                 static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24);
            c = t_[7][lo & 0xFFU] ^ t_[6][(lo >> 8) & 0xFFU] ^ t_[5][(lo >> 16) & 0xFFU] ^
                t_[4][lo >> 24] ^ t_[3][p[4]] ^ t_[2][p[5]] ^ t_[1][p[6]] ^ t_[0][p[7]];
        }
        for (; n > 0; --n, ++p) {
            c = t_[0][(c ^ *p) & 0xFFU] ^ (c >> 8);
        }
        return c ^ 0xFFFFFFFFU;
    }

private:
    std::array<std::array<std::uint32_t, 256>, 8> t_{};
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define XRESTORE_CRC32_CLMUL 1

/// One 128-bit lane x folded forward over the bits that k's powers of x span, onto `next`:
/// x.low * k.low ^ x.high * k.high ^ next (carry-less products).
__attribute__((target("pclmul,sse4.1"))) inline __m128i crc32_fold(__m128i x, __m128i k,
                                                                   __m128i next) {
    return _mm_xor_si128(
        _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

/// The running CRC-32 register `c` (not inverted) advanced over the `n` bytes at `p`, n a multiple
/// of 16 and at least 64, by carry-less multiplication: four 128-bit lanes are folded forward 512
/// bits at a time, then into one lane, then reduced to 32 bits (Barrett). The constants are
/// x^k mod P(x), bit-reflected, for P = 0x104C11DB7 (Gopal et al., "Fast CRC computation for
/// generic polynomials using PCLMULQDQ", Intel 2009).
__attribute__((target("pclmul,sse4.1"))) inline std::uint32_t
crc32_clmul(std::uint32_t c, const unsigned char* p, std::size_t n) {
    const auto load = [](const unsigned char* at) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
    };
    const __m128i k512 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4); // x^(4*128+-32), x^(4*128+32)
    const __m128i k128 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0); // x^(128+-32), x^(128+32)
    __m128i x1 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(c)));
    __m128i x2 = load(p + 16);
    __m128i x3 = load(p + 32);
    __m128i x4 = load(p + 48);
    p += 64;
    n -= 64;
    for (; n >= 64; n -= 64, p += 64) {
        x1 = crc32_fold(x1, k512, load(p));
        x2 = crc32_fold(x2, k512, load(p + 16));
        x3 = crc32_fold(x3, k512, load(p + 32));
        x4 = crc32_fold(x4, k512, load(p + 48));
    }
    x1 = crc32_fold(x1, k128, x2);
    x1 = crc32_fold(x1, k128, x3);
    x1 = crc32_fold(x1, k128, x4);
    for (; n >= 16; n -= 16, p += 16) {
        x1 = crc32_fold(x1, k128, load(p));
    }
    // 128 -> 64 bits (times x^32), then 64 -> 32 bits
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(k128, x1, 0x01), _mm_srli_si128(x1, 8));
    const __m128i k64 = _mm_set_epi64x(0, 0x163cd6124);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k64, 0x00),
                       _mm_srli_si128(x1, 4));
    // Barrett reduction: q = (x.low32 * mu).low32, crc = (x ^ q * P) >> 32
    const __m128i poly_mu = _mm_set_epi64x(0x1f7011641, 0x1db710641);
    __m128i q = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly_mu, 0x10);
    q = _mm_clmulepi64_si128(_mm_and_si128(q, mask32), poly_mu, 0x00);
    return static_cast<std::uint32_t>(_mm_extract_epi32(_mm_xor_si128(x1, q), 1));
}

/// Whether this processor has the instructions crc32_clmul uses.
inline bool has_crc32_clmul() {
    static const bool has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    return has;
}
#endif

/// CRC-32 of `bytes` on the calling thread: by carry-less multiplication on x86-64 processors
/// that have it (a 16-byte multiple of the input), slicing by 8 otherwise and for the rest.
inline std::uint32_t crc32_serial(std::span<const unsigned char> bytes) {
    static constexpr crc32_table table;
#if defined(XRESTORE_CRC32_CLMUL)
    if (bytes.size() >= 64 && has_crc32_clmul()) {
        const std::size_t folded = bytes.size() & ~std::size_t{15};
        const std::uint32_t c = crc32_clmul(0xFFFFFFFFU, bytes.data(), folded);
        return table(bytes.subspan(folded), c);
    }
#endif
    return table(bytes);
}

/// a(x) b(x) mod P(x) for CRC-32's polynomial, both in the bit-reflected order of the register
/// (x^0 is the top bit).
constexpr std::uint32_t crc32_multiply(std::uint32_t a, std::uint32_t b) {
    std::uint32_t product = 0;
    for (std::uint32_t bit = 0x80000000U; bit != 0; bit >>= 1) {
        if ((a & bit) != 0) {
            product ^= b;
        }
        b = (b & 1U) != 0 ? (b >> 1) ^ 0xEDB88320U : b >> 1; // b x mod P
    }
    return product;
}

/// x^(8 n) mod P(x), bit-reflected: what a CRC register is multiplied by when n zero bytes pass.
constexpr std::uint32_t crc32_shift(std::uint64_t n) {
    std::uint32_t power = 0x80000000U;  // x^0
    std::uint32_t square = 0x00800000U; // x^8, then x^16, x^32, ...
    for (; n != 0; n >>= 1) {
        if ((n & 1U) != 0) {
            power = crc32_multiply(power, square);
        }
        square = crc32_multiply(square, square);
    }
    return power;
}

/// The CRC-32 of A followed by B from crc(A), crc(B) and B's length (the registers' inversions
/// cancel: the linear part of crc(A) is shifted over B's bytes).
constexpr std::uint32_t crc32_combine(std::uint32_t crc_a, std::uint32_t crc_b,
                                      std::uint64_t length_b) {
    return crc32_multiply(crc32_shift(length_b), crc_a) ^ crc_b;
}

/// CRC-32 of `bytes` (crc32 of "123456789" is 0xCBF43926): crc32_serial, on all threads for a
/// buffer of 4 MiB or more (one piece each, combined by crc32_combine).
inline std::uint32_t crc32(std::span<const unsigned char> bytes) {
#if defined(_OPENMP)
    constexpr std::size_t parallel_from = std::size_t{1} << 22;
    const auto threads = static_cast<std::size_t>(omp_get_max_threads());
    if (bytes.size() >= parallel_from && threads > 1 && omp_in_parallel() == 0) {
        const std::size_t piece = (bytes.size() / threads + 63) & ~std::size_t{63};
        std::vector<std::uint32_t> crcs(threads, 0);
        const auto pieces = static_cast<std::ptrdiff_t>(threads);
#pragma omp parallel for schedule(static, 1)
        for (std::ptrdiff_t t = 0; t < pieces; ++t) {
            const std::size_t begin = std::min(bytes.size(), static_cast<std::size_t>(t) * piece);
            const std::size_t end = std::min(bytes.size(), begin + piece);
            crcs[static_cast<std::size_t>(t)] = crc32_serial(bytes.subspan(begin, end - begin));
        }
        std::uint32_t crc = crcs[0];
        for (std::size_t t = 1; t < threads; ++t) {
            const std::size_t begin = std::min(bytes.size(), t * piece);
            const std::size_t end = std::min(bytes.size(), begin + piece);
            crc = crc32_combine(crc, crcs[t], end - begin);
        }
        return crc;
    }
#endif
    return crc32_serial(bytes);
}

/// Little-endian unsigned integer of `width` bytes at bytes[at] (the caller checks the bounds).
inline std::uint64_t read_le(std::span<const unsigned char> bytes, std::size_t at,
                             std::size_t width) {
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < width; ++k) {
        v |= static_cast<std::uint64_t>(bytes[at + k]) << (8 * k);
    }
    return v;
}

/// One file of a zip archive, as its central directory describes it.
struct zip_entry {
    std::string name;
    std::uint64_t local_header_offset = 0;
    std::uint64_t compressed_size = 0;
    std::uint64_t uncompressed_size = 0;
    std::uint32_t crc = 0;
    std::uint16_t method = 0; ///< 0 = STORED, 8 = DEFLATED, ...
    std::uint16_t flags = 0;
};

/// The central directory of a zip archive held in memory (the bytes must outlive the archive).
class zip_archive {
public:
    /// Largest number of entries accepted.
    static constexpr std::uint64_t max_entries = 1'000'000;

    /// Parse the end-of-central-directory record and the central directory of `bytes`;
    /// `source` names the archive in error messages.
    zip_archive(std::span<const unsigned char> bytes, std::string source)
        : bytes_(bytes), source_(std::move(source)) {
        parse();
    }

    /// Entries in central-directory order.
    [[nodiscard]] const std::vector<zip_entry>& entries() const { return entries_; }

    /// The entry called `name`, or nullptr.
    [[nodiscard]] const zip_entry* find(std::string_view name) const {
        auto it = index_.find(name);
        return it == index_.end() ? nullptr : &entries_[it->second];
    }

    /// The bytes of a STORED entry, after checking its local header, its bounds and its CRC-32.
    [[nodiscard]] std::span<const unsigned char> read(const zip_entry& e) const {
        if (e.method != 0) {
            fail(concat("entry '", e.name, "' must be STORED (compression method 0), got method ",
                        e.method, e.method == 8 ? " (DEFLATED)" : ""));
        }
        if ((e.flags & 1U) != 0) {
            fail(concat("entry '", e.name, "' is encrypted"));
        }
        if (e.compressed_size != e.uncompressed_size) {
            fail(concat("entry '", e.name, "' is STORED, so its compressed size ",
                        e.compressed_size, " must equal its size ", e.uncompressed_size));
        }
        const std::uint64_t size = bytes_.size();
        const std::uint64_t at = e.local_header_offset;
        if (at > size || size - at < 30) {
            fail(concat("local header of '", e.name, "' at offset ", at,
                        " must lie inside the file of ", size, " bytes"));
        }
        const auto offset = static_cast<std::size_t>(at);
        if (read_le(bytes_, offset, 4) != 0x04034b50U) {
            fail(concat("local header of '", e.name, "' at offset ", at,
                        " has a bad signature (expected PK\\3\\4)"));
        }
        const std::uint64_t name_length = read_le(bytes_, offset + 26, 2);
        const std::uint64_t extra_length = read_le(bytes_, offset + 28, 2);
        // data = local header offset + 30 + name length + extra length, all from the local header
        const std::uint64_t data = at + 30 + name_length + extra_length; // < 2^64: at < size
        if (data > size || e.compressed_size > size - data) {
            fail(concat("data of '", e.name, "' (", e.compressed_size, " bytes at offset ", data,
                        ") must lie inside the file of ", size, " bytes"));
        }
        const std::string_view local_name(
            reinterpret_cast<const char*>(bytes_.data() + offset + 30),
            static_cast<std::size_t>(name_length));
        if (local_name != e.name) {
            fail(concat("local header at offset ", at, " names '", local_name,
                        "', but the central directory names '", e.name, "'"));
        }
        auto content = bytes_.subspan(static_cast<std::size_t>(data),
                                      static_cast<std::size_t>(e.compressed_size));
        prefault(content); // mapped in one call before the checksum reads it
        const std::uint32_t crc = crc32(content);
        if (crc != e.crc) {
            fail(concat("entry '", e.name, "' is corrupt: CRC-32 must be ", hex(e.crc), ", got ",
                        hex(crc)));
        }
        return content;
    }

private:
    std::span<const unsigned char> bytes_;
    std::string source_;
    std::vector<zip_entry> entries_;
    std::map<std::string, std::size_t, std::less<>> index_;

    [[noreturn]] void fail(const std::string& what) const {
        throw io_error(concat("zip: '", source_, "': ", what));
    }

    static std::string hex(std::uint32_t v) {
        static constexpr char digits[] = "0123456789abcdef";
        std::string s = "0x00000000";
        for (std::size_t k = 0; k < 8; ++k) {
            s[9 - k] = digits[(v >> (4 * k)) & 0xFU];
        }
        return s;
    }

    void parse() {
        const std::size_t size = bytes_.size();
        // End of central directory: 22 bytes + a comment of at most 65535 bytes, at the very end.
        if (size < 22) {
            fail(concat("is not a zip archive: ", size,
                        " bytes is too short for an end-of-central-directory record (22 bytes)"));
        }
        const std::size_t lowest = size - 22 > 65535 ? size - 22 - 65535 : 0;
        std::size_t eocd = size;
        for (std::size_t at = size - 22 + 1; at-- > lowest;) {
            if (read_le(bytes_, at, 4) == 0x06054b50U &&
                read_le(bytes_, at + 20, 2) <= size - 22 - at) {
                eocd = at;
                break;
            }
        }
        if (eocd == size) {
            fail("is not a zip archive or is truncated: no end-of-central-directory record");
        }
        const std::uint64_t disk = read_le(bytes_, eocd + 4, 2);
        const std::uint64_t cd_disk = read_le(bytes_, eocd + 6, 2);
        std::uint64_t disk_entries = read_le(bytes_, eocd + 8, 2);
        std::uint64_t count = read_le(bytes_, eocd + 10, 2);
        std::uint64_t cd_size = read_le(bytes_, eocd + 12, 4);
        std::uint64_t cd_offset = read_le(bytes_, eocd + 16, 4);
        std::uint64_t cd_limit = eocd; // the central directory ends before the records after it

        // ZIP64: a 20-byte locator right before the EOCD points at the ZIP64 EOCD record.
        if (eocd >= 20 && read_le(bytes_, eocd - 20, 4) == 0x07064b50U) {
            const std::size_t locator = eocd - 20;
            const std::uint64_t record = read_le(bytes_, locator + 8, 8);
            if (read_le(bytes_, locator + 4, 4) != 0 || read_le(bytes_, locator + 16, 4) > 1) {
                fail("multi-disk (spanned) zip archives are not supported");
            }
            if (record > locator || locator - record < 56) {
                fail(concat("ZIP64 end-of-central-directory record at offset ", record,
                            " must lie before its locator at offset ", locator));
            }
            const auto r = static_cast<std::size_t>(record);
            if (read_le(bytes_, r, 4) != 0x06064b50U) {
                fail(concat("ZIP64 end-of-central-directory record at offset ", record,
                            " has a bad signature (expected PK\\6\\6)"));
            }
            if (read_le(bytes_, r + 16, 4) != 0 || read_le(bytes_, r + 20, 4) != 0) {
                fail("multi-disk (spanned) zip archives are not supported");
            }
            disk_entries = read_le(bytes_, r + 24, 8);
            count = read_le(bytes_, r + 32, 8);
            cd_size = read_le(bytes_, r + 40, 8);
            cd_offset = read_le(bytes_, r + 48, 8);
            cd_limit = record;
        } else if (disk != 0 || cd_disk != 0) {
            fail("multi-disk (spanned) zip archives are not supported");
        }
        if (disk_entries != count) {
            fail(concat("multi-disk (spanned) zip archives are not supported (", disk_entries,
                        " of ", count, " entries on this disk)"));
        }
        if (count > max_entries) {
            fail(concat("number of entries must be at most ", max_entries, ", got ", count));
        }
        if (cd_offset > cd_limit || cd_size > cd_limit - cd_offset) {
            fail(concat("central directory (", cd_size, " bytes at offset ", cd_offset,
                        ") must lie inside the ", cd_limit,
                        " bytes before the end-of-central-directory record"));
        }
        if (cd_size / 46 < count) {
            fail(concat("central directory of ", cd_size, " bytes is too small for ", count,
                        " entries (46 bytes each at least)"));
        }
        entries_.reserve(static_cast<std::size_t>(count));
        auto at = static_cast<std::size_t>(cd_offset);
        const auto end = static_cast<std::size_t>(cd_offset + cd_size);
        for (std::uint64_t i = 0; i < count; ++i) {
            at = parse_central_header(at, end, i);
        }
    }

    /// Parse the central header at `at` (bounded by `end`); returns the offset of the next one.
    std::size_t parse_central_header(std::size_t at, std::size_t end, std::uint64_t i) {
        if (end - at < 46 || read_le(bytes_, at, 4) != 0x02014b50U) {
            fail(concat("central directory header ", i, " at offset ", at,
                        end - at < 46 ? " is truncated"
                                      : " has a bad signature (expected PK\\1\\2)"));
        }
        zip_entry e;
        e.flags = static_cast<std::uint16_t>(read_le(bytes_, at + 8, 2));
        e.method = static_cast<std::uint16_t>(read_le(bytes_, at + 10, 2));
        e.crc = static_cast<std::uint32_t>(read_le(bytes_, at + 16, 4));
        e.compressed_size = read_le(bytes_, at + 20, 4);
        e.uncompressed_size = read_le(bytes_, at + 24, 4);
        const std::size_t name_length = read_le(bytes_, at + 28, 2);
        const std::size_t extra_length = read_le(bytes_, at + 30, 2);
        const std::size_t comment_length = read_le(bytes_, at + 32, 2);
        std::uint64_t disk_start = read_le(bytes_, at + 34, 2);
        e.local_header_offset = read_le(bytes_, at + 42, 4);
        const std::size_t variable = name_length + extra_length + comment_length;
        if (variable > end - at - 46) {
            fail(concat("central directory header ", i, " at offset ", at,
                        " runs past the end of the central directory"));
        }
        e.name.assign(reinterpret_cast<const char*>(bytes_.data() + at + 46), name_length);

        // ZIP64 extended information (id 0x0001): 8-byte values for exactly the fields that are
        // saturated in the header, in the order size, compressed size, offset, then disk (4).
        std::size_t x = at + 46 + name_length;
        const std::size_t x_end = x + extra_length;
        while (x_end - x >= 4) {
            const std::uint64_t id = read_le(bytes_, x, 2);
            const std::size_t length = read_le(bytes_, x + 2, 2);
            if (length > x_end - x - 4) {
                fail(concat("extra field of '", e.name, "' runs past its end"));
            }
            if (id == 0x0001) {
                std::size_t p = x + 4;
                const std::size_t p_end = p + length;
                auto take = [&](std::uint64_t& field, std::uint64_t saturated, std::size_t width) {
                    if (field != saturated) {
                        return;
                    }
                    if (p_end - p < width) {
                        fail(concat("ZIP64 extra field of '", e.name, "' is too short"));
                    }
                    field = read_le(bytes_, p, width);
                    p += width;
                };
                take(e.uncompressed_size, 0xFFFFFFFFU, 8);
                take(e.compressed_size, 0xFFFFFFFFU, 8);
                take(e.local_header_offset, 0xFFFFFFFFU, 8);
                take(disk_start, 0xFFFFU, 4);
            }
            x += 4 + length;
        }
        if (disk_start != 0) {
            fail(concat("entry '", e.name, "' starts on disk ", disk_start,
                        "; multi-disk zip archives are not supported"));
        }
        if (!index_.emplace(e.name, entries_.size()).second) {
            fail(concat("entry name '", e.name, "' appears twice"));
        }
        entries_.push_back(std::move(e));
        return at + 46 + variable;
    }
};

} // namespace xrestore::detail
