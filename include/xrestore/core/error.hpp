#pragma once
/// @file error.hpp
/// The project's exception hierarchy. Every user-facing check throws a type derived from
/// xrestore::error whose message names the argument, the expectation and what came.
///
/// @code
/// try { auto k = xrestore::box_kernel(0); } catch (const xrestore::error& e) { std::cerr <<
/// e.what(); }
/// @endcode

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace xrestore {

/// Base class of every exception thrown by xrestore.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A value (a size, a probability, a number of iterations...) is out of its valid range.
class value_error : public error {
public:
    using error::error;
};

/// Array shapes do not fit together or have the wrong rank.
class shape_error : public error {
public:
    using error::error;
};

/// A file is missing, unreadable, truncated or malformed.
class io_error : public error {
public:
    using error::error;
};

namespace detail {

template <class... Parts>
std::string concat(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
}

/// Message in the house format: "<where>: <argument> must be <expected>, got <got>".
template <class Got>
std::string describe(std::string_view where, std::string_view argument, std::string_view expected,
                     const Got& got) {
    return concat(where, ": ", argument, " must be ", expected, ", got ", got);
}

} // namespace detail

/// Throw value_error unless `ok`; the message is built only on failure.
template <class Got>
void require(bool ok, std::string_view where, std::string_view argument, std::string_view expected,
             const Got& got) {
    if (!ok) {
        throw value_error(detail::describe(where, argument, expected, got));
    }
}

} // namespace xrestore
