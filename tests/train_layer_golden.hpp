#pragma once
// Golden values of the train/ convolution and normalisation layers, from PyTorch
// (tools/dev/make_train_layer_golden.py): tests/data/train/<file>.json holds named cases, each
// a map of arrays {"shape": [...], "data": [...]} in float64 (row-major), plus scalars.
#include <xrestore/train/parameter.hpp>

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace xrestore::test {

/// The cases of tests/data/train/<file>.
inline nlohmann::json train_golden(const std::string& file) {
    std::ifstream in(std::filesystem::path(XRESTORE_TEST_DIR) / "data" / "train" / file);
    BOOST_REQUIRE_MESSAGE(in.good(), "missing golden file tests/data/train/" << file);
    return nlohmann::json::parse(in);
}

/// One array of a case as an xarray<T>.
template <class T>
xt::xarray<T> golden_array(const nlohmann::json& j) {
    const auto shape = j.at("shape").get<std::vector<std::size_t>>();
    const auto data = j.at("data").get<std::vector<double>>();
    xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
    BOOST_REQUIRE_EQUAL(a.size(), data.size());
    std::transform(data.begin(), data.end(), a.begin(), [](double v) { return static_cast<T>(v); });
    return a;
}

/// One N x C x H x W array of a case.
template <class T>
train::tensor4<T> golden_tensor4(const nlohmann::json& j) {
    const xt::xarray<T> a = golden_array<T>(j);
    BOOST_REQUIRE_EQUAL(a.dimension(), 4U);
    train::tensor4<T> t =
        train::tensor4<T>::from_shape({a.shape(0), a.shape(1), a.shape(2), a.shape(3)});
    std::copy(a.begin(), a.end(), t.begin());
    return t;
}

/// max |a - b| / max(max |b|, 1), with equal shapes required.
template <class A, class B>
double relative_max_error(const A& a, const B& b) {
    BOOST_REQUIRE(
        std::equal(a.shape().begin(), a.shape().end(), b.shape().begin(), b.shape().end()));
    double diff = 0.0;
    double scale = 1.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::abs(double(a.data()[i]) - double(b.data()[i])));
        scale = std::max(scale, std::abs(double(b.data()[i])));
    }
    return diff / scale;
}

} // namespace xrestore::test
