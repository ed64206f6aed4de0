#pragma once
/// @file prefault.hpp
/// Map the pages of a part of a memory-mapped file into the process in one call
/// (madvise(MADV_POPULATE_READ), Linux 5.14 and later) just before a pass reads all of it,
/// instead of taking a page fault per 64 KiB during the pass. Mapping the whole file up front
/// (MAP_POPULATE) would do the same but put all of it in the process at once; this keeps the
/// readers' peak at what they read at a time, since they drop each part once read. Advice
/// only: it does nothing where the kernel or the platform lacks it, and any error is ignored.
///
/// @code
/// xrestore::detail::prefault(entry_bytes); // then checksum them
/// @endcode

#include <cstddef>
#include <cstdint>
#include <span>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace xrestore::detail {

/// Parts smaller than this are left to the page faults (fault-around maps 64 KiB at a time).
inline constexpr std::size_t prefault_from = std::size_t{1} << 20;

/// Ask the kernel to map the pages of the `size` bytes at `data` now (see the file comment).
inline void prefault_bytes(const void* data, std::size_t size) {
#if defined(__linux__) && defined(MADV_POPULATE_READ)
    if (size < prefault_from) {
        return;
    }
    static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<std::uintptr_t>(data);
    const std::uintptr_t first = begin / page * page;
    const std::uintptr_t last = begin + size;
    static_cast<void>(::madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_READ));
#else
    static_cast<void>(data);
    static_cast<void>(size);
#endif
}

/// prefault_bytes for the elements of `part`.
template <class T>
void prefault(std::span<T> part) {
    prefault_bytes(part.data(), part.size_bytes());
}

} // namespace xrestore::detail
