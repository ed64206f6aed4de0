#pragma once
/// @file scratch.hpp
/// Working memory of a layer's step that is written before it is read: unlike std::vector it
/// leaves its elements uninitialised (no pass over the memory to zero it).
///
/// @code
/// xrestore::train::detail::scratch<float> cols(depth * pixels);   // then fill, then read
/// @endcode

#include <cstddef>
#include <memory>
#include <type_traits>

namespace xrestore::train::detail {

/// count uninitialised elements of a trivial type T.
template <class T>
class scratch {
    static_assert(std::is_trivially_default_constructible_v<T>,
                  "train::detail::scratch holds trivial types");

public:
    explicit scratch(std::size_t count)
        : data_(count > 0 ? std::make_unique_for_overwrite<T[]>(count) : nullptr), size_(count) {}
    [[nodiscard]] T* data() { return data_.get(); }
    [[nodiscard]] const T* data() const { return data_.get(); }
    [[nodiscard]] std::size_t size() const { return size_; }

private:
    std::unique_ptr<T[]> data_;
    std::size_t size_;
};

} // namespace xrestore::train::detail
