#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <xrestore/io/atomic_file.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/io/safetensors.hpp>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_atomic_file)

using namespace xrestore;
using xrestore::test::scratch_dir;
using xrestore::test::slurp;
using xrestore::test::spill;

namespace {

/// How many entries `folder` holds.
std::size_t file_count(const std::filesystem::path& folder) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder)) {
        ++n;
    }
    return n;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_target_appears_only_complete_and_the_temporary_file_is_gone) {
    const scratch_dir dir("xrestore_atomic_");
    const auto target = dir / "result.npy";
    write_atomically(target, [&](const std::filesystem::path& temporary) {
        // the writer sees the target's folder and extension, and the target does not exist yet
        BOOST_TEST(temporary.parent_path() == target.parent_path());
        BOOST_TEST(temporary.extension() == ".npy");
        BOOST_TEST(temporary != target);
        BOOST_TEST(!std::filesystem::exists(target));
        spill(temporary, "new content");
    });
    BOOST_TEST(slurp(target) == "new content");
    BOOST_TEST(file_count(dir.path) == 1u);
}

BOOST_AUTO_TEST_CASE(a_failing_writer_leaves_the_old_file_and_no_temporary_file) {
    const scratch_dir dir("xrestore_atomic_");
    const auto target = dir / "report.md";
    spill(target, "old report");
    BOOST_CHECK_THROW(write_atomically(target,
                                       [](const std::filesystem::path& temporary) {
                                           spill(temporary, "half a rep");
                                           throw std::runtime_error("killed while writing");
                                       }),
                      std::runtime_error);
    BOOST_TEST(slurp(target) == "old report");
    BOOST_TEST(file_count(dir.path) == 1u);
}

BOOST_AUTO_TEST_CASE(an_existing_file_is_replaced_whole) {
    const scratch_dir dir("xrestore_atomic_");
    const auto target = dir / "x.png";
    spill(target, std::string(1000, 'a'));
    write_atomically(target, [](const std::filesystem::path& t) { spill(t, "short"); });
    BOOST_TEST(slurp(target) == "short");
}

BOOST_AUTO_TEST_CASE(a_writer_that_writes_nothing_or_a_missing_folder_is_an_io_error) {
    const scratch_dir dir("xrestore_atomic_");
    BOOST_CHECK_THROW(write_atomically(dir / "x.csv", [](const std::filesystem::path&) {}),
                      io_error);
    BOOST_TEST(!std::filesystem::exists(dir / "x.csv"));
    BOOST_CHECK_THROW(atomic_file(dir / "no_such_folder" / "x.csv"), io_error);
    BOOST_CHECK_THROW(atomic_file(dir.path / ""), io_error);
}

BOOST_AUTO_TEST_CASE(two_files_of_one_process_get_different_temporary_names) {
    const scratch_dir dir("xrestore_atomic_");
    const atomic_file a(dir / "same.txt");
    const atomic_file b(dir / "same.txt");
    BOOST_TEST(a.temporary_path() != b.temporary_path());
}

// ---- the library's writers go through a temporary file ---------------------------------------

namespace {

/// Runs `write` with files limited to `bytes` (writes past it fail with EFBIG, as when a disk
/// fills up or a run is killed mid-write), restoring the limit afterwards.
template <class Write>
void with_file_size_limit(rlim_t bytes, Write&& write) {
    rlimit saved{};
    getrlimit(RLIMIT_FSIZE, &saved);
    const auto previous = std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limited{bytes, saved.rlim_max};
    setrlimit(RLIMIT_FSIZE, &limited);
    try {
        write();
    } catch (...) {
        setrlimit(RLIMIT_FSIZE, &saved);
        std::signal(SIGXFSZ, previous);
        throw;
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, previous);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_writer_cut_off_midway_leaves_the_old_file) {
    // writing in place truncated the old file first, then stopped midway: a 0-byte or partial
    // file where the complete old one was
    const scratch_dir dir("xrestore_atomic_");
    const image x = xt::ones<float>({3, 64, 64}); // 48 KB as .npy or 16-bit .png
    const image noisy = xrestore::test::uniform_tensor<3>({3, 64, 64}, 1); // 12 KB as .png
    state_dict sd;
    sd.insert("w", weight_tensor{{3, 64, 64}, std::vector<float>(x.size(), 0.5F)});
    struct one_writer {
        std::string name;
        std::function<void(const std::filesystem::path&)> write;
    };
    const std::vector<one_writer> writers{
        {"old.npy", [&](const std::filesystem::path& p) { write_npy(p, x); }},
        {"old.png", [&](const std::filesystem::path& p) { write_png(p, noisy); }},
        {"old16.png", [&](const std::filesystem::path& p) { write_png(p, x, {.bit_depth = 16}); }},
        {"saved.npy", [&](const std::filesystem::path& p) { save_array(p, x); }},
        {"old.safetensors", [&](const std::filesystem::path& p) { write_safetensors(p, sd); }},
    };
    for (const one_writer& w : writers) {
        BOOST_TEST_CONTEXT(w.name) {
            const auto target = dir / w.name;
            spill(target, "the old content");
            BOOST_CHECK_THROW(with_file_size_limit(4096, [&] { w.write(target); }), io_error);
            const std::string now = slurp(target);
            BOOST_TEST(now == "the old content", "the old file became " << now.size() << " bytes");
            BOOST_TEST(file_count(dir.path) == 1u); // no temporary file left behind
            w.write(target);                        // without the limit it is replaced whole
            BOOST_TEST(slurp(target).size() > 4096u);
            std::filesystem::remove(target);
        }
    }
}

// ---- folders ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_folder_appears_only_complete) {
    const scratch_dir dir("xrestore_atomic_");
    const auto target = dir / "report";
    write_folder_atomically(target, [&](const std::filesystem::path& folder) {
        BOOST_TEST(folder.parent_path() == dir.path);
        BOOST_TEST(!std::filesystem::exists(target));
        spill(folder / "report.md", "new report");
        spill(folder / "a.png", "new image");
    });
    BOOST_TEST(slurp(target / "report.md") == "new report");
    BOOST_TEST(file_count(target) == 2u);
    BOOST_TEST(file_count(dir.path) == 1u); // no staging or old folder left
}

BOOST_AUTO_TEST_CASE(an_old_folder_is_replaced_whole_and_kept_when_the_writer_fails) {
    const scratch_dir dir("xrestore_atomic_");
    const auto target = dir / "study";
    std::filesystem::create_directory(target);
    spill(target / "report.md", "old report");
    spill(target / "results.json", "old numbers");
    spill(target / "old_only.png", "an image the new run does not write");
    // a run that fails while writing (killed, disk full...): the old report stays, no mix
    BOOST_CHECK_THROW(write_folder_atomically(target,
                                              [](const std::filesystem::path& folder) {
                                                  spill(folder / "results.json", "new numbers");
                                                  spill(folder / "a.png", "new image");
                                                  throw std::runtime_error("killed midway");
                                              }),
                      std::runtime_error);
    BOOST_TEST(slurp(target / "report.md") == "old report");
    BOOST_TEST(slurp(target / "results.json") == "old numbers");
    BOOST_TEST(file_count(target) == 3u);
    BOOST_TEST(file_count(dir.path) == 1u);
    // a run that completes replaces the folder as a whole
    write_folder_atomically(target, [](const std::filesystem::path& folder) {
        spill(folder / "report.md", "new report");
        spill(folder / "results.json", "new numbers");
    });
    BOOST_TEST(slurp(target / "report.md") == "new report");
    BOOST_TEST(slurp(target / "results.json") == "new numbers");
    BOOST_TEST(!std::filesystem::exists(target / "old_only.png"));
    BOOST_TEST(file_count(dir.path) == 1u);
}

BOOST_AUTO_TEST_CASE(a_folder_target_that_is_a_file_or_has_no_parent_is_an_io_error) {
    const scratch_dir dir("xrestore_atomic_");
    spill(dir / "taken", "a file");
    BOOST_CHECK_THROW(
        write_folder_atomically(
            dir / "taken", [](const std::filesystem::path& folder) { spill(folder / "x", "x"); }),
        io_error);
    BOOST_TEST(slurp(dir / "taken") == "a file");
    BOOST_TEST(file_count(dir.path) == 1u);
    BOOST_CHECK_THROW(atomic_folder(dir / "no" / "such" / "parent"), io_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_atomic_file
