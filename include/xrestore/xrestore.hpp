#pragma once
/// @file xrestore.hpp
/// Umbrella header: every public xrestore header.

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/io/npy.hpp"
#include "xrestore/operators/adjoint_check.hpp"
#include "xrestore/operators/operator_norm.hpp"
