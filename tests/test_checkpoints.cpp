#include <boost/test/unit_test.hpp>

// Real training checkpoints, as PyTorch 2.x users save them: the state_dict inside a checkpoint
// dict, key prefixes from wrappers (DataParallel, torch.compile, training modules), integer
// buffers and float64 tensors, other architectures, and the call convention that must travel
// with the weights. The .pth files are written here (tests/pth_writer.hpp) from the U-Net
// fixtures, in the layout torch.save uses.

#include <xrestore/denoisers/unet_call.hpp>
#include <xrestore/denoisers/unet_denoiser.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/io/pth.hpp>
#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/nn/unet.hpp>
#include <xrestore/nn/unet_architecture.hpp>
#include <xrestore/nn/unet_state_dict.hpp>

#include "pth_writer.hpp"
#include "test_support.hpp"

#include <xtensor/xmath.hpp>
#include <xtensor/xsort.hpp>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_checkpoints)

using namespace xrestore;
using namespace xrestore::test;
namespace fs = std::filesystem;

namespace {

const fs::path unet_dir = fs::path(XRESTORE_TEST_DIR) / "data" / "unet";

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

/// The U-Net fixture c4_p2_1to1.pth (1 -> 1 channels, chans 4, 2 pools; 14 tensors).
const state_dict& small_unet() {
    static const state_dict sd = load_weights(unet_dir / "c4_p2_1to1.pth");
    return sd;
}

/// The tensors of `sd`, renamed by `rename` and stored as `type`.
std::vector<saved_tensor> as_saved(const state_dict& sd,
                                   const std::function<std::string(const std::string&)>& rename,
                                   const std::string& type = "FloatStorage") {
    std::vector<saved_tensor> out;
    for (const auto& [name, t] : sd.entries()) {
        out.push_back({rename(name), t, type});
    }
    return out;
}

std::string same_name(const std::string& n) {
    return n;
}

/// A .pth holding `tensors` as a bare state_dict.
std::string state_dict_file(const std::vector<saved_tensor>& tensors) {
    pth_builder b;
    pickle_writer p;
    b.state_dict(p, tensors);
    return b.file(p);
}

/// A .pth holding `tensors` in a checkpoint dict under `key`, with an epoch and an optimizer
/// state around them, and `extra` (key, string) entries.
std::string checkpoint_file(const std::string& key, const std::vector<saved_tensor>& tensors,
                            const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    pth_builder b;
    pickle_writer p;
    p.op('}').op('(').str("epoch").integer(12).str(key);
    b.state_dict(p, tensors);
    p.str("optimizer").op('}').op('(').str("lr").integer(1).op('u');
    for (const auto& [k, v] : extra) {
        p.str(k).str(v);
    }
    p.op('u');
    return b.file(p);
}

double max_abs_difference(const tensor<4>& a, const tensor<4>& b) {
    BOOST_TEST_REQUIRE(a.shape() == b.shape(), boost::test_tools::per_element());
    return static_cast<double>(xt::amax(xt::abs(a - b))());
}

/// The network's output on the fixture's 33 x 31 input.
tensor<4> run(const nn::unet& net) {
    return net.forward(read_npy<4>(unet_dir / "c4_p2_1to1_in_1x1x33x31.npy"));
}

weight_tensor integers(std::vector<std::size_t> shape, std::vector<std::int64_t> values,
                       weight_dtype as) {
    weight_tensor t;
    t.shape = std::move(shape);
    t.integers = std::move(values);
    t.stored_as = as;
    return t;
}

} // namespace

// ---- checkpoint dicts -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(checkpoints_hold_the_state_dict_under_known_keys) {
    const state_dict& sd = small_unet();
    const tensor<4> expected = run(nn::unet::from_state_dict(sd));
    for (const std::string key : {"state_dict", "model", "model_state_dict", "net", "ema"}) {
        BOOST_TEST_CONTEXT("key " << key) {
            const std::string bytes =
                checkpoint_file(key, as_saved(sd, same_name), {{"call", "residual"}});
            const state_dict got = parse_pth(
                std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()),
                key + ".pth");
            BOOST_TEST_REQUIRE(got.size() == sd.size());
            for (std::size_t k = 0; k < sd.size(); ++k) {
                BOOST_TEST(got.entries()[k].first == sd.entries()[k].first);
                BOOST_TEST(got.entries()[k].second.values == sd.entries()[k].second.values,
                           boost::test_tools::per_element());
            }
            // the checkpoint's strings are metadata: here the call convention it declares
            BOOST_TEST(got.metadata.at("call") == "residual");
            BOOST_TEST(got.find("epoch") == nullptr);
            BOOST_TEST(got.notes.empty());
            BOOST_TEST(max_abs_difference(run(nn::unet::from_state_dict(got)), expected) == 0.0);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_checkpoint_with_two_state_dicts_reads_the_first_and_says_so) {
    const state_dict& sd = small_unet();
    pth_builder b;
    pickle_writer p;
    p.op('}').op('(').str("ema");
    b.state_dict(p, as_saved(sd, same_name));
    p.str("model");
    b.state_dict(p, as_saved(sd, same_name));
    p.op('u');
    const std::string bytes = b.file(p);
    const state_dict got = parse_pth(
        std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()), "two.pth");
    BOOST_TEST(got.size() == sd.size());
    BOOST_TEST_REQUIRE(got.notes.size() == 1u);
    BOOST_TEST(contains(got.notes[0], "the checkpoint holds state_dicts under 'model' and 'ema'"),
               got.notes[0]);
    BOOST_TEST(contains(got.notes[0], "torch.save(checkpoint['ema'], path)"), got.notes[0]);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_without_a_known_key_names_its_keys) {
    const std::string bytes = checkpoint_file("weights", as_saved(small_unet(), same_name));
    const std::string message = io_error_message([&] {
        (void)parse_pth(
            std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()),
            "odd.pth");
    });
    BOOST_TEST(contains(message, "value of 'epoch' must be a tensor, got an int (12)"), message);
    BOOST_TEST(contains(message, "'state_dict', 'model', 'model_state_dict', 'net' or 'ema'"),
               message);
    BOOST_TEST(contains(message, "the file's keys: 'epoch', 'weights', 'optimizer'"), message);
}

// ---- key prefixes -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(wrapper_prefixes_are_stripped_from_a_saved_checkpoint) {
    scratch_dir dir("xrestore_checkpoints_");
    const state_dict& sd = small_unet();
    const tensor<4> expected = run(nn::unet::from_state_dict(sd));
    // DataParallel, torch.compile, training modules, and their nestings
    for (const std::string prefix :
         {"module.", "_orig_mod.", "model.", "net.", "unet.", "module._orig_mod.",
          "_orig_mod.module.", "model.module._orig_mod.", "net.unet."}) {
        BOOST_TEST_CONTEXT("prefix " << prefix) {
            spill(dir / "w.pth",
                  checkpoint_file("state_dict",
                                  as_saved(sd, [&](const std::string& n) { return prefix + n; })));
            const state_dict got = load_weights(dir / "w.pth");
            BOOST_TEST(got.entries().front().first == prefix + sd.entries().front().first);
            const nn::unet_tensors t = nn::read_unet_tensors(got);
            BOOST_TEST(t.prefix == prefix);
            BOOST_TEST((t.config == nn::unet_config{1, 1, 4, 2}));
            BOOST_TEST(max_abs_difference(run(nn::unet::from_state_dict(got)), expected) == 0.0);
        }
    }
}

BOOST_AUTO_TEST_CASE(keys_that_still_do_not_match_are_listed) {
    const state_dict& sd = small_unet();
    // one layer saved under another name (a renamed module): the message shows it
    const auto renamed = [](const std::string& n) {
        return n == "up_conv.0.layers.4.weight" ? std::string("up_conv.0.layers.3.weight") : n;
    };
    state_dict moved;
    for (const saved_tensor& s : as_saved(sd, renamed)) {
        moved.insert(s.name, s.tensor);
    }
    std::string message = error_message([&] { (void)nn::unet::from_state_dict(moved); });
    BOOST_TEST(contains(message, "missing tensor 'up_conv.0.layers.4.weight' for a fastMRI "
                                 "U-Net with 2 pool layers, chans 4; of the file's 14 tensors, "
                                 "such a U-Net has no 'up_conv.0.layers.3.weight' (1 tensor)"),
               message);
    // a wrapped U-Net with a stray tensor beside it
    state_dict stray;
    for (const auto& [name, t] : sd.entries()) {
        stray.insert("model." + name, t);
    }
    stray.insert("loss.weight", weight_tensor{{2}, {1, 2}});
    message = error_message([&] { (void)nn::unet::from_state_dict(stray); });
    BOOST_TEST(contains(message, "unexpected tensor 'loss.weight' (shape 2) for a U-Net with 2 "
                                 "pool layers, chans 4; its tensors are under the prefix 'model.'"),
               message);
    // two U-Nets in one state_dict
    state_dict twice;
    for (const std::string prefix : {"student.", "teacher."}) {
        for (const auto& [name, t] : sd.entries()) {
            twice.insert(prefix + name, t);
        }
    }
    message = error_message([&] { (void)nn::unet::from_state_dict(twice); });
    BOOST_TEST(contains(message, "the file holds 2 U-Nets, under the prefixes 'student.', "
                                 "'teacher.' (2 tensors)"),
               message);
}

// ---- integer buffers and float64 tensors ------------------------------------------------------

BOOST_AUTO_TEST_CASE(integer_buffers_load_exactly_and_the_unet_leaves_them_out) {
    scratch_dir dir("xrestore_checkpoints_");
    const state_dict& sd = small_unet();
    // torch.optim.swa_utils.AveragedModel: 'n_averaged' (int64) beside 'module.*'; a BatchNorm
    // counter; every integer storage type, with values that need all their bits
    std::vector<saved_tensor> tensors{
        {"n_averaged", integers({}, {1234567890123}, weight_dtype::int64), "LongStorage"}};
    for (const saved_tensor& s : as_saved(sd, [](const std::string& n) { return "module." + n; })) {
        tensors.push_back(s);
    }
    tensors.push_back(
        {"module.norm.num_batches_tracked",
         integers({}, {std::numeric_limits<std::int64_t>::min()}, weight_dtype::int64),
         "LongStorage"});
    tensors.push_back({"i32", integers({2}, {-5, 2147483647}, weight_dtype::int32), "IntStorage"});
    tensors.push_back({"i16", integers({2}, {-2, 32767}, weight_dtype::int16), "ShortStorage"});
    tensors.push_back({"i8", integers({2}, {-128, 127}, weight_dtype::int8), "CharStorage"});
    tensors.push_back({"u8", integers({2}, {255, 0}, weight_dtype::uint8), "ByteStorage"});
    tensors.push_back({"b", integers({2}, {1, 0}, weight_dtype::boolean), "BoolStorage"});
    spill(dir / "averaged.pth", state_dict_file(tensors));
    const state_dict got = load_weights(dir / "averaged.pth");
    BOOST_TEST_REQUIRE(got.size() == tensors.size());
    for (const saved_tensor& s : tensors) {
        BOOST_TEST_CONTEXT("tensor " << s.name) {
            const weight_tensor& t = got.at(s.name);
            BOOST_TEST((t.stored_as == s.tensor.stored_as));
            BOOST_TEST(t.shape == s.tensor.shape, boost::test_tools::per_element());
            if (s.tensor.is_integer()) {
                BOOST_TEST(t.is_integer());
                BOOST_TEST(t.values.empty());
                BOOST_TEST(t.integers == s.tensor.integers, boost::test_tools::per_element());
            } else {
                BOOST_TEST(t.values == s.tensor.values, boost::test_tools::per_element());
            }
        }
    }
    BOOST_TEST(got.notes.empty());
    // the U-Net has no use for them: it loads without them, and says which it left out
    const nn::unet net = nn::unet::from_state_dict(got);
    BOOST_TEST(max_abs_difference(run(net), run(nn::unet::from_state_dict(sd))) == 0.0);
    BOOST_TEST_REQUIRE(net.load_notes().size() == 1u);
    const std::string& note = net.load_notes().front();
    BOOST_TEST(contains(note, "left out 7 integer tensors a fastMRI U-Net has no use for: "
                              "'n_averaged' (int64 scalar), "
                              "'module.norm.num_batches_tracked' (int64 scalar), 'i32' (int32, "
                              "shape 2)"),
               note);
    // an integer tensor where the network needs weights is an error that names it
    state_dict wrong;
    for (const auto& [name, t] : sd.entries()) {
        wrong.insert(name, name == "conv.layers.0.weight"
                               ? integers(t.shape, std::vector<std::int64_t>(t.numel(), 1),
                                          weight_dtype::int64)
                               : t);
    }
    const std::string message = error_message([&] { (void)nn::unet::from_state_dict(wrong); });
    BOOST_TEST(contains(message, "tensor 'conv.layers.0.weight' must hold floating-point values, "
                                 "got int64"),
               message);
}

BOOST_AUTO_TEST_CASE(float64_tensors_are_converted_to_float32_with_a_note) {
    scratch_dir dir("xrestore_checkpoints_");
    const state_dict& sd = small_unet();
    // the whole U-Net saved as float64 (model.double()), plus a value float32 cannot hold exactly
    std::vector<saved_tensor> tensors = as_saved(sd, same_name, "DoubleStorage");
    spill(dir / "double.pth", state_dict_file(tensors));
    const state_dict got = load_weights(dir / "double.pth");
    BOOST_TEST_REQUIRE(got.size() == sd.size());
    for (const auto& [name, t] : got.entries()) {
        BOOST_TEST((t.stored_as == weight_dtype::float64));
        BOOST_TEST(t.values == sd.at(name).values, boost::test_tools::per_element());
    }
    BOOST_TEST_REQUIRE(got.notes.size() == 1u);
    BOOST_TEST(got.notes[0] == "14 float64 tensors converted to float32: 'down_sample_layers.0."
                               "layers.0.weight', 'down_sample_layers.0.layers.4.weight', "
                               "'down_sample_layers.1.layers.0.weight', "
                               "'down_sample_layers.1.layers.4.weight', ...",
               got.notes[0]);
    BOOST_TEST(max_abs_difference(run(nn::unet::from_state_dict(got)),
                                  run(nn::unet::from_state_dict(sd))) == 0.0);
    // rounding: 0.1 as a double becomes the nearest float32
    pickle_writer p;
    std::string raw;
    append_le(raw, std::bit_cast<std::uint64_t>(0.1), 8);
    append_le(raw, std::bit_cast<std::uint64_t>(-1e300), 8);
    p.ordered_dict().op('(').str("x").tensor("DoubleStorage", "0", 2, 0, {2}, {1}).op('u');
    const std::string bytes = make_zip({{"archive/data.pkl", p.done()}, {"archive/data/0", raw}});
    const state_dict x = parse_pth(
        std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()), "x.pth");
    BOOST_TEST(x.at("x").values[0] == 0.1F);
    BOOST_TEST(x.at("x").values[1] == -std::numeric_limits<float>::infinity());
    BOOST_TEST(x.notes.at(0) == "1 float64 tensor converted to float32: 'x'");
}

BOOST_AUTO_TEST_CASE(safetensors_float64_and_integers_are_read_and_written) {
    scratch_dir dir("xrestore_checkpoints_");
    state_dict sd;
    sd.insert("w", weight_tensor{{2}, {0.5F, -3.0F}});
    sd.insert("steps", integers({}, {-9007199254740993}, weight_dtype::int64));
    sd.insert("mask", integers({3}, {1, 0, 1}, weight_dtype::boolean));
    sd.insert("ids", integers({2}, {-7, 65535}, weight_dtype::int32));
    // written: floats as asked, integers in their own type; read back exactly
    write_safetensors(dir / "a.safetensors", sd, weight_dtype::float16);
    const std::string header = slurp(dir / "a.safetensors").substr(8, 400);
    BOOST_TEST(contains(header, R"("steps":{"dtype":"I64","shape":[],"data_offsets":[4,12]})"),
               header);
    BOOST_TEST(contains(header, R"("mask":{"dtype":"BOOL")"), header);
    BOOST_TEST(contains(header, R"("ids":{"dtype":"I32")"), header);
    const state_dict back = read_safetensors(dir / "a.safetensors");
    BOOST_TEST((back.at("w").stored_as == weight_dtype::float16));
    BOOST_TEST(back.at("w").values == sd.at("w").values, boost::test_tools::per_element());
    for (const std::string name : {"steps", "mask", "ids"}) {
        BOOST_TEST((back.at(name).stored_as == sd.at(name).stored_as), name);
        BOOST_TEST(back.at(name).integers == sd.at(name).integers,
                   boost::test_tools::per_element());
    }
    BOOST_TEST(back.notes.empty());
    // F64, as numpy and torch write it: converted with a note
    std::string f64 = R"({"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})";
    f64.append((8 - f64.size() % 8) % 8, ' ');
    std::string bytes;
    append_le(bytes, f64.size(), 8);
    bytes += f64;
    append_le(bytes, std::bit_cast<std::uint64_t>(0.1), 8);
    append_le(bytes, std::bit_cast<std::uint64_t>(2.5), 8);
    spill(dir / "d.safetensors", bytes);
    const state_dict d = load_weights(dir / "d.safetensors");
    BOOST_TEST((d.at("d").stored_as == weight_dtype::float64));
    BOOST_TEST(d.at("d").values == (std::vector<float>{0.1F, 2.5F}),
               boost::test_tools::per_element());
    BOOST_TEST(d.notes.at(0) == "1 float64 tensor converted to float32: 'd'");
    // asking to store floats as an integer type is refused
    BOOST_CHECK_THROW(write_safetensors(dir / "b.safetensors", sd, weight_dtype::int64),
                      value_error);
}

// ---- other architectures ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(another_architecture_is_named_by_its_keys_not_by_a_dtype) {
    scratch_dir dir("xrestore_checkpoints_");
    // the start of a torchvision ResNet: BatchNorm with its int64 counter
    const std::vector<saved_tensor> resnet{
        {"conv1.weight", weight_tensor{{2, 1, 3, 3}, std::vector<float>(18, 0.5F)}},
        {"bn1.weight", weight_tensor{{2}, {1, 1}}},
        {"bn1.bias", weight_tensor{{2}, {0, 0}}},
        {"bn1.running_mean", weight_tensor{{2}, {0, 0}}},
        {"bn1.running_var", weight_tensor{{2}, {1, 1}}},
        {"bn1.num_batches_tracked", integers({}, {100}, weight_dtype::int64), "LongStorage"},
        {"fc.weight", weight_tensor{{2, 2}, {1, 0, 0, 1}}},
        {"fc.bias", weight_tensor{{2}, {0, 0}}},
    };
    spill(dir / "resnet.pth", checkpoint_file("model", resnet));
    const state_dict sd = load_weights(dir / "resnet.pth"); // the file itself is fine
    BOOST_TEST(sd.at("bn1.num_batches_tracked").integers.at(0) == 100);
    const std::string message = io_error_message([&] { (void)nn::unet::from_state_dict(sd); });
    BOOST_TEST(contains(message, "unet: this is not a fastMRI U-Net (it has no tensor "
                                 "'down_sample_layers.0.layers.0.weight', under any prefix): it "
                                 "has keys like 'conv1.weight', 'bn1.weight', 'bn1.bias', "
                                 "'bn1.running_mean', 'bn1.running_var', "
                                 "'bn1.num_batches_tracked', ... (8 tensors)"),
               message);
    BOOST_TEST(!contains(message, "int64"), message);
    // the denoiser loader says the same, before anything about a call convention
    BOOST_TEST(contains(error_message([&] { (void)load_unet_denoiser(dir / "resnet.pth"); }),
                        "this is not a fastMRI U-Net"));
}

// ---- the call convention travels with the weights ---------------------------------------------

BOOST_AUTO_TEST_CASE(a_file_that_declares_no_call_convention_is_refused) {
    scratch_dir dir("xrestore_checkpoints_");
    fs::copy_file(unet_dir / "c8_p4.pth", dir / "net.pth");
    // no sidecar, no metadata: no guess
    std::string message = error_message([&] { (void)load_unet_denoiser(dir / "net.pth"); });
    BOOST_TEST(contains(message, "unet denoiser: '" + (dir / "net.pth").string() +
                                     "' does not declare how the network is called, and no "
                                     "convention was chosen: pass one to "
                                     "load_unet_denoiser(path, unet_call::residual)"),
               message);
    BOOST_TEST(contains(message, "raw D(y) = U(y); normalised D(y) = s U((y - m_c) / s) + m_c; "
                                 "residual D(y) = y - s U((y - m_c) / s)"),
               message);
    BOOST_TEST(contains(message, "JSON sidecar '" + (dir / "net.json").string() + "'"), message);
    // the caller's own way to choose is named
    message = error_message([&] {
        (void)resolve_unet_call(load_weights(dir / "net.pth"), std::nullopt, "net.pth",
                                "choose one with --call raw, normalised or residual");
    });
    BOOST_TEST(contains(message, "no convention was chosen: choose one with --call raw, "
                                 "normalised or residual."),
               message);
    // chosen by the caller
    BOOST_TEST(to_string(load_unet_denoiser(dir / "net.pth", unet_call::normalised).call()) ==
               "normalised");
    // declared by a sidecar
    spill(dir / "net.json", R"({"call": "residual"})");
    BOOST_TEST(to_string(load_unet_denoiser(dir / "net.pth").call()) == "residual");
    fs::remove(dir / "net.json");
    // declared inside a checkpoint, and a sidecar overrides it
    spill(dir / "ckpt.pth",
          checkpoint_file("state_dict", as_saved(load_weights(dir / "net.pth"), same_name),
                          {{"call", "normalised"}}));
    BOOST_TEST(to_string(load_unet_denoiser(dir / "ckpt.pth").call()) == "normalised");
    spill(dir / "ckpt.json", R"({"call": "raw"})");
    BOOST_TEST(to_string(load_unet_denoiser(dir / "ckpt.pth").call()) == "raw");
    // declared in safetensors metadata
    state_dict sd = load_weights(dir / "net.pth");
    sd.metadata["call"] = "residual";
    write_safetensors(dir / "net.safetensors", sd);
    BOOST_TEST(to_string(load_unet_denoiser(dir / "net.safetensors").call()) == "residual");
}

// ---- a committed checkpoint for the command line's tests --------------------------------------

namespace {

/// tests/data/weights/ema_checkpoint.pth: the U-Net c4_p2_1to1 as a torch.compile'd,
/// AveragedModel-wrapped model saved in float64 under a checkpoint's "ema" key, with its int64
/// counter and the call convention as a top-level string.
std::string ema_checkpoint() {
    std::vector<saved_tensor> tensors{
        {"n_averaged", integers({}, {5}, weight_dtype::int64), "LongStorage"}};
    for (const saved_tensor& s : as_saved(
             small_unet(), [](const std::string& n) { return "module._orig_mod." + n; },
             "DoubleStorage")) {
        tensors.push_back(s);
    }
    return checkpoint_file("ema", tensors, {{"call", "normalised"}});
}

} // namespace

BOOST_AUTO_TEST_CASE(committed_ema_checkpoint_is_what_the_writer_makes) {
    // XRESTORE_WRITE_FIXTURES=1 tests/tests_io --run_test=test_checkpoints rewrites it
    const fs::path fixture =
        fs::path(XRESTORE_TEST_DIR) / "data" / "weights" / "ema_checkpoint.pth";
    const std::string bytes = ema_checkpoint();
    if (std::getenv("XRESTORE_WRITE_FIXTURES") != nullptr) {
        spill(fixture, bytes);
    }
    BOOST_TEST_REQUIRE(slurp(fixture) == bytes);
    // it loads as the U-Net it wraps, with the declared call and both notes
    const state_dict sd = load_weights(fixture);
    BOOST_TEST(sd.metadata.at("call") == "normalised");
    BOOST_TEST(sd.notes.at(0).starts_with("14 float64 tensors converted to float32: "
                                          "'module._orig_mod.down_sample_layers.0.layers.0."
                                          "weight'"));
    const unet_denoiser d = load_unet_denoiser(fixture);
    BOOST_TEST(to_string(d.call()) == "normalised");
    BOOST_TEST(d.network().load_notes().at(0) ==
               "left out 1 integer tensor a fastMRI U-Net has no use for: 'n_averaged' (int64 "
               "scalar)");
    BOOST_TEST(max_abs_difference(run(d.network()), run(nn::unet::from_state_dict(small_unet()))) ==
               0.0);
}

// ---- the smallest input -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_minimum_input_size_message_states_the_real_minimum) {
    for (std::size_t pools = 1; pools <= 5; ++pools) {
        const nn::unet_config config{3, 3, 8, pools};
        const std::size_t side = std::size_t{1} << pools;
        BOOST_TEST_CONTEXT(pools << " pools") {
            // what the message states is the rule: 2s x 2s and s x 2s run, one less does not
            BOOST_CHECK_NO_THROW(nn::check_unet_input_size(config, 2 * side, 2 * side));
            BOOST_CHECK_NO_THROW(nn::check_unet_input_size(config, side, 2 * side));
            BOOST_CHECK_NO_THROW(nn::check_unet_input_size(config, 2 * side, side));
            BOOST_CHECK_THROW(nn::check_unet_input_size(config, 2 * side - 1, 2 * side - 1),
                              shape_error);
            BOOST_CHECK_THROW(nn::check_unet_input_size(config, side, side), shape_error);
            BOOST_CHECK_THROW(nn::check_unet_input_size(config, side - 1, 8 * side), shape_error);
            const std::string message =
                error_message([&] { nn::check_unet_input_size(config, side, side); });
            const std::string p = std::to_string(pools);
            const std::string s = std::to_string(side);
            const std::string m = std::to_string(2 * side);
            BOOST_TEST(contains(message, "unet: input " + s + " x " + s + " is too small for " + p +
                                             " pool layers: the smallest square input is " + m +
                                             " x " + m + " (each side at least 2^" + p + " = " + s +
                                             " and one of them at least 2 x 2^" + p + " = " + m +
                                             ", so that the " + p +
                                             "-times halved image, 1 x 1 here, keeps the 2 "
                                             "pixels instance norm needs)"),
                       message);
        }
    }
    // 4 pools: 32 x 32, as the shipped denoiser's error says on a 16 x 16 image
    const std::string message = error_message([] {
        nn::check_unet_input_size({3, 3, 32, 4}, 16, 16);
    });
    BOOST_TEST(contains(message, "the smallest square input is 32 x 32"), message);
}

BOOST_AUTO_TEST_SUITE_END() // test_checkpoints
