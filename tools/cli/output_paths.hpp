#pragma once
// The files a command reads and writes, checked before any long computation: every output's
// folder exists and can be written, its extension is one its writer knows, no two outputs name
// the same file and no output names an input (after resolving the paths); a report folder
// (study, compare) may be new, empty, or one the same command wrote, and must not hold an input,
// because it is replaced as a whole. Text outputs (CSV, JSON, markdown) are written atomically.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace xrestore::cli {

/// The inputs and outputs of one command run; check() throws the first problem.
class file_plan {
public:
    explicit file_plan(std::string command) : command_(std::move(command)) {}

    /// An input file given as `flag` (e.g. "IN", "--ref"); empty paths are ignored.
    file_plan& input(std::string flag, const std::string& path);
    /// An output file given as `flag`, written by a writer that knows `extensions` (".png",
    /// ".npy"; compared without case; empty: any); empty paths are ignored.
    file_plan& output(std::string flag, const std::string& path,
                      std::vector<std::string> extensions);
    /// An output folder that is replaced as a whole when the run ends (write_folder_atomically):
    /// it may not exist yet (its parents are created by check()), be empty, or hold `marker`,
    /// the file an earlier run of the command wrote there; it must not hold an input.
    file_plan& report_folder(std::string flag, const std::string& path, std::string marker);

    /// Throws io_error or value_error ("<command>: <flag> '<path>' must ..., got ...") for the
    /// first output that cannot be written as planned.
    void check() const;

private:
    struct entry {
        std::string flag;
        std::string path;
        std::vector<std::string> extensions{};
        std::string marker{}; ///< report folders only
    };
    std::string command_;
    std::vector<entry> inputs_;
    std::vector<entry> outputs_;
    std::vector<entry> folders_;
};

/// `text` written to `path` atomically (a temporary file beside it, renamed into place); io_error
/// naming `what` (e.g. "restore: --history") when it cannot be written.
void write_text_file(const std::filesystem::path& path, std::string_view text,
                     std::string_view what);

} // namespace xrestore::cli
