#include <boost/test/unit_test.hpp>

// Inputs found by the fuzzers in fuzz/ (see fuzz/README.md), replayed on every build: each file
// tests/data/fuzz_regressions/<reader>_<name>.bin goes to its reader (pth: parse_pth, then
// nn::unet::from_state_dict on what it returns; safetensors: parse_safetensors; image:
// read_image_from_memory; sidecar: load_weights on a copy of tests/data/weights/small.pth with
// the file beside it as its JSON sidecar), which must return or throw a type derived from
// xrestore::error.
// Anything else fails the test, naming the file: another exception, a crash (signal), a hang
// (no answer within the time limit), or more than 2 GiB of memory (outside sanitizer builds the
// child's address space is capped, so the allocation fails with std::bad_alloc; under them its
// peak resident size is checked when it ends). Each file runs in a forked child so that a
// crash or a hang is reported instead of ending the suite.

#include <xrestore/core/error.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/io/pth.hpp>
#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/nn/unet.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_fuzz_regressions)

namespace fs = std::filesystem;

namespace {

const fs::path regressions = fs::path(XRESTORE_TEST_DIR) / "data" / "fuzz_regressions";

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

/// Longest a reader may take on one input (sanitizer builds are several times slower).
constexpr std::chrono::seconds time_limit{sanitized ? 60 : 30};
/// Memory a reader may use beyond what the test process already has: the fuzzing contract.
constexpr std::size_t memory_limit = std::size_t{2} << 30;

enum class reader { pth, safetensors, image, sidecar };

/// The reader a file name asks for: its prefix up to the first '_'.
std::optional<reader> reader_of(const std::string& name) {
    static const std::map<std::string, reader, std::less<>> prefixes{
        {"pth", reader::pth},
        {"safetensors", reader::safetensors},
        {"image", reader::image},
        {"sidecar", reader::sidecar}};
    const auto it = prefixes.find(std::string_view(name).substr(0, name.find('_')));
    return it == prefixes.end() ? std::nullopt : std::optional<reader>(it->second);
}

std::vector<fs::path> regression_files() {
    std::vector<fs::path> files;
    if (fs::is_directory(regressions)) {
        for (const auto& entry : fs::directory_iterator(regressions)) {
            if (entry.is_regular_file()) {
                files.push_back(entry.path());
            }
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::string read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// "" when `job` returns or throws an xrestore::error, else what it threw.
template <class Job>
std::string contract(Job&& job) {
    try {
        job();
        return {};
    } catch (const xrestore::error&) {
        return {};
    } catch (const std::bad_alloc& e) {
        return std::string("threw ") + typeid(e).name() + " (" + e.what() +
               "): it needs more than 2 GiB of memory";
    } catch (const std::exception& e) {
        return std::string("threw ") + typeid(e).name() + ", not an xrestore::error: " + e.what();
    } catch (...) {
        return "threw something that is not a std::exception";
    }
}

/// The reader `r` on `bytes`, then unet::from_state_dict on a state_dict parse_pth returns.
std::string run_reader(reader r, const std::string& bytes, const std::string& name) {
    const std::span<const unsigned char> span(reinterpret_cast<const unsigned char*>(bytes.data()),
                                              bytes.size());
    return contract([&] {
        switch (r) {
        case reader::pth: {
            const xrestore::state_dict sd = xrestore::parse_pth(span, name);
            try {
                (void)xrestore::nn::unet::from_state_dict(sd);
            } catch (const xrestore::error&) {
            }
            break;
        }
        case reader::safetensors:
            (void)xrestore::parse_safetensors(span, name);
            break;
        case reader::image:
            (void)xrestore::read_image_from_memory(span, name);
            break;
        case reader::sidecar: {
            // the weights and their sidecar in a fresh folder of the child's own
            const fs::path dir =
                fs::temp_directory_path() / ("xrestore_sidecar_" + std::to_string(getpid()));
            fs::create_directories(dir);
            fs::copy_file(fs::path(XRESTORE_TEST_DIR) / "data" / "weights" / "small.pth",
                          dir / "weights.pth", fs::copy_options::overwrite_existing);
            std::ofstream(dir / "weights.json", std::ios::binary) << bytes;
            struct remove_at_end {
                fs::path dir;
                ~remove_at_end() {
                    std::error_code ignored;
                    fs::remove_all(dir, ignored);
                }
            } cleanup{dir};
            (void)xrestore::load_weights(dir / "weights.pth");
            break;
        }
        }
    });
}

/// This process's virtual and resident sizes in bytes (0 if unknown).
std::pair<std::size_t, std::size_t> memory_now() {
    std::ifstream statm("/proc/self/statm");
    std::size_t virtual_pages = 0;
    std::size_t resident_pages = 0;
    statm >> virtual_pages >> resident_pages;
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return {virtual_pages * page, resident_pages * page};
}

/// Cap the address space at its current size + memory_limit, so that a reader asking for more
/// gets std::bad_alloc at once (not under sanitizers, which reserve terabytes of shadow memory;
/// there the peak resident size is checked after the fact).
void limit_memory() {
    if constexpr (!sanitized) {
        const std::size_t now = memory_now().first;
        if (now != 0) {
            const rlimit limit{now + memory_limit, now + memory_limit};
            setrlimit(RLIMIT_AS, &limit);
        }
    }
}

/// Run `job` in a child process with its memory capped (and its CPU time, when `cpu_seconds` is
/// not 0: past it the child gets SIGXCPU); "" when it returns "", else what it returned, how it
/// crashed, that it ran past `limit`, or that its peak resident size grew by more than
/// `growth_limit` (default memory_limit).
std::string run_isolated(const std::function<std::string()>& job, std::chrono::milliseconds limit,
                         rlim_t cpu_seconds = 0, std::size_t growth_limit = memory_limit) {
    std::array<int, 2> fds{};
    if (pipe(fds.data()) != 0) {
        return std::string("pipe failed: ") + std::strerror(errno);
    }
    const pid_t pid = fork();
    if (pid < 0) {
        return std::string("fork failed: ") + std::strerror(errno);
    }
    if (pid == 0) {
        // the child dies of its signals: Boost.Test's handlers would resume the suite in it
        for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) {
            std::signal(sig, SIG_DFL);
        }
        close(fds[0]);
        limit_memory();
        if (cpu_seconds != 0) {
            const rlimit cpu{cpu_seconds, cpu_seconds + 1};
            setrlimit(RLIMIT_CPU, &cpu);
        }
        std::string message = job().substr(0, 4000);
        const bool ok = message.empty();
        while (!message.empty()) {
            const ssize_t n = write(fds[1], message.data(), message.size());
            if (n <= 0) {
                break;
            }
            message.erase(0, static_cast<std::size_t>(n));
        }
        close(fds[1]);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    const std::size_t resident_before = memory_now().second;
    int status = 0;
    rusage usage{};
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (wait4(pid, &status, WNOHANG, &usage) != pid) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            close(fds[0]);
            return "did not finish within " + std::to_string(limit.count()) + " ms (a hang?)";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::string message;
    std::array<char, 1024> buffer{};
    ssize_t n = 0;
    while ((n = read(fds[0], buffer.data(), buffer.size())) > 0) {
        message.append(buffer.data(), static_cast<std::size_t>(n));
    }
    close(fds[0]);
    if (WIFSIGNALED(status)) {
        return "crashed with signal " + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return message.empty() ? "exited with status " + std::to_string(WEXITSTATUS(status))
                               : message;
    }
    const auto peak = static_cast<std::size_t>(usage.ru_maxrss) * 1024; // Linux: kilobytes
    if (resident_before != 0 && peak > resident_before + growth_limit) {
        return "used " + std::to_string(peak >> 20) + " MiB of memory at its peak, more than " +
               std::to_string(growth_limit >> 20) + " MiB beyond the test's own " +
               std::to_string(resident_before >> 20) + " MiB";
    }
    return {};
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

/// A safetensors file whose header describes `n` empty float32 tensors t0, t1, ...
std::string many_empty_tensors(std::size_t n) {
    std::string header = "{";
    for (std::size_t i = 0; i < n; ++i) {
        header += i == 0 ? "\"t" : ",\"t";
        header += std::to_string(i);
        header += R"(":{"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
    }
    header += "}";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string file(8, '\0');
    for (std::size_t k = 0; k < 8; ++k) {
        file[k] = static_cast<char>((header.size() >> (8 * k)) & 0xFFU);
    }
    return file + header;
}

/// parse_safetensors on `bytes` in a child with `cpu_seconds` of CPU time: "" when `expect`
/// accepts the state_dict it returns or the message it throws, else what went wrong.
std::string parse_in_child(
    const std::string& bytes, rlim_t cpu_seconds,
    const std::function<std::string(const xrestore::state_dict*, const std::string&)>& expect) {
    return run_isolated(
        [&] {
            std::string outcome;
            const std::string violation = contract([&] {
                try {
                    const xrestore::state_dict sd = xrestore::parse_safetensors(
                        std::span(reinterpret_cast<const unsigned char*>(bytes.data()),
                                  bytes.size()),
                        "many.safetensors");
                    outcome = expect(&sd, "");
                } catch (const xrestore::error& e) {
                    outcome = expect(nullptr, e.what());
                }
            });
            return violation.empty() ? outcome : violation;
        },
        time_limit, cpu_seconds);
}

/// CPU seconds that separate a linear parse of a few MB (milliseconds) from a quadratic one
/// (minutes), whatever else the machine runs.
constexpr rlim_t parse_cpu_limit = sanitized ? 20 : 5;

} // namespace

BOOST_AUTO_TEST_CASE(every_file_names_a_reader) {
    const auto files = regression_files();
    BOOST_TEST_REQUIRE(!files.empty(), "no files in " << regressions);
    for (const fs::path& file : files) {
        const std::string name = file.filename().string();
        BOOST_TEST(reader_of(name).has_value(),
                   name << " must start with pth_, safetensors_, image_ or sidecar_");
    }
}

BOOST_AUTO_TEST_CASE(every_reader_has_regressions) {
    std::map<reader, int> count;
    for (const fs::path& file : regression_files()) {
        if (const auto r = reader_of(file.filename().string())) {
            ++count[*r];
        }
    }
    BOOST_TEST(count[reader::pth] > 0);
    BOOST_TEST(count[reader::safetensors] > 0);
    BOOST_TEST(count[reader::image] > 0);
    BOOST_TEST(count[reader::sidecar] > 0);
}

BOOST_AUTO_TEST_CASE(readers_return_or_throw_xrestore_errors) {
    for (const fs::path& file : regression_files()) {
        const std::string name = file.filename().string();
        const auto r = reader_of(name);
        if (!r) {
            continue;
        }
        BOOST_TEST_CONTEXT(name) {
            const std::string bytes = read_bytes(file);
            const std::string what =
                run_isolated([&] { return run_reader(*r, bytes, name); }, time_limit);
            BOOST_TEST(what.empty(), name << ": " << what);
        }
    }
}

// A 1 KB .pth whose 40 keys repeat one broadcast view of 2^24 elements: the reader refuses it
// before decoding a tensor that would pass the budget of values (4 x the file size + 2^20),
// where it used to decode 2^26 values (260-340 MB, 19 s under the fuzzing sanitizers; found by
// fuzz_pth as a timeout) before refusing.
BOOST_AUTO_TEST_CASE(repeated_broadcast_views_are_refused_before_they_are_decoded) {
    const fs::path file = regressions / "pth_repeated_broadcast_views.bin";
    const std::string bytes = read_bytes(file);
    const std::string what = run_isolated(
        [&] {
            try {
                static_cast<void>(xrestore::parse_pth(
                    std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()),
                    "views.pth"));
            } catch (const xrestore::error& e) {
                return contains(e.what(), "the tensors decode to more than 1052752 values from a "
                                          "1044-byte file (too many keys repeat shared storages)")
                           ? std::string()
                           : std::string("unexpected message: ") + e.what();
            }
            return std::string("accepted");
        },
        time_limit, 0, std::size_t{128} << 20);
    BOOST_TEST(what.empty(), what);
}

BOOST_AUTO_TEST_CASE(the_harness_reports_every_kind_of_violation) {
    using namespace std::chrono_literals;
    const auto fine = run_isolated(
        [] { return contract([] { throw xrestore::io_error("a corrupt file"); }); }, 10s);
    BOOST_TEST(fine.empty(), fine);
    const auto escaped =
        run_isolated([] { return contract([] { throw std::out_of_range("vector::at"); }); }, 10s);
    BOOST_TEST(contains(escaped, "not an xrestore::error: vector::at"), escaped);
    const auto crashed = run_isolated([]() -> std::string { std::abort(); }, 10s);
    BOOST_TEST(contains(crashed, "crashed with signal"), crashed);
    const auto hung = run_isolated(
        []() -> std::string {
            while (true) {
                std::this_thread::sleep_for(10ms);
            }
        },
        300ms);
    BOOST_TEST(contains(hung, "did not finish"), hung);
    if constexpr (!sanitized) {
        const auto greedy = run_isolated(
            [] {
                return contract([] {
                    static char* volatile sink = nullptr; // keeps the allocation from being elided
                    sink = new char[std::size_t{3} << 30];
                    delete[] sink;
                });
            },
            10s);
        BOOST_TEST(contains(greedy, "more than 2 GiB"), greedy);
    }
}

BOOST_AUTO_TEST_CASE(a_safetensors_header_with_40000_entries_parses_in_linear_time) {
    // 40,000 empty tensors in 2.2 MB: a duplicate-key callback that rescanned the object after
    // every entry took 78 s here (SIGXCPU in the child); the linear parse takes milliseconds
    const std::string what = parse_in_child(
        many_empty_tensors(40'000), parse_cpu_limit,
        [](const xrestore::state_dict* sd, const std::string& error) -> std::string {
            if (sd == nullptr) {
                return "refused: " + error;
            }
            if (sd->size() != 40'000 || sd->at("t39999").shape != std::vector<std::size_t>{0}) {
                return "returned " + std::to_string(sd->size()) + " tensors, not 40000";
            }
            return {};
        });
    BOOST_TEST(what.empty(), what);
}

BOOST_AUTO_TEST_CASE(a_safetensors_header_is_refused_beyond_100000_tensors) {
    const std::string what = parse_in_child(
        many_empty_tensors(100'001), parse_cpu_limit,
        [](const xrestore::state_dict* sd, const std::string& error) -> std::string {
            if (sd != nullptr) {
                return "accepted " + std::to_string(sd->size()) + " tensors";
            }
            if (!contains(error, "many.safetensors': header must describe at most 100000 "
                                 "tensors, got 100001 entries")) {
                return "refused with another message: " + error;
            }
            return {};
        });
    BOOST_TEST(what.empty(), what);
}

BOOST_AUTO_TEST_SUITE_END() // test_fuzz_regressions
