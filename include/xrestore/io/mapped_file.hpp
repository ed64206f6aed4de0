#pragma once
/// @file mapped_file.hpp
/// A whole file as read-only bytes, memory-mapped where the system allows it (POSIX, a regular
/// file), read into memory otherwise. A weights reader parses the bytes in place and decodes each
/// tensor straight into its own buffer, with no copy of the file on the heap; once a tensor is
/// decoded, `release` drops its pages from the process (they stay in the page cache, and reading
/// them again maps them again), so the file never adds its size to the peak memory.
///
/// Missing paths, directories and unreadable files throw io_error naming the path and the reason,
/// as read_whole_file. The bytes are those of the file when it was opened: a file shortened by
/// another process while it is mapped ends the process with SIGBUS when the lost pages are read,
/// as for any memory-mapped reader (torch.load(mmap=True), safetensors); replace weights files by
/// renaming a new file into place (write_file_atomically) rather than rewriting them.
///
/// @code
/// const xrestore::detail::mapped_file file("model.safetensors", "read_safetensors");
/// xrestore::state_dict w = xrestore::parse_safetensors(file.bytes(), "model.safetensors");
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/io/npy.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define XRESTORE_HAVE_MMAP 1
#endif

namespace xrestore::detail {

/// The bytes of a file, mapped or read; not copyable.
class mapped_file {
public:
    /// Map (or read) `path`; `where` names the caller in error messages.
    mapped_file(const std::filesystem::path& path, std::string_view where) {
        require_file_to_read(path, where);
#if defined(XRESTORE_HAVE_MMAP)
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            throw io_error(concat(where, ": cannot open '", path.string(), "' for reading"));
        }
        struct stat info {};
        if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_size > 0) {
            const auto size = static_cast<std::size_t>(info.st_size);
            void* at = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (at != MAP_FAILED) {
                map_ = static_cast<const unsigned char*>(at);
                size_ = size;
            }
        }
        ::close(fd);
        if (map_ != nullptr) {
            return;
        }
#endif
        // an empty file, a pipe, or no mmap: the bytes read into memory
        copy_ = read_whole_file(path, where);
    }

    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;

    ~mapped_file() {
#if defined(XRESTORE_HAVE_MMAP)
        if (map_ != nullptr) {
            ::munmap(const_cast<unsigned char*>(map_), size_);
        }
#endif
    }

    /// Whether the bytes are mapped rather than read into memory.
    [[nodiscard]] bool mapped() const {
        return map_ != nullptr;
    }

    /// The file's bytes.
    [[nodiscard]] std::span<const unsigned char> bytes() const {
        if (map_ != nullptr) {
            return {map_, size_};
        }
        return {reinterpret_cast<const unsigned char*>(copy_.data()), copy_.size()};
    }

    /// Drop the mapped pages wholly inside `part` (a part of bytes()) from the process; the
    /// bytes stay readable. Nothing happens for a file read into memory, or for bytes that are
    /// not the file's (a tensor decoded into memory of its own).
    void release(std::span<const unsigned char> part) const {
#if defined(XRESTORE_HAVE_MMAP)
        const auto at = reinterpret_cast<std::uintptr_t>(part.data());
        const auto map = reinterpret_cast<std::uintptr_t>(map_);
        if (map_ == nullptr || part.empty() || at < map || at - map > size_ ||
            part.size() > size_ - (at - map)) {
            return;
        }
        static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        const std::size_t begin = static_cast<std::size_t>(part.data() - map_);
        const std::size_t first = (begin + page - 1) / page * page;
        const std::size_t last = (begin + part.size()) / page * page;
        if (first < last) {
            ::madvise(const_cast<unsigned char*>(map_) + first, last - first, MADV_DONTNEED);
        }
#else
        static_cast<void>(part);
#endif
    }

private:
    const unsigned char* map_ = nullptr;
    std::size_t size_ = 0;
    std::string copy_;
};

} // namespace xrestore::detail
