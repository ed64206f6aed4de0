#pragma once
/// @file atomic_file.hpp
/// Writing a file atomically: the content goes to a temporary file in the target's folder, which
/// is renamed onto the target only when it is complete. A reader, or a run that is killed, sees
/// either the old file (or none) or the whole new one, never a truncated file.
///
/// @code
/// xrestore::write_atomically("out/result.npy", [&](const std::filesystem::path& temporary) {
///     xrestore::write_npy(temporary, x);   // any writer that takes a path
/// });
/// @endcode
///
/// The temporary file is named `.<stem>.partial-<pid>-<n><extension>` beside the target, so a
/// writer that chooses its format by extension (save_array) still sees the target's extension,
/// and `rename` stays within one file system (atomic on POSIX). When the writer throws, or the
/// commit does not happen, the temporary file is removed.
///
/// A folder of files that belong together (a report) is written the same way as a whole:
/// `write_folder_atomically(target, write)` lets `write` fill a fresh sibling folder
/// `.<name>.partial-<pid>-<n>`, then moves an existing `target` aside, renames the new folder
/// onto it and removes the old one. A run that fails or is killed leaves the old folder as it
/// was (or none), never a mix of old and new files.

#include "xrestore/core/error.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace xrestore {

namespace detail {

/// A number that differs between the temporary files of one process.
inline std::uint64_t next_partial_number() {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed);
}

inline long process_number() {
#if defined(__unix__) || defined(__APPLE__)
    return static_cast<long>(::getpid());
#else
    return 0;
#endif
}

} // namespace detail

/// A temporary file beside `target` that becomes `target` on commit(); removed otherwise.
class atomic_file {
public:
    /// Plans the temporary path; nothing is created yet. The target's folder must exist.
    explicit atomic_file(std::filesystem::path target) : target_(std::move(target)) {
        const std::filesystem::path folder = target_.parent_path();
        if (!target_.has_filename()) {
            throw io_error(detail::concat("atomic_file: '", target_.string(),
                                          "' must name a file, not a folder"));
        }
        std::error_code ec;
        if (!folder.empty() && !std::filesystem::is_directory(folder, ec)) {
            throw io_error(detail::concat("atomic_file: the folder of '", target_.string(),
                                          "' does not exist"));
        }
        temporary_ =
            folder / detail::concat(".", target_.stem().string(), ".partial-",
                                    detail::process_number(), "-", detail::next_partial_number(),
                                    target_.extension().string());
    }
    atomic_file(const atomic_file&) = delete;
    atomic_file& operator=(const atomic_file&) = delete;
    ~atomic_file() {
        if (!committed_) {
            std::error_code ignored;
            std::filesystem::remove(temporary_, ignored);
        }
    }

    /// Where the writer writes.
    [[nodiscard]] const std::filesystem::path& temporary_path() const { return temporary_; }
    /// The file the content ends up in.
    [[nodiscard]] const std::filesystem::path& target() const { return target_; }

    /// Rename the complete temporary file onto the target (replacing an old one).
    void commit() {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(temporary_, ec)) {
            throw io_error(
                detail::concat("atomic_file: nothing was written for '", target_.string(), "'"));
        }
        std::filesystem::rename(temporary_, target_, ec);
        if (ec) {
            throw io_error(detail::concat("atomic_file: cannot move the new '", target_.string(),
                                          "' into place: ", ec.message()));
        }
        committed_ = true;
    }

private:
    std::filesystem::path target_;
    std::filesystem::path temporary_;
    bool committed_ = false;
};

/// Call write(temporary_path) and move the result onto `target` atomically; when write throws,
/// `target` is left as it was and the exception propagates.
template <class Write>
void write_atomically(const std::filesystem::path& target, Write&& write) {
    atomic_file file(target);
    std::forward<Write>(write)(file.temporary_path());
    file.commit();
}

/// Write a file through a binary stream, atomically: write(out) fills the temporary file. io_error
/// "<where>: cannot open '<path>' for writing..." when its folder does not exist or the file
/// cannot be created, "<where>: error while writing '<path>'" when the stream fails (a full disk);
/// `path` is then left as it was.
template <class Write>
void write_file_atomically(const std::filesystem::path& path, std::string_view where,
                           Write&& write) {
    std::error_code ec;
    if (!path.has_filename() ||
        !std::filesystem::is_directory(path.parent_path().empty() ? "." : path.parent_path(), ec)) {
        throw io_error(detail::concat(where, ": cannot open '", path.string(),
                                      "' for writing: its folder does not exist"));
    }
    write_atomically(path, [&](const std::filesystem::path& temporary) {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) {
            throw io_error(
                detail::concat(where, ": cannot open '", path.string(), "' for writing"));
        }
        std::forward<Write>(write)(static_cast<std::ostream&>(out));
        out.close();
        if (!out) {
            throw io_error(detail::concat(where, ": error while writing '", path.string(), "'"));
        }
    });
}

/// A fresh folder beside `target` that replaces `target` (a folder, or nothing) on commit();
/// removed with everything in it otherwise.
class atomic_folder {
public:
    /// Creates the fresh folder; the target's parent folder must exist.
    explicit atomic_folder(std::filesystem::path target) : target_(std::move(target)) {
        if (!target_.has_filename()) {
            target_ = target_.parent_path(); // "out/" names the folder out
        }
        const std::filesystem::path parent = target_.parent_path();
        std::error_code ec;
        if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
            throw io_error(detail::concat("atomic_folder: the parent folder of '", target_.string(),
                                          "' does not exist"));
        }
        staging_ = sibling("partial");
        std::filesystem::create_directory(staging_, ec);
        if (ec) {
            throw io_error(detail::concat("atomic_folder: cannot create '", staging_.string(),
                                          "': ", ec.message()));
        }
    }
    atomic_folder(const atomic_folder&) = delete;
    atomic_folder& operator=(const atomic_folder&) = delete;
    ~atomic_folder() {
        if (!committed_) {
            std::error_code ignored;
            std::filesystem::remove_all(staging_, ignored);
        }
    }

    /// Where the files are written.
    [[nodiscard]] const std::filesystem::path& path() const { return staging_; }
    /// The folder they end up in.
    [[nodiscard]] const std::filesystem::path& target() const { return target_; }

    /// Move an existing target aside, rename the new folder onto it, remove the old one. A
    /// target that is not a folder is left alone (io_error).
    void commit() {
        std::error_code ec;
        const auto status = std::filesystem::symlink_status(target_, ec);
        std::filesystem::path old;
        if (std::filesystem::exists(status)) {
            if (!std::filesystem::is_directory(status)) {
                throw io_error(detail::concat("atomic_folder: '", target_.string(),
                                              "' exists and is not a folder"));
            }
            old = sibling("old");
            std::filesystem::rename(target_, old, ec);
            if (ec) {
                throw io_error(detail::concat("atomic_folder: cannot move the old '",
                                              target_.string(), "' aside: ", ec.message()));
            }
        }
        std::filesystem::rename(staging_, target_, ec);
        if (ec) {
            std::error_code ignored;
            if (!old.empty()) {
                std::filesystem::rename(old, target_, ignored); // put the old one back
            }
            throw io_error(detail::concat("atomic_folder: cannot move the new '", target_.string(),
                                          "' into place: ", ec.message()));
        }
        committed_ = true;
        if (!old.empty()) {
            std::filesystem::remove_all(old, ec); // a leftover is harmless: a hidden sibling
        }
    }

private:
    std::filesystem::path sibling(const char* kind) const {
        return target_.parent_path() / detail::concat(".", target_.filename().string(), ".", kind,
                                                      "-", detail::process_number(), "-",
                                                      detail::next_partial_number());
    }

    std::filesystem::path target_;
    std::filesystem::path staging_;
    bool committed_ = false;
};

/// Call write(fresh_folder) and make that folder `target` (replacing an old one) when it returns;
/// when write throws, `target` is left as it was and the exception propagates.
template <class Write>
void write_folder_atomically(const std::filesystem::path& target, Write&& write) {
    atomic_folder folder(target);
    std::forward<Write>(write)(folder.path());
    folder.commit();
}

} // namespace xrestore
