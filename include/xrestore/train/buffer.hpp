#pragma once
/// @file buffer.hpp
/// A layer's state that is saved with its weights but not trained: batch norm's running_mean,
/// running_var and num_batches_tracked. Layers that have some list them with `buffers()`, under
/// their state_dict names, so checkpoints save and restore them beside the parameters.
///
/// @code
/// xrestore::train::batch_norm<float> bn("bn", 16);
/// for (xrestore::train::buffer<float>* b : bn.buffers()) save(b->name, b->value, b->integer);
/// @endcode

#include <xtensor/xarray.hpp>

#include <string>

namespace xrestore::train {

/// A named non-trained tensor of a layer. `integer` marks a tensor PyTorch stores as int64
/// (num_batches_tracked): it holds whole numbers, exact in T up to 2^24 (float) or 2^53 (double).
template <class T>
struct buffer {
    std::string name;
    xt::xarray<T> value;
    bool integer = false;
};

} // namespace xrestore::train
