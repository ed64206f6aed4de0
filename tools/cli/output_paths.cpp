// The inputs and outputs of a command, checked before it runs (see output_paths.hpp).
#include "output_paths.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/io/atomic_file.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace xrestore::cli {

namespace fs = std::filesystem;

namespace {

/// The path as the file system resolves it (symbolic links, "..", relative to the working folder).
fs::path resolved(const std::string& path) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
    if (ec) {
        p = fs::absolute(path).lexically_normal();
    }
    return p.has_filename() ? p : p.parent_path(); // "out/" is the folder out
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

/// "a, b or c"
std::string one_of(const std::vector<std::string>& items) {
    std::string text;
    for (std::size_t i = 0; i < items.size(); ++i) {
        text += i == 0 ? "" : (i + 1 == items.size() ? " or " : ", ");
        text += items[i];
    }
    return text;
}

/// Whether a file can be created in `folder` (tried, not guessed from permission bits).
std::string unwritable_reason(const fs::path& folder) {
    const fs::path probe = folder / (".xrestore-write-test-" + std::to_string(::getpid()));
    {
        std::ofstream f(probe);
        if (!f || !(f << 'x') || !f.flush()) {
            return "a file cannot be created there";
        }
    }
    std::error_code ignored;
    fs::remove(probe, ignored);
    return {};
}

/// Whether `path` names the file `file` (resolved): the same path, or another name of it.
bool same_file(const std::string& path, const fs::path& file) {
    std::error_code ec;
    return resolved(path) == file || fs::equivalent(path, file, ec);
}

/// Whether `inner` is `outer` or inside it.
bool is_within(const fs::path& inner, const fs::path& outer) {
    const auto [end, _] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
    return end == outer.end();
}

} // namespace

file_plan& file_plan::input(std::string flag, const std::string& path) {
    if (!path.empty()) {
        inputs_.push_back({std::move(flag), path});
    }
    return *this;
}

file_plan& file_plan::output(std::string flag, const std::string& path,
                             std::vector<std::string> extensions) {
    if (!path.empty()) {
        outputs_.push_back({std::move(flag), path, std::move(extensions)});
    }
    return *this;
}

file_plan& file_plan::report_folder(std::string flag, const std::string& path, std::string marker) {
    if (!path.empty()) {
        folders_.push_back({std::move(flag), path, {}, std::move(marker)});
    }
    return *this;
}

void file_plan::check() const {
    const std::string& where = command_;
    auto name = [](const entry& e) { return e.flag + " '" + e.path + "'"; };
    // no two outputs name the same file, no output names an input
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
        const fs::path file = resolved(outputs_[i].path);
        for (std::size_t j = 0; j < i; ++j) {
            if (same_file(outputs_[j].path, file)) {
                throw value_error(where + ": " + name(outputs_[i]) + " must be another file than " +
                                  name(outputs_[j]) +
                                  ", got the same file: one would overwrite the other");
            }
        }
        for (const entry& in : inputs_) {
            if (same_file(in.path, file)) {
                throw value_error(where + ": " + name(outputs_[i]) + " must not be the input " +
                                  name(in) + ", got the same file: it would be overwritten");
            }
        }
        for (const entry& folder : folders_) {
            if (is_within(file, resolved(folder.path))) {
                throw value_error(where + ": " + name(outputs_[i]) + " must not be inside " +
                                  name(folder) + ", which is replaced as a whole");
            }
        }
    }
    // every output file: a known extension, in an existing folder that can be written, not a
    // folder itself
    for (const entry& out : outputs_) {
        const fs::path file = resolved(out.path);
        std::error_code ec;
        if (fs::is_directory(file, ec)) {
            throw io_error(where + ": " + name(out) + " must name a file, got a folder");
        }
        if (!out.extensions.empty()) {
            const std::string ext = lower(fs::path(out.path).extension().string());
            if (std::find(out.extensions.begin(), out.extensions.end(), ext) ==
                out.extensions.end()) {
                throw io_error(where + ": " + name(out) + " must end in " + one_of(out.extensions) +
                               ", got " + (ext.empty() ? "no extension" : "'" + ext + "'"));
            }
        }
        const fs::path folder = file.parent_path();
        if (!fs::is_directory(folder, ec)) {
            throw io_error(where + ": " + name(out) + " must be in an existing folder, got '" +
                           folder.string() + "', which " +
                           (fs::exists(folder, ec) ? "is not a folder" : "does not exist"));
        }
        if (const std::string why = unwritable_reason(folder); !why.empty()) {
            throw io_error(where + ": " + name(out) + " must be in a folder that can be written, " +
                           "got '" + folder.string() + "': " + why);
        }
    }
    // report folders: a new, empty or earlier report folder, whose parent can be written
    for (const entry& out : folders_) {
        const fs::path folder = resolved(out.path);
        std::error_code ec;
        if (fs::exists(folder, ec) && !fs::is_directory(folder, ec)) {
            throw io_error(where + ": " + name(out) + " must be a folder, got a file");
        }
        if (fs::is_directory(folder, ec) && !fs::is_empty(folder, ec) &&
            !fs::exists(folder / out.marker, ec)) {
            throw io_error(where + ": " + name(out) + " must be a new or empty folder, or one an " +
                           "earlier run wrote (with " + out.marker + "), since it is replaced " +
                           "as a whole; got a folder holding other files");
        }
        fs::create_directories(folder.parent_path(), ec);
        if (ec) {
            throw io_error(where + ": cannot create the folder of " + name(out) + ": " +
                           ec.message());
        }
        if (const std::string why = unwritable_reason(folder.parent_path()); !why.empty()) {
            throw io_error(where + ": " + name(out) + " must be in a folder that can be written, " +
                           "got '" + folder.parent_path().string() + "': " + why);
        }
        for (const entry& in : inputs_) {
            if (is_within(resolved(in.path), folder)) {
                throw io_error(where + ": " + name(out) + " must not hold the input " + name(in) +
                               ": the folder is replaced as a whole");
            }
        }
    }
}

void write_text_file(const fs::path& path, std::string_view text, std::string_view what) {
    write_file_atomically(path, what, [&](std::ostream& out) {
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
    });
}

} // namespace xrestore::cli
