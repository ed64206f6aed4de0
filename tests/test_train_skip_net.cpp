// Deep Image Prior's skip encoder-decoder (train/skip_net.hpp) against PyTorch autograd
// (tests/data/train/dip_skip_*.safetensors, made by tools/dev/make_dip_golden.py with the twin
// tools/dev/dip_torch.py): output, loss, the input gradient and every parameter gradient, in
// double and in float; the default and wide layouts' parameter counts against the twin's; and
// every refused input.
#include <boost/test/unit_test.hpp>

#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/state_dict.hpp>
#include <xrestore/train/losses.hpp>
#include <xrestore/train/skip_net.hpp>
#include <xrestore/train/state.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_skip_net)

using namespace xrestore;
namespace fs = std::filesystem;

namespace {

const fs::path train_dir = fs::path(XRESTORE_TEST_DIR) / "data" / "train";

/// tools/dev/make_dip_golden.py's CASES.
const std::vector<std::string> case_names = {"s3_bilinear_4to3_1x4x16x24",
                                             "s2_nearest_3to1_2x3x8x12_linear"};

struct dip_golden {
    state_dict weights;   ///< "weight.<name>" without the prefix
    state_dict gradients; ///< "grad.<name>" without the prefix, "input" included
    weight_tensor input;
    weight_tensor output;
    weight_tensor target;
    std::map<std::string, std::string> metadata;
};

dip_golden read_case(const std::string& name) {
    const state_dict all = read_safetensors(train_dir / ("dip_skip_" + name + ".safetensors"));
    dip_golden g;
    for (const auto& [key, t] : all.entries()) {
        if (key.starts_with("weight.")) {
            g.weights.insert(key.substr(7), t);
        } else if (key.starts_with("grad.")) {
            g.gradients.insert(key.substr(5), t);
        } else if (key == "input") {
            g.input = t;
        } else if (key == "output") {
            g.output = t;
        } else if (key == "target") {
            g.target = t;
        } else {
            BOOST_FAIL("unexpected tensor " << key);
        }
    }
    g.metadata = all.metadata;
    return g;
}

std::vector<std::size_t> size_list(const std::string& text) {
    std::vector<std::size_t> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        out.push_back(std::stoul(item));
    }
    return out;
}

train::skip_net_options options_of(const dip_golden& g) {
    train::skip_net_options o;
    o.in_chans = std::stoul(g.metadata.at("in_chans"));
    o.out_chans = std::stoul(g.metadata.at("out_chans"));
    o.down = size_list(g.metadata.at("down"));
    o.up = size_list(g.metadata.at("up"));
    o.skip = size_list(g.metadata.at("skip"));
    o.upsampling = g.metadata.at("upsampling") == "nearest" ? train::skip_upsampling::nearest
                                                            : train::skip_upsampling::bilinear;
    o.sigmoid = g.metadata.at("sigmoid") == "1";
    return o;
}

template <class T>
train::tensor4<T> as_tensor4(const weight_tensor& t) {
    BOOST_TEST_REQUIRE(t.shape.size() == 4U);
    auto out = train::tensor4<T>::from_shape({t.shape[0], t.shape[1], t.shape[2], t.shape[3]});
    std::transform(t.values.begin(), t.values.end(), out.begin(),
                   [](float v) { return static_cast<T>(v); });
    return out;
}

template <class Values>
double norm_of(const Values& v) {
    double s = 0.0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        s += static_cast<double>(v.data()[i]) * static_cast<double>(v.data()[i]);
    }
    return std::sqrt(s);
}

template <class Values>
double relative_error(const Values& g, const weight_tensor& ref) {
    BOOST_TEST_REQUIRE(g.size() == ref.values.size());
    double diff2 = 0.0;
    for (std::size_t i = 0; i < g.size(); ++i) {
        const double d = static_cast<double>(g.data()[i]) - ref.values[i];
        diff2 += d * d;
    }
    return std::sqrt(diff2) / norm_of(ref.values);
}

/// Output, loss and every gradient of the case in T, each against the reference: relative error
/// <= tolerance per tensor; a bias whose exact gradient is 0 (a batch norm follows; listed in
/// the file) must be below tolerance times the largest gradient norm.
template <class T>
void check_case(const std::string& name, double tolerance) {
    const dip_golden g = read_case(name);
    train::skip_net<T> net(options_of(g), 99);
    const auto params = net.parameters();
    BOOST_TEST(params.size() == g.weights.entries().size());
    train::load_state_dict(params, g.weights);

    const train::tensor4<T> y = net.forward(as_tensor4<T>(g.input));
    const double out_error = relative_error(y, g.output);
    BOOST_TEST(out_error <= tolerance, name << ": output relative error " << out_error);
    const train::loss_result<T> l = train::mse_loss(y, as_tensor4<T>(g.target));
    const double reference = std::stod(g.metadata.at("loss"));
    const double loss_error = std::abs(static_cast<double>(l.value) - reference) / reference;
    BOOST_TEST(loss_error <= tolerance, name << ": loss " << l.value << " vs " << reference);

    train::zero_grad(params);
    const train::tensor4<T> dz = net.backward(l.grad);
    double worst = relative_error(dz, *g.gradients.find("input"));
    BOOST_TEST(worst <= tolerance, name << ": input gradient relative error " << worst);

    std::set<std::string> zero;
    {
        std::stringstream in(g.metadata.at("zero_gradients"));
        std::string item;
        while (std::getline(in, item, ',')) {
            zero.insert(item);
        }
    }
    BOOST_TEST(!zero.empty()); // the conv biases before batch norms
    double scale = 0.0;
    for (const auto& [n, t] : g.gradients.entries()) {
        scale = std::max(scale, norm_of(t.values));
    }
    for (const train::parameter<T>* p : params) {
        const weight_tensor* ref = g.gradients.find(p->name);
        BOOST_TEST_REQUIRE(ref != nullptr, p->name);
        if (zero.contains(p->name)) {
            BOOST_TEST(p->name.ends_with(".bias"));
            const double ratio = norm_of(p->grad) / scale;
            BOOST_TEST(ratio <= tolerance, name << ": " << p->name << " should be 0, is " << ratio
                                                << " of the largest gradient");
            continue;
        }
        const double e = relative_error(p->grad, *ref);
        BOOST_TEST(e <= tolerance, name << ": " << p->name << " relative error " << e);
        worst = std::max(worst, e);
    }
    BOOST_TEST_MESSAGE(name << " (" << (sizeof(T) == 8 ? "double" : "float") << "): output "
                            << out_error << ", loss " << loss_error
                            << ", worst gradient relative error " << worst);
}

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

} // namespace

BOOST_AUTO_TEST_CASE(double_matches_pytorch_autograd) {
    for (const std::string& name : case_names) {
        check_case<double>(name, 1e-6);
    }
}

BOOST_AUTO_TEST_CASE(float_matches_pytorch_autograd) {
    // torch's own float32 gradients are within 1.8e-5 of the float64 reference (file metadata)
    for (const std::string& name : case_names) {
        check_case<float>(name, 1e-4);
    }
}

BOOST_AUTO_TEST_CASE(parameter_names_and_counts_are_the_twins) {
    // SkipNet(32, 3) of tools/dev/dip_torch.py: 1,041,815 parameters in 112 tensors; the 128x5
    // variant 2,217,831 in 112.
    const auto count = [](train::skip_net<float>& net) {
        std::size_t n = 0;
        for (const auto* p : net.parameters()) {
            n += p->size();
        }
        return n;
    };
    train::skip_net<float> standard(train::skip_net_options{}, 0);
    BOOST_TEST(standard.parameters().size() == 112U);
    BOOST_TEST(count(standard) == 1'041'815U);
    train::skip_net<float> wide(train::skip_net_options::wide(), 0);
    BOOST_TEST(wide.parameters().size() == 112U);
    BOOST_TEST(count(wide) == 2'217'831U);
    // the golden files' names are exactly the native ones
    for (const std::string& name : case_names) {
        const dip_golden g = read_case(name);
        train::skip_net<float> net(options_of(g), 0);
        std::set<std::string> native;
        for (const auto* p : net.parameters()) {
            native.insert(p->name);
        }
        std::set<std::string> file;
        for (const auto& [n, t] : g.weights.entries()) {
            file.insert(n);
        }
        BOOST_TEST(native == file, name);
        // three buffers (running mean, running variance, count) per batch norm: five per scale
        // and one per skip branch
        std::size_t norms = 0;
        for (std::size_t s : net.options().skip) {
            norms += s > 0 ? 6 : 5;
        }
        BOOST_TEST(net.buffers().size() == 3 * norms, name);
    }
}

BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_network) {
    train::skip_net_options o;
    o.in_chans = 2;
    o.down = {3, 4};
    o.up = {3, 4};
    o.skip = {1, 0};
    train::skip_net<float> a(o, 7);
    train::skip_net<float> b(o, 7);
    train::skip_net<float> c(o, 8);
    const auto pa = a.parameters();
    const auto pb = b.parameters();
    const auto pc = c.parameters();
    BOOST_TEST(pa[0]->value == pb[0]->value);
    BOOST_TEST(pa[0]->value != pc[0]->value);
    // sigmoid output in (0, 1)
    train::tensor4<float> z = xt::ones<float>({1, 2, 8, 8}) * 0.05F;
    z(0, 1, 3, 4) = 0.3F;
    const auto y = a.forward(z);
    BOOST_TEST((y.shape() == std::array<std::size_t, 4>{1, 3, 8, 8}));
    BOOST_TEST(std::all_of(y.begin(), y.end(), [](float v) { return v > 0.0F && v < 1.0F; }));
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_with_its_name) {
    train::skip_net_options o;
    o.up = {16, 32};
    BOOST_TEST(error_of([&] { train::skip_net<float> n(o); }).find("one entry per scale") !=
               std::string::npos);
    o = {};
    o.down = {};
    o.up = {};
    o.skip = {};
    BOOST_TEST(error_of([&] { train::skip_net<float> n(o); }).find("at least one scale") !=
               std::string::npos);
    o = {};
    o.down[2] = 0;
    BOOST_TEST(error_of([&] { train::skip_net<float> n(o); }).find("down[2]") != std::string::npos);
    o = {};
    o.in_chans = 0;
    BOOST_TEST(error_of([&] { train::skip_net<float> n(o); }).find("in_chans") !=
               std::string::npos);

    train::skip_net_options small;
    small.in_chans = 2;
    small.down = {3, 4};
    small.up = {3, 4};
    small.skip = {1, 1};
    train::skip_net<float> net(small, 0);
    BOOST_TEST(net.size_multiple() == 4U);
    const std::string not_multiple = error_of([&] {
        (void)net.forward(xt::zeros<float>({1, 2, 8, 10}));
    });
    BOOST_TEST(not_multiple.find("multiples of 2^2 = 4") != std::string::npos, not_multiple);
    const std::string channels = error_of([&] {
        (void)net.forward(xt::zeros<float>({1, 3, 8, 8}));
    });
    BOOST_TEST(channels.find("N x 2 x H x W") != std::string::npos, channels);
    train::skip_net<float> fresh(small, 0);
    BOOST_TEST(!error_of([&] { (void)fresh.backward(xt::zeros<float>({1, 3, 8, 8})); }).empty());
}

BOOST_AUTO_TEST_SUITE_END() // test_train_skip_net
