// train/patches.hpp and train/trainer.hpp: the patch sampler's crops, symmetries, noise levels,
// held-out choice and determinism; the training loop on a small stand-in network (two 3x3
// convolutions around a LeakyReLU): the loss falls, the log and evaluations are recorded, a run
// resumed from a checkpoint (.pth and safetensors) in fresh objects is bit-identical to an
// uninterrupted one, and the stop flag writes a checkpoint and returns.
#include <boost/test/unit_test.hpp>

#include <xrestore/io/weights.hpp>
#include <xrestore/train/activations.hpp>
#include <xrestore/train/conv2d.hpp>
#include <xrestore/train/patches.hpp>
#include <xrestore/train/trainer.hpp>

#include "test_support.hpp"

#include <xtensor/xbuilder.hpp>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_trainer)

using namespace xrestore;
using namespace xrestore::train;
using xrestore::test::scratch_dir;

namespace {

/// The stand-in: conv 3->4, LeakyReLU, conv 4->3, with the members the trainer uses.
struct tiny_net {
    conv2d<float> first{"first", 3, 4, {.seed = 1}};
    leaky_relu<float> act{0.2F};
    conv2d<float> second{"second", 4, 3, {.seed = 3}};
    tensor4<float> forward(const tensor4<float>& x) {
        return second.forward(act.forward(first.forward(x)));
    }
    tensor4<float> backward(const tensor4<float>& dy) {
        return first.backward(act.backward(second.backward(dy)));
    }
    std::vector<parameter<float>*> parameters() { return collect_parameters<float>(first, second); }
};

/// Photos whose pixel value encodes its position: v = (1000 * photo + 100 * c + ...) scaled.
image coded_photo(std::size_t index, std::size_t c, std::size_t h, std::size_t w) {
    image x = xt::zeros<float>({c, h, w});
    for (std::size_t k = 0; k < c; ++k) {
        for (std::size_t i = 0; i < h; ++i) {
            for (std::size_t j = 0; j < w; ++j) {
                x(k, i, j) = static_cast<float>(((index * 7 + k * 3 + i * 5 + j * 11) % 97) / 97.0);
            }
        }
    }
    return x;
}

patch_sampler small_data(std::uint64_t seed, std::size_t holdout = 1) {
    std::vector<image> photos;
    std::vector<std::string> names;
    for (std::size_t k = 0; k < 4; ++k) {
        photos.push_back(coded_photo(k, 3, 20 + k, 24));
        names.push_back("photo" + std::to_string(k) + ".png");
    }
    return patch_sampler(photos, names,
                         {.patch = 8,
                          .batch = 3,
                          .sigma_min = 0.05,
                          .sigma_max = 0.1,
                          .holdout = holdout,
                          .eval_size = 12,
                          .size_multiple = 4,
                          .seed = seed});
}

bool same(const tensor4<float>& a, const tensor4<float>& b) {
    return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

} // namespace

BOOST_AUTO_TEST_CASE(dihedral_cases_match_rot90_and_flip) {
    // a 3x3 crop 0..8 row-major; torch.rot90(k=1) over (H, W) gives [[2,5,8],[1,4,7],[0,3,6]]
    auto value = [](int turns, bool flip, std::size_t i, std::size_t j) {
        const auto [r, c] = train::detail::dihedral_source(i, j, 3, turns, flip);
        return static_cast<int>(3 * r + c);
    };
    BOOST_TEST(value(1, false, 0, 0) == 2);
    BOOST_TEST(value(1, false, 1, 0) == 1);
    BOOST_TEST(value(1, false, 2, 1) == 3);
    BOOST_TEST(value(2, false, 0, 0) == 8);
    BOOST_TEST(value(3, false, 0, 0) == 6); // rot90 k=3: [[6,3,0],[7,4,1],[8,5,2]]
    BOOST_TEST(value(3, false, 1, 2) == 1);
    BOOST_TEST(value(0, true, 0, 0) == 2); // flip of the identity
    BOOST_TEST(value(1, true, 0, 0) == 8); // flip of rot90: [[8,5,2],...]
    std::set<std::vector<int>> cases;      // the 8 symmetries are distinct
    for (int t = 0; t < 4; ++t) {
        for (bool f : {false, true}) {
            std::vector<int> v;
            for (std::size_t i = 0; i < 3; ++i) {
                for (std::size_t j = 0; j < 3; ++j) {
                    v.push_back(value(t, f, i, j));
                }
            }
            cases.insert(v);
        }
    }
    BOOST_TEST(cases.size() == 8U);
}

BOOST_AUTO_TEST_CASE(batches_are_seeded_crops_with_noise_in_range) {
    const patch_sampler a = small_data(5);
    const patch_sampler b = small_data(5);
    const patch_sampler c = small_data(6);
    const patch_batch x = a.batch(3);
    BOOST_TEST(same(x.clean, b.batch(3).clean));
    BOOST_TEST(same(x.noisy, b.batch(3).noisy));
    BOOST_TEST(!same(x.noisy, a.batch(4).noisy));
    BOOST_TEST(!same(x.noisy, c.batch(3).noisy));
    BOOST_TEST(x.clean.shape()[0] == 3U);
    BOOST_TEST(x.clean.shape()[2] == 8U);
    for (std::size_t s = 0; s < 3; ++s) {
        BOOST_TEST(x.sigmas[s] >= 0.05);
        BOOST_TEST(x.sigmas[s] <= 0.1);
        double sum = 0.0; // the noise's sample standard deviation is near sigma
        for (std::size_t i = 0; i < 3 * 64; ++i) {
            const double d = x.noisy.data()[s * 192 + i] - x.clean.data()[s * 192 + i];
            sum += d * d;
        }
        BOOST_TEST(std::sqrt(sum / 192.0) == x.sigmas[s], boost::test_tools::tolerance(0.2));
    }
    // every crop is a turned/flipped window of a training photo (photo 0-3 minus the held out)
    const std::vector<std::string> names = a.training_names();
    BOOST_TEST(names.size() == 3U);
    BOOST_TEST(std::count(names.begin(), names.end(), a.held_out().names[0]) == 0);
}

BOOST_AUTO_TEST_CASE(held_out_photos_are_fixed_evenly_spaced_and_cropped_to_a_multiple) {
    const patch_sampler a = small_data(5, 2);
    const patch_sampler c = small_data(9, 2);
    const held_out_set& h = a.held_out();
    // 4 photos sorted by name, 2 held out: positions floor((2k + 1) 4 / 4) = 1, 3
    BOOST_TEST(h.names == (std::vector<std::string>{"photo1.png", "photo3.png"}));
    BOOST_TEST(h.clean.shape()[2] == 12U); // eval_size 12 fits photo1 (21 x 24), multiple of 4
    BOOST_TEST(same(h.noisy[1], c.held_out().noisy[1])); // independent of the training seed
    const image photo1 = coded_photo(1, 3, 21, 24);
    BOOST_TEST(h.clean(0, 1, 0, 0) == photo1(1, 4, 6)); // centre crop: top (21-12)/2, left 6
    BOOST_CHECK_THROW(small_data(0, 4), value_error);   // nothing left to train on
}

BOOST_AUTO_TEST_CASE(photos_from_a_folder_and_bad_options) {
    patch_options o{.patch = 32, .batch = 2, .holdout = 1, .size_multiple = 4};
    // data/images: butterfly, cameraman, cat, squirrel, text_clean_opencv; one held out
    const patch_sampler s = patch_sampler::from_folder(XRESTORE_DATA_DIR "/images", o);
    BOOST_TEST(s.training_names().size() == 4U);
    BOOST_TEST(s.held_out().names.size() == 1U);
    BOOST_TEST(s.batch(0).clean.shape()[1] == 3U); // the gray cameraman is replicated
    BOOST_CHECK_THROW(patch_sampler::from_folder(XRESTORE_DATA_DIR "/no_such_folder", o), io_error);
    o.patch = 30; // not a multiple of 4
    BOOST_CHECK_THROW(patch_sampler::from_folder(XRESTORE_DATA_DIR "/images", o), value_error);
    o.patch = 4096; // larger than the photos
    o.size_multiple = 1;
    BOOST_CHECK_THROW(patch_sampler::from_folder(XRESTORE_DATA_DIR "/images", o), value_error);
}

BOOST_AUTO_TEST_CASE(the_loop_lowers_the_loss_and_records_the_run) {
    const patch_sampler data = small_data(1);
    tiny_net net;
    trainer<tiny_net> run(
        net, data,
        {.iterations = 60,
         .schedule = cosine_lr{.base_lr = 1e-2, .warmup_steps = 5, .total_steps = 60},
         .clip_norm = 1.0,
         .eval_every = 20});
    const training_log& log = run.run();
    BOOST_TEST(log.iterations.size() == 60U);
    BOOST_TEST(log.iterations[0].lr == 2e-3, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(log.evaluations.size() == 3U);
    BOOST_TEST(log.evaluations[2].iteration == 60);
    double first = 0.0;
    double last = 0.0;
    for (std::size_t k = 0; k < 10; ++k) {
        first += log.iterations[k].loss;
        last += log.iterations[50 + k].loss;
    }
    BOOST_TEST(last < 0.5 * first);
    BOOST_TEST(log.evaluations[2].psnr[0] > log.evaluations[0].psnr[0]);
}

BOOST_AUTO_TEST_CASE(a_resumed_run_is_bit_identical_to_an_uninterrupted_one) {
    const trainer_options base{.iterations = 12,
                               .schedule =
                                   cosine_lr{.base_lr = 1e-2, .warmup_steps = 2, .total_steps = 12},
                               .clip_norm = 0.5,
                               .eval_every = 4};
    const patch_sampler data = small_data(3);
    tiny_net straight;
    trainer<tiny_net> whole(straight, data, base);
    whole.run();
    for (const std::string name : {"half.pth", "half.safetensors"}) {
        scratch_dir dir("xrestore_trainer_");
        {
            tiny_net first_half;
            trainer_options o = base;
            std::atomic<bool> stop{false};
            o.stop = &stop;
            o.checkpoint = dir / name;
            o.on_iteration = [&](const step_record& r) { stop = r.iteration + 1 == 6; };
            trainer<tiny_net> half(first_half, data, o);
            BOOST_TEST(half.run().stopped);
            BOOST_TEST(half.iteration() == 6);
        }
        const patch_sampler fresh_data = small_data(3);
        tiny_net resumed_net; // fresh objects, same initialisation as a new run
        trainer<tiny_net> resumed(resumed_net, fresh_data, base);
        resumed.load_checkpoint(dir / name);
        BOOST_TEST(resumed.iteration() == 6);
        const training_log& log = resumed.run();
        BOOST_TEST(!log.stopped);
        std::vector<parameter<float>*> a = straight.parameters();
        std::vector<parameter<float>*> b = resumed_net.parameters();
        for (std::size_t k = 0; k < a.size(); ++k) {
            BOOST_TEST(std::equal(a[k]->value.begin(), a[k]->value.end(), b[k]->value.begin()),
                       a[k]->name << " after resuming from " << name);
        }
        BOOST_TEST(log.iterations.size() == 12U);
        for (std::size_t k = 0; k < 12; ++k) {
            BOOST_TEST(static_cast<float>(log.iterations[k].loss) ==
                       static_cast<float>(whole.log().iterations[k].loss));
        }
        BOOST_TEST(log.evaluations.size() == 3U);
        BOOST_TEST(static_cast<float>(log.evaluations[2].psnr[1]) ==
                   static_cast<float>(whole.log().evaluations[2].psnr[1]));
    }
}

BOOST_AUTO_TEST_CASE(checkpoints_of_another_run_are_refused) {
    scratch_dir dir("xrestore_trainer_");
    const patch_sampler data = small_data(3);
    tiny_net net;
    trainer<tiny_net> run(net, data, {.iterations = 4, .checkpoint = dir / "c.pth"});
    run.run();
    run.save_checkpoint(dir / "c.pth");
    const patch_sampler other_seed = small_data(4);
    tiny_net fresh;
    trainer<tiny_net> wrong_seed(fresh, other_seed, {.iterations = 4});
    BOOST_CHECK_THROW(wrong_seed.load_checkpoint(dir / "c.pth"), value_error);
    trainer<tiny_net> too_short(fresh, data, {.iterations = 3});
    BOOST_CHECK_THROW(too_short.load_checkpoint(dir / "c.pth"), value_error);
    BOOST_TEST(too_short.iteration() == 0);
    BOOST_CHECK_THROW(trainer<tiny_net>(fresh, data, {.iterations = 0}), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_train_trainer
