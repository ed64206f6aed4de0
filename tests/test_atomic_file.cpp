#define BOOST_TEST_MODULE atomic_file
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <xrestore/io/atomic_file.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>

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
