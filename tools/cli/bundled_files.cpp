// The bundled files' lookup (see bundled_files.hpp).
#include "bundled_files.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#ifndef XRESTORE_SHARE_FROM_BIN
#define XRESTORE_SHARE_FROM_BIN "../share/xrestore"
#endif

namespace xrestore::cli {

namespace {

namespace fs = std::filesystem;

const char* variable_of(bundle which) {
    return which == bundle::data ? "XRESTORE_DATA_DIR" : "XRESTORE_MODELS_DIR";
}

const char* folder_of(bundle which) {
    return which == bundle::data ? "data" : "models";
}

/// The running program (empty where /proc/self/exe cannot be read).
fs::path executable() {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : self;
}

} // namespace

bundled_file find_bundled(bundle which, const std::string& relative) {
    bundled_file found;
    fs::path folder;
    std::string how;
    const char* variable = std::getenv(variable_of(which));
    if (variable != nullptr && *variable != '\0') {
        folder = variable;
        how = std::string("from ") + variable_of(which);
    } else if (const fs::path self = executable(); !self.empty()) {
        folder =
            (self.parent_path() / XRESTORE_SHARE_FROM_BIN / folder_of(which)).lexically_normal();
        how = "beside the executable " + self.string();
    } else {
        found.looked_in.push_back(std::string("nowhere: ") + variable_of(which) +
                                  " is unset and /proc/self/exe cannot be read");
        return found;
    }
    const fs::path candidate = folder / relative;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) {
        const fs::path canonical = fs::weakly_canonical(candidate, ec);
        found.path = ec ? candidate.string() : canonical.string();
    }
    found.looked_in.push_back(candidate.string() + " (" + how + ")");
    return found;
}

std::string bundled_not_found(bundle which, const std::string& what, const bundled_file& found) {
    std::string places;
    for (const std::string& place : found.looked_in) {
        places += (places.empty() ? "" : ", ") + place;
    }
    return what + " was not found: looked in " + places + "; set " + variable_of(which) +
           " to the folder that holds it (<prefix>/share/xrestore/" + folder_of(which) +
           " of an installed xrestore)";
}

} // namespace xrestore::cli
