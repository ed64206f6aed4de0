#pragma once
// Moved to core/fft.hpp; this forwarding header keeps old includes working.
#include "xrestore/core/fft.hpp"
