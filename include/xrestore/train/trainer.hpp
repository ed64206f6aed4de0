#pragma once
/// @file trainer.hpp
/// The training loop of a denoiser: at iteration t, batch t of a patch_sampler, the learning
/// rate of schedule step t, zero_grad, d = net.forward(noisy), the MSE of d against the clean
/// crops, net.backward, optional clip_grad_norm, one Adam step. `Net` is anything with the layer
/// shape of train/parameter.hpp (forward, backward, parameters), for instance a U-Net wrapped in
/// its residual call D(y) = y - s U((y - m_c)/s), so the loss is taken on the call's output.
/// Every `eval_every` iterations the held-out crops are denoised and scored (PSNR of the outputs
/// clipped to [0, 1], mean over the photos, per evaluation sigma). A checkpoint (.pth or
/// .safetensors, written atomically) holds the weights, Adam's state, the iteration, the
/// sampler's seed and the log; a trainer resumed from it continues bit-identically, because
/// batch t depends only on (seed, t) and every other state is in the file. The stop flag is read
/// before each iteration: when it is set the loop writes a checkpoint and returns.
///
/// @code
/// xrestore::train::trainer<net_type> run(net, data, {.iterations = 1000, .checkpoint = "c.pth"});
/// if (resume) run.load_checkpoint("c.pth");
/// const xrestore::train::training_log& log = run.run();   // log.iterations[t].loss, ...
/// @endcode
#include "xrestore/core/error.hpp"
#include "xrestore/io/pth_writer.hpp"
#include "xrestore/io/safetensors.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/io/weights.hpp"
#include "xrestore/train/adam.hpp"
#include "xrestore/train/clip.hpp"
#include "xrestore/train/losses.hpp"
#include "xrestore/train/lr_schedule.hpp"
#include "xrestore/train/parameter.hpp"
#include "xrestore/train/patches.hpp"
#include "xrestore/train/state.hpp"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::train {

/// One training iteration: its index, loss (before the step), learning rate and wall time.
struct step_record {
    std::int64_t iteration = 0;
    double loss = 0.0;
    double lr = 0.0;
    double seconds = 0.0;
};

/// One held-out evaluation, after `iteration` iterations: mean PSNR of the noisy and of the
/// denoised crops (both clipped to [0, 1]) for each evaluation sigma.
struct evaluation_record {
    std::int64_t iteration = 0;
    std::vector<double> psnr_noisy;
    std::vector<double> psnr;
};

/// What a run did (the records of a resumed run include those before the checkpoint).
struct training_log {
    std::vector<step_record> iterations;
    std::vector<evaluation_record> evaluations;
    bool stopped = false; ///< the stop flag ended the run early
};

/// The loop's settings.
struct trainer_options {
    std::int64_t iterations = 1000;           ///< total iterations, >= 1
    lr_schedule schedule = constant_lr{1e-3}; ///< learning rate of step t
    adam_options adam{};                      ///< lr is replaced by the schedule's
    double clip_norm = 0.0;                   ///< > 0: clip_grad_norm to it; 0: off
    std::int64_t eval_every = 0;              ///< > 0: evaluate every so many iterations
    std::int64_t checkpoint_every = 0;        ///< > 0: write the checkpoint that often
    std::filesystem::path checkpoint{};       ///< .pth or .safetensors; empty: none
    const std::atomic<bool>* stop = nullptr;  ///< read before each iteration
    std::function<void(const step_record&)> on_iteration{}; ///< after each iteration
    std::function<void(const evaluation_record&)> on_evaluation{};
};

namespace detail {

/// PSNR of x against a reference in [0, 1], x clipped to [0, 1] first: 10 log10(1 / mse).
inline double clipped_psnr(const float* reference, const float* x, std::size_t n) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double d =
            static_cast<double>(reference[i]) - static_cast<double>(std::clamp(x[i], 0.0F, 1.0F));
        sum += d * d;
    }
    const double mse = sum / static_cast<double>(n);
    return mse == 0.0 ? std::numeric_limits<double>::infinity() : -10.0 * std::log10(mse);
}

inline weight_tensor float_vector(const std::vector<double>& v, std::vector<std::size_t> shape) {
    weight_tensor t;
    t.shape = std::move(shape);
    t.values.assign(v.begin(), v.end());
    return t;
}

inline weight_tensor integer_vector(std::vector<std::int64_t> v) {
    weight_tensor t;
    t.stored_as = weight_dtype::int64;
    t.shape = {v.size()};
    t.integers = std::move(v);
    return t;
}

/// The float tensor `name` of `sd` as doubles, which must hold `n` values.
inline std::vector<double> take_values(const state_dict& sd, const std::string& name,
                                       std::size_t n) {
    const weight_tensor* t = sd.find(name);
    if (t == nullptr || t->is_integer() || t->values.size() != n) {
        throw value_error(xrestore::detail::describe(
            "trainer::load_checkpoint", "tensor '" + name + "'",
            std::to_string(n) + " floating-point values",
            t == nullptr ? std::string("none") : std::to_string(t->values.size()) + " values"));
    }
    return {t->values.begin(), t->values.end()};
}

} // namespace detail

/// Trains `Net` on a patch_sampler's batches (see the file comment).
template <class Net>
class trainer {
public:
    /// `net` and `data` must outlive the trainer. Throws value_error for bad options.
    trainer(Net& net, const patch_sampler& data, trainer_options options)
        : net_(net), data_(data), o_(std::move(options)), params_(net.parameters()),
          opt_(params_, o_.adam) {
        constexpr const char* where = "trainer";
        require(o_.iterations >= 1, where, "iterations", ">= 1", o_.iterations);
        require(std::isfinite(o_.clip_norm) && o_.clip_norm >= 0.0, where, "clip_norm",
                "finite and >= 0", o_.clip_norm);
        require(o_.eval_every >= 0, where, "eval_every", ">= 0", o_.eval_every);
        require(o_.checkpoint_every >= 0, where, "checkpoint_every", ">= 0", o_.checkpoint_every);
        (void)learning_rate(o_.schedule, 0); // checks the schedule
    }

    /// Run from the current iteration to `iterations` (or until the stop flag): the log of the
    /// whole run so far. Writes the checkpoint (if one is named) when stopped.
    const training_log& run() {
        using clock = std::chrono::steady_clock;
        log_.stopped = false;
        while (iteration_ < o_.iterations) {
            if (o_.stop != nullptr && o_.stop->load()) {
                log_.stopped = true;
                if (!o_.checkpoint.empty()) {
                    save_checkpoint(o_.checkpoint);
                }
                return log_;
            }
            const auto t0 = clock::now();
            const patch_batch b = data_.batch(static_cast<std::uint64_t>(iteration_));
            const double lr = learning_rate(o_.schedule, iteration_);
            opt_.set_lr(lr);
            zero_grad(params_);
            const tensor4<float> d = net_.forward(b.noisy);
            const loss_result<float> l = mse_loss(d, b.clean); // mean (D(y) - x)^2
            net_.backward(l.grad);
            if (o_.clip_norm > 0.0) {
                clip_grad_norm(params_, o_.clip_norm);
            }
            opt_.step();
            ++iteration_;
            const step_record r{iteration_ - 1, static_cast<double>(l.value), lr,
                                std::chrono::duration<double>(clock::now() - t0).count()};
            log_.iterations.push_back(r);
            if (o_.on_iteration) {
                o_.on_iteration(r);
            }
            if (o_.eval_every > 0 &&
                (iteration_ % o_.eval_every == 0 || iteration_ == o_.iterations)) {
                evaluate();
            }
            if (o_.checkpoint_every > 0 && !o_.checkpoint.empty() &&
                iteration_ % o_.checkpoint_every == 0) {
                save_checkpoint(o_.checkpoint);
            }
        }
        return log_;
    }

    /// Score the current net on the held-out crops (recorded in the log); an empty record
    /// without held-out photos.
    evaluation_record evaluate() {
        evaluation_record e{iteration_, {}, {}};
        const held_out_set& h = data_.held_out();
        if (h.empty()) {
            return e;
        }
        const std::size_t n = h.clean.shape()[0];
        const std::size_t per_image = h.clean.size() / n;
        for (const tensor4<float>& noisy : h.noisy) {
            const tensor4<float> d = net_.forward(noisy);
            double noisy_sum = 0.0;
            double sum = 0.0;
            for (std::size_t k = 0; k < n; ++k) {
                const float* clean = h.clean.data() + k * per_image;
                noisy_sum += detail::clipped_psnr(clean, noisy.data() + k * per_image, per_image);
                sum += detail::clipped_psnr(clean, d.data() + k * per_image, per_image);
            }
            e.psnr_noisy.push_back(noisy_sum / static_cast<double>(n));
            e.psnr.push_back(sum / static_cast<double>(n));
        }
        log_.evaluations.push_back(e);
        if (o_.on_evaluation) {
            o_.on_evaluation(e);
        }
        return e;
    }

    /// The checkpoint as named tensors: the parameters, Adam's state, "train.iteration",
    /// "train.seed" (int64) and the log ("train.log.loss", "train.log.lr", "train.log.seconds",
    /// "train.eval.iteration", "train.eval.psnr_noisy", "train.eval.psnr").
    [[nodiscard]] state_dict checkpoint_state() const {
        state_dict sd = to_state_dict(params_);
        opt_.save_state(sd);
        sd.insert("train.iteration", detail::count_tensor(iteration_));
        sd.insert("train.seed",
                  detail::count_tensor(static_cast<std::int64_t>(data_.options().seed)));
        const std::size_t n = log_.iterations.size();
        if (n > 0) {
            std::vector<double> loss, lr, seconds;
            for (const step_record& r : log_.iterations) {
                loss.push_back(r.loss);
                lr.push_back(r.lr);
                seconds.push_back(r.seconds);
            }
            sd.insert("train.log.loss", detail::float_vector(loss, {n}));
            sd.insert("train.log.lr", detail::float_vector(lr, {n}));
            sd.insert("train.log.seconds", detail::float_vector(seconds, {n}));
        }
        if (!log_.evaluations.empty()) {
            std::vector<std::int64_t> at;
            std::vector<double> noisy, denoised;
            for (const evaluation_record& e : log_.evaluations) {
                at.push_back(e.iteration);
                noisy.insert(noisy.end(), e.psnr_noisy.begin(), e.psnr_noisy.end());
                denoised.insert(denoised.end(), e.psnr.begin(), e.psnr.end());
            }
            const std::vector<std::size_t> shape{at.size(), data_.held_out().sigmas.size()};
            sd.insert("train.eval.iteration", detail::integer_vector(std::move(at)));
            sd.insert("train.eval.psnr_noisy", detail::float_vector(noisy, shape));
            sd.insert("train.eval.psnr", detail::float_vector(denoised, shape));
        }
        return sd;
    }

    /// Write checkpoint_state() to `path` (.safetensors, else a .pth), atomically.
    void save_checkpoint(const std::filesystem::path& path) const {
        const state_dict sd = checkpoint_state();
        if (path.extension() == ".safetensors") {
            write_safetensors(path, sd);
        } else {
            write_pth(path, sd);
        }
    }

    /// Continue from a checkpoint written by save_checkpoint: its parameters, Adam's state,
    /// iteration and log replace the current ones. value_error when the sampler's seed differs
    /// from the checkpoint's, the iteration exceeds `iterations`, or a tensor is missing or of
    /// another shape (nothing is changed then).
    void load_checkpoint(const std::filesystem::path& path) {
        const state_dict sd = load_weights(path);
        constexpr const char* where = "trainer::load_checkpoint";
        const std::int64_t seed = detail::take_count(sd, "train.seed", where);
        require(static_cast<std::uint64_t>(seed) == data_.options().seed, where,
                "the checkpoint's seed",
                "the sampler's (" + std::to_string(data_.options().seed) + ")", seed);
        const std::int64_t it = detail::take_count(sd, "train.iteration", where);
        require(it <= o_.iterations, where, "the checkpoint's iteration",
                "at most iterations (" + std::to_string(o_.iterations) + ")", it);
        training_log log;
        if (it > 0) {
            const auto n = static_cast<std::size_t>(it);
            const std::vector<double> loss = detail::take_values(sd, "train.log.loss", n);
            const std::vector<double> lr = detail::take_values(sd, "train.log.lr", n);
            const std::vector<double> seconds = detail::take_values(sd, "train.log.seconds", n);
            for (std::size_t k = 0; k < n; ++k) {
                log.iterations.push_back(
                    {static_cast<std::int64_t>(k), loss[k], lr[k], seconds[k]});
            }
        }
        if (const weight_tensor* at = sd.find("train.eval.iteration"); at != nullptr) {
            const std::size_t sigmas = data_.held_out().sigmas.size();
            const std::size_t count = at->integers.size();
            const std::vector<double> noisy =
                detail::take_values(sd, "train.eval.psnr_noisy", count * sigmas);
            const std::vector<double> denoised =
                detail::take_values(sd, "train.eval.psnr", count * sigmas);
            for (std::size_t k = 0; k < count; ++k) {
                const auto first = static_cast<std::ptrdiff_t>(k * sigmas);
                const auto last = static_cast<std::ptrdiff_t>((k + 1) * sigmas);
                log.evaluations.push_back({at->integers[k],
                                           {noisy.begin() + first, noisy.begin() + last},
                                           {denoised.begin() + first, denoised.begin() + last}});
            }
        }
        std::vector<xt::xarray<float>> before;
        for (const parameter<float>* p : params_) {
            before.push_back(p->value);
        }
        try {
            load_state_dict(params_, sd);
            opt_.load_state(sd);
        } catch (...) {
            for (std::size_t k = 0; k < params_.size(); ++k) {
                params_[k]->value = before[k];
            }
            throw;
        }
        iteration_ = it;
        log_ = std::move(log);
    }

    [[nodiscard]] std::int64_t iteration() const { return iteration_; }
    [[nodiscard]] const training_log& log() const { return log_; }
    [[nodiscard]] const trainer_options& options() const { return o_; }

private:
    Net& net_;
    const patch_sampler& data_;
    trainer_options o_;
    std::vector<parameter<float>*> params_;
    adam<float> opt_;
    std::int64_t iteration_ = 0;
    training_log log_;
};

} // namespace xrestore::train
