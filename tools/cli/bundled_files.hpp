#pragma once
// Where the command line finds the files it ships with (the sample photos and the default U-Net)
// at run time, so that no source-tree path is compiled into the program:
//   1. the environment variable XRESTORE_DATA_DIR (photos) or XRESTORE_MODELS_DIR (model), when
//      set: that folder only;
//   2. otherwise beside the executable (/proc/self/exe): <bin>/../share/xrestore/data and
//      .../models, where `cmake --install` puts them and where the build tree mirrors the
//      source tree's data/ and models/ (tools/cli/CMakeLists.txt).
// The relative path from the executable's folder is XRESTORE_SHARE_FROM_BIN, set by CMake from
// the install directories ("../share/xrestore").

#include <string>
#include <vector>

namespace xrestore::cli {

/// The two folders of bundled files.
enum class bundle { data, models };

/// A bundled file looked up: its path (canonical, empty when not found) and every place tried,
/// each with how it was chosen ("... (from XRESTORE_DATA_DIR)").
struct bundled_file {
    std::string path;
    std::vector<std::string> looked_in;
};

/// Look up `relative` (e.g. "images/butterfly_set5.png") in the folder of `which`.
bundled_file find_bundled(bundle which, const std::string& relative);

/// The message when `what` (e.g. "the bundled photo images/butterfly_set5.png") was not found:
/// where it was looked for, and how to point the program at it.
std::string bundled_not_found(bundle which, const std::string& what, const bundled_file& found);

} // namespace xrestore::cli
